"""What the jobs need of the contacts and events area (issue 4), as one small port.

J1 asks, per page, which imported calls were declined (A5) or have an event, and
creates events for the rest in one batch; J2 creates planned events for robot
answers, each for the contact found by number (or a new one). :class:`JobEvents`
is that port, batch-shaped so a page of 50 calls costs a few queries, not 150.
:class:`ContactsEvents` is it over the area's services (``services.contacts``,
``services.events``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from agent.core.call_events import EventDraft, EventSource, EventState, ImportedCallEvent
from agent.core.history_plan import CallEventDraft
from agent.core.robot_plan import RobotEventDraft
from agent.storage.events_repo import EventsRepository

if TYPE_CHECKING:
    from agent.storage.database import Storage


class JobEvents(Protocol):
    async def declined_or_with_event(self, uuids: Sequence[str]) -> tuple[set[str], set[str]]:
        """(uuids marked unimportant, uuids with an event) among these call uuids."""
        ...

    async def create_call_events(self, drafts: Sequence[CallEventDraft]) -> int:
        """J1: one event per draft (source ``import``); how many were made."""
        ...

    async def has_event_for(self, ref: str) -> bool:
        """Whether an event holds this call id (J2: ``robot:<id>``)."""
        ...

    async def create_robot_event(self, draft: RobotEventDraft) -> int | None:
        """J2: a planned event for the contact with this number (made when none);
        the event's id."""
        ...


# ------------------------------------------------------------------ the area's services


class _ContactsRepository(Protocol):
    def ids_by_keys(self, keys: Iterable[str]) -> dict[str, list[tuple[int, str]]]: ...


class _Contact(Protocol):
    @property
    def id(self) -> int | None: ...


class _Event(Protocol):
    @property
    def id(self) -> int: ...


class ContactServicePort(Protocol):
    @property
    def storage(self) -> Storage: ...

    @property
    def repo(self) -> _ContactsRepository: ...

    @property
    def region(self) -> str: ...

    async def find_or_create_contact(
        self, number: str, name: str | None = None, *, company: str | None = None
    ) -> Any: ...


class EventServicePort(Protocol):
    async def create_event(self, draft: EventDraft) -> Any: ...
    async def create_imported_call_events(self, events: Sequence[ImportedCallEvent]) -> int: ...
    async def has_event_for(self, call_uuid: str) -> bool: ...


class ContactsEvents:
    """:class:`JobEvents` over the contacts area's services.

    J1's events are records of past calls: kind ``call``, state ``saved``, source
    ``import``, the extension as the operator (G3's name in ``fields.operator``),
    linked to the number's existing contact (one query a page; J1 makes no
    contacts). J2's are planned events: source ``robot``, the robot identity as the
    operator, the DTMF code's importance, planned at the robot's call time (the
    callback queue serves the earliest answers first), for the number's contact or
    a new one.
    """

    def __init__(self, contacts: ContactServicePort, events: EventServicePort) -> None:
        self.contacts = contacts
        self.events = events
        # J1 asks both questions of every page: one trip to the storage worker, not two
        # (the event service's unimportant_among and calls_with_events ask these).
        self._events_repo = EventsRepository(contacts.storage.db)

    async def declined_or_with_event(self, uuids: Sequence[str]) -> tuple[set[str], set[str]]:
        repo = self._events_repo

        def ask() -> tuple[set[str], set[str]]:
            declined = repo.unimportant_among(uuids)
            rest = [u for u in uuids if u not in declined]
            return declined, repo.calls_with_events(rest) if rest else set()

        return await self.contacts.storage.run(ask)

    async def create_call_events(self, drafts: Sequence[CallEventDraft]) -> int:
        if not drafts:
            return 0
        wanted = {d.key for d in drafts if d.key}
        found = await self.contacts.storage.run(self.contacts.repo.ids_by_keys, wanted)
        # The call's figures stay in the journal (by call_uuid); the event adds G3's name.
        return await self.events.create_imported_call_events(
            [
                ImportedCallEvent(
                    d.call_uuid,
                    d.number or None,
                    _first(found.get(d.key)) if d.key else None,
                    d.operator_ext,
                    d.direction._value_,  # ``.value`` is a Python-level property: 60k a run
                    d.operator,
                )
                for d in drafts
            ]
        )

    async def has_event_for(self, ref: str) -> bool:
        return bool(await self.events.has_event_for(ref))

    async def create_robot_event(self, draft: RobotEventDraft) -> int | None:
        contact = await self.contacts.find_or_create_contact(draft.number)
        event = await self.events.create_event(
            EventDraft(
                operator_ext=draft.operator,
                call_uuid=draft.ref,
                number=draft.number,
                contact_id=getattr(contact, "id", None),
                direction="out",
                importance=draft.importance,
                planned_at=draft.called_at,
                notes=f"DTMF {draft.dtmf}",
                fields={"robot_call_id": draft.robot_call_id, "dtmf": draft.dtmf},
                state=EventState.SAVED,
                source=EventSource.ROBOT,
            )
        )
        found = getattr(event, "id", None)
        return found if isinstance(found, int) else None


def _first(ids: list[tuple[int, str]] | None) -> int | None:
    return ids[0][0] if ids else None
