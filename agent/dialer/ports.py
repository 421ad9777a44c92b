"""What the dialer needs from other areas, as small Protocols (wave2 notes).

Contacts and events (issue 4) and the robot import (issue 6) grow beside the
dialer; it codes against these and the composition root hands it the real ones
(agent/dialer/contacts_adapter.py). Without them the dialer still works: numbers
go in without a contact, the extra sort field and ABC sort find no values, and no
event gates the next call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class ContactRef:
    """A contact as the dial list shows it (M6: contact, detail, sort field)."""

    id: int
    name: str
    detail: str | None = None  # the kind of number or the contact person (manual §3)
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ContactPhones:
    contact: ContactRef
    numbers: tuple[tuple[str, str | None], ...]  # (E.164, detail)


@dataclass(frozen=True, slots=True)
class PlannedCall:
    """A planned event to call back (M6 «Заполнить из запланированных», B11 robot answers)."""

    number: str
    planned_at: datetime | None
    event_id: str
    contact: ContactRef | None = None
    kind: str = "planned"  # "planned" | "robot"


class ContactDirectory(Protocol):
    async def match_numbers(
        self, numbers: Sequence[str], *, full: bool = False
    ) -> dict[str, ContactRef]:
        """The contact of each E.164 number that has one (imports: one batch). Without
        ``full`` only id and name are filled (a 100k-row import needs no more)."""
        ...

    async def contacts(self, ids: Sequence[int]) -> dict[int, ContactPhones]: ...

    async def abc_classes(self, ids: Sequence[int]) -> dict[int, str]:
        """ "A", "B" or "C" per contact that has a class (M6 ABC sort)."""
        ...

    async def planned_calls(
        self, until: datetime, robot_only: bool = False, operator_ext: str | None = None
    ) -> list[PlannedCall]:
        """Open planned events due by ``until``, soonest first. With ``operator_ext``, only
        that operator's events and those of no operator (manual §6: an operator fills
        their own list); without it, the whole team's."""
        ...


EventListener = Callable[[str, bool], None]  # (call uuid, saved)


class EventGate(Protocol):
    """A5: the event made on answer, and when it is closed."""

    async def is_open(self, call_uuid: str) -> bool:
        """Is an event of this call open (made, not yet saved or declined)?"""
        ...

    def add_close_listener(self, listener: EventListener) -> None: ...


class NoContacts:
    """The directory before issue 4's contacts are wired: knows nobody."""

    async def match_numbers(
        self, numbers: Sequence[str], *, full: bool = False
    ) -> dict[str, ContactRef]:
        return {}

    async def contacts(self, ids: Sequence[int]) -> dict[int, ContactPhones]:
        return {}

    async def abc_classes(self, ids: Sequence[int]) -> dict[int, str]:
        return {}

    async def planned_calls(
        self, until: datetime, robot_only: bool = False, operator_ext: str | None = None
    ) -> list[PlannedCall]:
        return []


class NoEvents:
    """No event ever gates the next call."""

    async def is_open(self, call_uuid: str) -> bool:
        return False

    def add_close_listener(self, listener: EventListener) -> None:
        pass
