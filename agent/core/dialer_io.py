"""What the dialer is fed and what it asks for (agent/core/dialer.py; architecture.md,
rule 3): facts in the past tense, requests in the imperative, all frozen."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from agent.core.dial_list import DialEntry
from agent.core.outcomes import Outcome
from agent.core.retry_rules import Decision

# ------------------------------------------------------------------ inputs (facts)


@dataclass(frozen=True, slots=True)
class OperatorStarted:
    list_id: int


@dataclass(frozen=True, slots=True)
class OperatorPaused:
    until: datetime | None  # None: until resumed


@dataclass(frozen=True, slots=True)
class OperatorResumed:
    pass


@dataclass(frozen=True, slots=True)
class OperatorStopped:
    pass


@dataclass(frozen=True, slots=True)
class OperatorSkipped:
    """The operator skipped the entry being called (the store marked it skipped)."""


@dataclass(frozen=True, slots=True)
class EntryPicked:
    entry: DialEntry


@dataclass(frozen=True, slots=True)
class NothingDue:
    """No entry may be dialled now; one may at ``wake_at`` (None: not by time alone)."""

    wake_at: datetime | None
    outside_hours: bool


@dataclass(frozen=True, slots=True)
class ListFinished:
    pass


@dataclass(frozen=True, slots=True)
class CallPlaced:
    attempt_id: int
    uuid: str
    started_at: datetime


@dataclass(frozen=True, slots=True)
class PlaceFailed:
    """makeCall did not give a uuid. ``attempt_id`` None: certainly no call (the
    attempt was never written, or was undone); else the PBX may have it."""

    attempt_id: int | None
    started_at: datetime
    retry_after: timedelta
    reason: str = ""


@dataclass(frozen=True, slots=True)
class PlaceRefused:
    """The PBX answered makeCall with a definite refusal (a 4xx other than the 403 the
    client re-authorises on): no call went out, but the attempt counts as failed and
    the failed-call retry rule postpones the entry (A6), so the list moves on."""

    attempt_id: int
    started_at: datetime
    reason: str = ""


@dataclass(frozen=True, slots=True)
class LineUp:
    uuid: str
    talking: bool


@dataclass(frozen=True, slots=True)
class LineGone:
    uuid: str


@dataclass(frozen=True, slots=True)
class OutcomeLearned:
    """B2: from the runtime's outcome listeners, once per finished call."""

    uuid: str
    outcome: Outcome
    talk_s: int
    provisional: bool = False


@dataclass(frozen=True, slots=True)
class AttemptRecovered:
    """An attempt with no outcome, found at start (after a crash: issue 5, item 8)."""

    attempt_id: int
    entry: DialEntry
    uuid: str | None
    started_at: datetime


@dataclass(frozen=True, slots=True)
class AttemptAlive:
    attempt_id: int
    uuid: str
    talking: bool


@dataclass(frozen=True, slots=True)
class AttemptResolved:
    attempt_id: int
    uuid: str
    outcome: Outcome
    talk_s: int
    provisional: bool = False


@dataclass(frozen=True, slots=True)
class AttemptVanished:
    attempt_id: int


@dataclass(frozen=True, slots=True)
class AttemptUnknown:
    attempt_id: int
    retry_at: datetime


@dataclass(frozen=True, slots=True)
class EventChecked:
    uuid: str
    open: bool


@dataclass(frozen=True, slots=True)
class EventClosed:
    uuid: str


@dataclass(frozen=True, slots=True)
class ListChanged:
    list_id: int


DialerInput = (
    OperatorStarted
    | OperatorPaused
    | OperatorResumed
    | OperatorStopped
    | OperatorSkipped
    | EntryPicked
    | NothingDue
    | ListFinished
    | CallPlaced
    | PlaceFailed
    | PlaceRefused
    | LineUp
    | LineGone
    | OutcomeLearned
    | AttemptRecovered
    | AttemptAlive
    | AttemptResolved
    | AttemptVanished
    | AttemptUnknown
    | EventChecked
    | EventClosed
    | ListChanged
)


# ------------------------------------------------------------------ effects (requests)


@dataclass(frozen=True, slots=True)
class PickEntry:
    list_id: int
    smart: bool


@dataclass(frozen=True, slots=True)
class PlaceCall:
    """Write the attempt, then makeCall (issue 5, item 8: in that order); feed back
    CallPlaced or PlaceFailed."""

    entry: DialEntry


@dataclass(frozen=True, slots=True)
class HangUp:
    uuid: str


@dataclass(frozen=True, slots=True)
class RecordOutcome:
    attempt_id: int
    entry: DialEntry
    uuid: str | None
    outcome: Outcome
    talk_s: int
    provisional: bool
    decision: Decision
    tried_at: datetime


@dataclass(frozen=True, slots=True)
class UndoAttempt:
    """No call went out: remove the attempt and give the entry back its state."""

    attempt_id: int
    entry: DialEntry
    started_at: datetime


@dataclass(frozen=True, slots=True)
class ResolveAttempt:
    attempt_id: int
    uuid: str | None
    number: str
    started_at: datetime


@dataclass(frozen=True, slots=True)
class CheckEvent:
    """A5: is the event of this call still open? Feed back EventChecked."""

    uuid: str


@dataclass(frozen=True, slots=True)
class RunState:
    """The mode a restart resumes. ``paused`` with no ``paused_until``: paused until the
    operator resumes (A2), which a restart keeps too."""

    running: bool
    list_id: int | None
    paused_until: datetime | None
    paused: bool = False


@dataclass(frozen=True, slots=True)
class SaveRun:
    """Persist the mode, so a restart resumes (issue 5, item 8)."""

    run: RunState


@dataclass(frozen=True, slots=True)
class Announce:
    """The dialer's view changed: the window, the tray and the hub redraw."""


DialerEffect = (
    PickEntry
    | PlaceCall
    | HangUp
    | RecordOutcome
    | UndoAttempt
    | ResolveAttempt
    | CheckEvent
    | SaveRun
    | Announce
)
