"""Facts the core is fed: what the PBX, the operator and the clock said.

Events are past-tense frozen dataclasses (architecture.md, rule 3). Phonet's wire
names (``call.dial``…) never leave ``agent/phonet/wire.py``; here a call is a
:class:`CallInfo` snapshot plus what happened to it.

Times are timezone-aware UTC datetimes. Uuids are normalised by
:func:`normalise_uuid` (lower-case, no dashes): the live stream sends 32 hex
characters, history the dashed 36-character form (phonet-api.md §4.5).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Direction(StrEnum):
    """Direction of a call seen from the operator's extension (phonet-api.md §2.9)."""

    IN = "in"
    OUT = "out"
    INTERNAL = "internal"


def normalise_uuid(value: str) -> str:
    """Phonet sends one call id dashed or not; compare them as one (contracts.md §3)."""
    return value.strip().replace("-", "").lower()


@dataclass(frozen=True, slots=True)
class CallInfo:
    """What the PBX says about one call at one moment.

    ``ext`` is the operator's own extension on this call; ``number`` is the other
    party: E.164 for an external call, the other extension for an internal one.
    ``outgoing`` is True when the operator's side started the call (out, or the
    calling leg of an internal call): it decides "dial" vs "ring" (C3).
    """

    uuid: str
    direction: Direction
    ext: str
    number: str
    outgoing: bool
    dial_at: datetime
    answer_at: datetime | None = None
    name: str | None = None
    company: str | None = None
    parent_uuid: str | None = None
    trunk: str | None = None


# --------------------------------------------------------------------- PBX


@dataclass(frozen=True, slots=True)
class CallDialed:
    """A call appeared: the operator dials out, or the phone rings (``call.dial``)."""

    call: CallInfo
    at: datetime


@dataclass(frozen=True, slots=True)
class CallAnswered:
    """Both sides talk now (``call.bridge``)."""

    call: CallInfo
    at: datetime


@dataclass(frozen=True, slots=True)
class CallHungUp:
    """The call ended (``call.hangup``); the live frame carries no outcome (B2)."""

    call: CallInfo
    at: datetime


@dataclass(frozen=True, slots=True)
class PauseSwitched:
    """The PBX put the extension on pause or took it off (lgDirection 32/64; U4, B12)."""

    ext: str
    on: bool
    at: datetime


CallEvent = CallDialed | CallAnswered | CallHungUp
PbxEvent = CallDialed | CallAnswered | CallHungUp | PauseSwitched


@dataclass(frozen=True, slots=True)
class HistoryRecord:
    """One completed call from ``/rest/calls/*.api`` (phonet-api.md §2.3).

    History has no start time: ``dial_at`` is ``end_at - duration_s`` and
    ``answer_at`` is ``end_at - talk_s`` when there was talk.
    """

    uuid: str
    direction: Direction
    end_at: datetime
    duration_s: int
    talk_s: int
    disposition: int
    ext: str | None
    ext2: str | None
    number: str | None
    name: str | None
    parent_uuid: str | None = None
    audio_url: str | None = None
    trunk: str | None = None
    transfer_history: str | None = None


# --------------------------------------------------------------- the link


@dataclass(frozen=True, slots=True)
class LinkUp:
    """The live stream is connected."""

    at: datetime


@dataclass(frozen=True, slots=True)
class LinkDown:
    """The live stream was lost (or never came up); ``reason`` is for the log and health."""

    at: datetime
    reason: str
