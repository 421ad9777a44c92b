"""History import (J1): which window to page, how a crash resumes, which calls get events.

The manual (§7, item 1) loads the calls "that were not created from the module for
some reason": a call whose id the database already holds is skipped, and so is one
the operator declined to record (its id is marked unimportant, A5). Features.md J1
and issue 6 add: every call no agent recorded goes into the journal
(``source: import``), but an event is created only for a call whose talk was longer
than G4, not marked unimportant, and without an event already.

Paging (phonet-api.md §2.3): ``company.api`` serves a ``timeFrom``/``timeTo`` window
on ``endAt``, newest first, by offset. After a page, every record newer than the
page's oldest ``endAt`` has been seen, so the window still to do shrinks to
``[time_from, oldest]`` (inclusive: records of that very millisecond come again,
which the merge by uuid makes harmless). That remaining window is the checkpoint
saved after each page; a run that dies mid-way resumes it.

Pure: times are arguments, no I/O (architecture.md, rule 1).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from agent.core.contacts import lookup_key
from agent.core.events import Direction, HistoryRecord
from agent.core.numbers import to_e164

# History may list a call a little after it ended (phonet-api.md §8: the lag is
# unknown; the phone's B4 checkpoint trails by 2 min). Each run starts this much
# before the last run's end; the merge by uuid makes the overlap free of duplicates.
OVERLAP = timedelta(minutes=15)
# G5: the event's number field holds at most 20 characters, the call id 40.
NUMBER_MAX = 20
CALL_ID_MAX = 40


class Skip(StrEnum):
    """Why a history record got no event (the counts a run reports)."""

    RECORDED = "recorded"  # an agent saw the call live: its own (B2's rules made its event)
    UNREADABLE = "unreadable"  # the PBX's record could not be read (no valid uuid, no time…)
    SHORT = "short"  # talk not longer than G4 (unanswered calls too)
    INTERNAL = "internal"  # between two extensions: no client to hold an event for
    UNIMPORTANT = "unimportant"  # the operator declined to record it (A5)
    HAS_EVENT = "has_event"  # an event for this call exists already


# ------------------------------------------------------------------ the window


@dataclass(frozen=True, slots=True)
class ImportWindow:
    """Records with ``time_from <= endAt <= time_to`` are still to page; when they are
    done, everything up to ``until`` is covered."""

    time_from: datetime
    time_to: datetime
    until: datetime


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """What the job has done: covered up to ``covered_until``; ``pending`` is the rest
    of a run that did not finish (resumed by the next run)."""

    covered_until: datetime | None = None
    pending: ImportWindow | None = None

    def to_json(self) -> dict[str, Any]:
        pending = self.pending
        return {
            "covered_until": _iso(self.covered_until),
            "pending": None
            if pending is None
            else {
                "from": _iso(pending.time_from),
                "to": _iso(pending.time_to),
                "until": _iso(pending.until),
            },
        }

    @classmethod
    def from_json(cls, data: object) -> Checkpoint:
        """A stored checkpoint; anything unreadable counts as none (the look-back
        then applies, and the merge by uuid keeps it harmless)."""
        if not isinstance(data, Mapping):
            return cls()
        covered = _parse(data.get("covered_until"))
        raw = data.get("pending")
        pending = None
        if isinstance(raw, Mapping):
            start, end, until = (
                _parse(raw.get("from")),
                _parse(raw.get("to")),
                _parse(raw.get("until")),
            )
            if start is not None and end is not None and until is not None:
                pending = ImportWindow(start, end, until)
        return cls(covered, pending)


def import_window(
    checkpoint: Checkpoint,
    *,
    now: datetime,
    lookback: timedelta,
    since: datetime | None = None,
    overlap: timedelta = OVERLAP,
) -> ImportWindow:
    """The window of the next run.

    An unfinished run is resumed; else the run starts ``overlap`` before the last
    covered moment; the first run ever looks back ``lookback``
    (team.history_lookback_days).

    ``since`` (the CLI's ``--since``) runs to now from that time, and never from later
    than the run it replaces would have started: a crashed run's rest, or the calls
    after the checkpoint, are in its window too. The checkpoint then moves to now, so
    whatever such a run left out would never be imported (issue 6, audit). An earlier
    ``since`` imports more; a later one changes nothing.
    """
    regular = _regular_window(checkpoint, now=now, lookback=lookback, overlap=overlap)
    if since is None:
        return regular
    start = min(since, now)
    if checkpoint.pending is None and checkpoint.covered_until is None:
        return ImportWindow(start, now, now)  # nothing owed yet: --since is the start
    return ImportWindow(
        min(start, regular.time_from), max(now, regular.time_to), max(now, regular.until)
    )


def _regular_window(
    checkpoint: Checkpoint, *, now: datetime, lookback: timedelta, overlap: timedelta
) -> ImportWindow:
    if checkpoint.pending is not None:
        return checkpoint.pending
    if checkpoint.covered_until is not None:  # however long ago: "since the checkpoint"
        start = checkpoint.covered_until - overlap
        return ImportWindow(min(start, now), now, now)
    return ImportWindow(now - lookback, now, now)


def after_page(window: ImportWindow, records: Iterable[HistoryRecord]) -> ImportWindow:
    """The window still to do once this page (newest first) is stored."""
    oldest = min((r.end_at for r in records), default=None)
    if oldest is None or oldest >= window.time_to:
        return window
    return ImportWindow(window.time_from, max(oldest, window.time_from), window.until)


def finished(window: ImportWindow) -> Checkpoint:
    return Checkpoint(covered_until=window.until, pending=None)


# ------------------------------------------------------------------ events


@dataclass(frozen=True, slots=True)
class CallEventDraft:
    """An event to create for an imported call (J1): the record, and what the rules made
    of it: its number in E.164 within G5's 20 characters, G3's operator. The rest is read
    off the record when asked: a run makes one a call (60k in bench/jobs.py), and their
    events want only the id, the number, the direction and the operators."""

    record: HistoryRecord
    number: str
    operator: str | None  # G3: the operator the extension maps to; None when unmapped
    key: str | None = None  # the number's contact index key (contacts.lookup_key)

    @property
    def call_uuid(self) -> str:
        return self.record.uuid[:CALL_ID_MAX]  # G5

    @property
    def direction(self) -> Direction:
        return self.record.direction

    @property
    def operator_ext(self) -> str:
        return self.record.ext or ""

    @property
    def talk_s(self) -> int:
        return self.record.talk_s

    @property
    def dial_at(self) -> datetime:
        return self.record.end_at - timedelta(seconds=self.record.duration_s)

    @property
    def end_at(self) -> datetime:
        return self.record.end_at

    @property
    def contact_name(self) -> str | None:
        name = self.record.name
        return name if name and name != (self.record.number or "") else None


def event_candidates(
    records: Iterable[HistoryRecord], *, completed_talk_s: int
) -> tuple[list[HistoryRecord], Counter[Skip]]:
    """Imported records that may get an event, before asking which already have one
    or were declined (the rules that need no database)."""
    chosen: list[HistoryRecord] = []
    # Counted as integers, not in the Counter: an enum member hashes in Python, and
    # every imported call passes here (100k a run in bench/jobs.py).
    internal_member = Direction.INTERNAL
    internal = short = 0
    for record in records:
        if record.direction is internal_member:
            internal += 1
        elif record.talk_s <= completed_talk_s:  # G4: «больше которого», strictly longer
            short += 1
        else:
            chosen.append(record)
    skipped: Counter[Skip] = Counter()
    if internal:
        skipped[Skip.INTERNAL] = internal
    if short:
        skipped[Skip.SHORT] = short
    return chosen, skipped


def plan_events(
    candidates: Iterable[HistoryRecord],
    *,
    unimportant: set[str],
    with_event: set[str],
    extension_users: Mapping[str, str],
    region: str,
) -> tuple[list[CallEventDraft], Counter[Skip]]:
    """The events to create, and why the others get none. A call both declined and
    with an event counts as declined (the operator's word comes first)."""
    drafts: list[CallEventDraft] = []
    skipped: Counter[Skip] = Counter()
    for record in candidates:
        if record.uuid in unimportant:
            skipped[Skip.UNIMPORTANT] += 1
        elif record.uuid in with_event:
            skipped[Skip.HAS_EVENT] += 1
        else:
            drafts.append(draft_for(record, extension_users=extension_users, region=region))
    return drafts, skipped


def draft_for(
    record: HistoryRecord, *, extension_users: Mapping[str, str], region: str
) -> CallEventDraft:
    raw = record.number or ""
    e164 = to_e164(raw, region)
    if e164 is not None:  # E.164 is its own index key: no second look at the number
        return CallEventDraft(record, e164, operator_for(record.ext or "", extension_users), e164)
    number = raw[:NUMBER_MAX]
    key = lookup_key(number, region) if number else None
    return CallEventDraft(record, number, operator_for(record.ext or "", extension_users), key)


def operator_for(ext: str, extension_users: Mapping[str, str]) -> str | None:
    """G3: the operator an extension's calls belong to; None when the table has no row."""
    name = extension_users.get(ext.strip()) if ext else None
    if not isinstance(name, str):
        return None
    return name.strip() or None


# ------------------------------------------------------------------ counts


def empty_counts() -> dict[str, int]:
    """The figures a history run reports (the window, the CLI and the run record)."""
    return {
        "pages": 0,
        "records": 0,
        "imported": 0,
        "events": 0,
        **{f"skipped_{reason.value}": 0 for reason in Skip},
    }


def add_skips(counts: dict[str, int], skipped: Counter[Skip]) -> None:
    for reason, n in skipped.items():
        counts[f"skipped_{reason.value}"] += n


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None
