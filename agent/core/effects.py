"""Requests the core makes of the world (architecture.md, rule 3).

Effects are imperative frozen dataclasses. The runtime executes them and feeds
back what came of them as events; the core never waits for one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from agent.core.events import HistoryRecord
from agent.core.journal import JournalEntry, Source
from agent.core.popups import Popup


@dataclass(frozen=True, slots=True)
class ShowPopup:
    popup: Popup


@dataclass(frozen=True, slots=True)
class StoreCall:
    """Write this journal row (insert or replace by uuid)."""

    entry: JournalEntry


@dataclass(frozen=True, slots=True)
class StoreHistory:
    """Merge these PBX history records into the journal, each once (B4).

    Rows already final are left alone; missing ones are added with ``source``.
    """

    records: tuple[HistoryRecord, ...]
    source: Source


class FetchPurpose(StrEnum):
    FINALISE = "finalise"  # B2: the figures of calls that just ended
    RECONCILE = "reconcile"  # B4: every call of the gap while the link was down


@dataclass(frozen=True, slots=True)
class FetchHistory:
    """Page through ``company.api`` over this window and feed back what came."""

    time_from: datetime
    time_to: datetime
    purpose: FetchPurpose


@dataclass(frozen=True, slots=True)
class FetchActiveCalls:
    """Ask the PBX which calls are up now (after a reconnect).

    ``seq`` marks how far the core had got when it asked: a call the live stream
    moved after that is newer than the answer and is not judged by it.
    """

    seq: int = 0


@dataclass(frozen=True, slots=True)
class SaveCheckpoint:
    """Every call up to this moment is in the journal (the start of the next gap)."""

    covered_until: datetime


@dataclass(frozen=True, slots=True)
class AnnounceOutcome:
    """A call's outcome is known (B2): the dialer and missed-call handling listen."""

    entry: JournalEntry
    provisional: bool  # True when the PBX's disposition did not come in time


@dataclass(frozen=True, slots=True)
class SwitchDnd:
    """Dial the operator's DND combination (U4): the PBX toggles the pause and
    its pause event (lgDirection 32/64) is the truth (B12)."""

    on: bool


@dataclass(frozen=True, slots=True)
class StateChanged:
    """Lines, DND or link changed: the tray and the window redraw."""


Effect = (
    ShowPopup
    | StoreCall
    | StoreHistory
    | FetchHistory
    | FetchActiveCalls
    | SaveCheckpoint
    | AnnounceOutcome
    | SwitchDnd
    | StateChanged
)
