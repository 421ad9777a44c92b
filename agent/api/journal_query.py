"""The journal as the window filters, exports and counts it (M3, B8).

Queries over the ``calls`` table that the journal repository does not offer: a page
filtered by date, direction, outcome, operator and number; the same rows streamed in
pages for the xlsx export; and the "Completed calls" report by operator and day.
Functions whose names end in ``_sync`` run on the storage worker thread
(``storage.run(fn, storage.db, …)``), like repository methods.

A page is ordered newest ``end_at`` first with ``uuid`` breaking ties, the order of
the ``calls_end_at`` index, so the newest pages of a million calls cost about the same
as of a thousand (bench/webui.py). ``total`` is counted only up to
:data:`COUNT_CAP`, or :data:`FILTERED_COUNT_CAP` under a filter no index covers
(contracts.md §4: "total may be null where counting is costly").
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any, Final

import peewee as pw

from agent.core.errors import InvalidInput
from agent.core.events import Direction
from agent.core.journal import JournalEntry, Source
from agent.core.numbers import to_e164
from agent.core.outcomes import Outcome
from agent.storage.models import CallRow

COUNT_CAP: Final = 10_000
FILTERED_COUNT_CAP: Final = 1_000
"""With a filter no index covers (direction, outcome, a number fragment) each counted
row is a table lookup: the count stops sooner, and a longer result says "of many"."""
MAX_PAGE: Final = 500
EXPORT_BATCH: Final = 2_000
EXPORT_MAX_ROWS: Final = 1_000_000  # an xlsx sheet holds 1,048,576 rows
_DIGITS = re.compile(r"\D+")

_FIELDS: Final = (
    CallRow.uuid,
    CallRow.direction,
    CallRow.number,
    CallRow.operator_ext,
    CallRow.dial_at,
    CallRow.answer_at,
    CallRow.end_at,
    CallRow.talk_s,
    CallRow.duration_s,
    CallRow.disposition,
    CallRow.outcome,
    CallRow.recording_url,
    CallRow.contact_id,
    CallRow.contact_name,
    CallRow.parent_uuid,
    CallRow.trunk,
    CallRow.source,
    CallRow.final,
)


@dataclass(frozen=True, slots=True)
class JournalFilter:
    """What the Journal page filters by; every field optional (None: any)."""

    since: datetime | None = None  # end_at >= since
    until: datetime | None = None  # end_at < until
    direction: Direction | None = None
    outcome: Outcome | None = None
    operator_ext: str | None = None
    number: str | None = None  # E.164 (exact) or digits (contained)
    numbers_exact: tuple[str, ...] = field(default=())

    @property
    def count_cap(self) -> int:
        unindexed = self.direction or self.outcome or (self.number and not self.numbers_exact)
        return FILTERED_COUNT_CAP if unindexed else COUNT_CAP

    def conditions(self) -> list[pw.Expression]:
        where: list[pw.Expression] = [CallRow.end_at.is_null(False)]
        if self.since is not None:
            where.append(CallRow.end_at >= self.since)
        if self.until is not None:
            where.append(CallRow.end_at < self.until)
        if self.direction is not None:
            where.append(CallRow.direction == self.direction.value)
        if self.outcome is not None:
            where.append(CallRow.outcome == self.outcome.value)
        if self.operator_ext is not None:
            where.append(CallRow.operator_ext == self.operator_ext)
        if self.numbers_exact:
            where.append(CallRow.number.in_(list(self.numbers_exact)))
        elif self.number:
            where.append(CallRow.number.contains(self.number))
        return where


def number_filter(text: str | None, region: str) -> tuple[str | None, tuple[str, ...]]:
    """(digits to look for inside numbers, exact numbers) for what the operator typed.

    A whole number matches exactly, through the ``calls_number_end_at`` index, as
    E.164 or as typed (internal calls keep the other extension); a fragment matches
    any number that contains its digits.
    """
    if not text or not text.strip():
        return None, ()
    typed = text.strip()
    digits = _DIGITS.sub("", typed)
    e164 = to_e164(typed, region) if len(digits) >= 7 else None
    if e164:
        return None, tuple(dict.fromkeys((e164, typed)))
    if not digits:
        raise InvalidInput("the number filter needs digits", field="number")
    return digits, ()


_NAMES: Final = tuple(f.name for f in _FIELDS)


def _entry(row: tuple[Any, ...]) -> JournalEntry:
    values = dict(zip(_NAMES, row, strict=True))
    values["direction"] = Direction(values["direction"])
    values["outcome"] = Outcome(values["outcome"]) if values["outcome"] else None
    values["source"] = Source(values["source"])
    values["final"] = bool(values["final"])
    return JournalEntry(**values)


def page_sync(
    db: pw.Database, flt: JournalFilter, *, limit: int, offset: int
) -> tuple[list[JournalEntry], int | None]:
    """One page, newest first, and the total when it is cheap to know."""
    limit = max(1, min(limit, MAX_PAGE))
    where = flt.conditions()
    query = (
        CallRow.select(*_FIELDS)
        .where(*where)
        .order_by(CallRow.end_at.desc(), CallRow.uuid.desc())
        .limit(limit)
        .offset(offset)
    )
    items = [_entry(row) for row in query.tuples().execute(db)]
    if 0 < len(items) < limit or (offset == 0 and not items):
        return items, offset + len(items)
    cap = flt.count_cap
    capped = CallRow.select(pw.SQL("1")).where(*where).limit(cap + 1)
    count = int(pw.Select([capped.alias("capped")], [pw.fn.COUNT(pw.SQL("*"))]).scalar(db))
    return items, count if count <= cap else None


def export_batch_sync(
    db: pw.Database,
    flt: JournalFilter,
    after: tuple[datetime, str] | None,
    size: int = EXPORT_BATCH,
) -> list[JournalEntry]:
    """The next ``size`` rows after the keyset ``after`` = (end_at, uuid)."""
    where = flt.conditions()
    if after is not None:
        end_at, uuid = after
        where.append(
            (CallRow.end_at < end_at) | ((CallRow.end_at == end_at) & (CallRow.uuid < uuid))
        )
    query = (
        CallRow.select(*_FIELDS)
        .where(*where)
        .order_by(CallRow.end_at.desc(), CallRow.uuid.desc())
        .limit(size)
    )
    return [_entry(row) for row in query.tuples().execute(db)]


def export_rows(storage: Any, flt: JournalFilter) -> Iterator[JournalEntry]:
    """Every matching row, newest first, fetched in batches through ``storage.call``.

    For a thread other than the loop's and the worker's (the xlsx writer): each
    batch is one short job on the worker, so the agent's own writes go between them.
    """
    after: tuple[datetime, str] | None = None
    sent = 0
    while sent < EXPORT_MAX_ROWS:
        batch = storage.call(export_batch_sync, storage.db, flt, after)
        yield from batch
        sent += len(batch)
        if len(batch) < EXPORT_BATCH:
            return
        last = batch[-1]
        assert last.end_at is not None
        after = (last.end_at, last.uuid)


# ------------------------------------------------------------------ the report


@dataclass
class Tally:
    calls: int = 0
    completed: int = 0
    talk_s: int = 0

    def add(self, outcome: str | None, talk_s: int) -> None:
        self.calls += 1
        if outcome == Outcome.ANSWERED.value:  # talk exceeded G4 (B17: else not_reached)
            self.completed += 1
            self.talk_s += talk_s or 0

    def as_json(self) -> dict[str, int]:
        return {"calls": self.calls, "completed": self.completed, "talk_s": self.talk_s}


@dataclass
class CompletedReport:
    """Completed calls (talk longer than G4) per operator and local day (M3)."""

    days: list[date]
    by_operator: dict[str, dict[date, Tally]]
    totals: dict[str, Tally]
    by_day: dict[date, Tally]
    total: Tally


def completed_report_sync(
    db: pw.Database, flt: JournalFilter, zone: tzinfo, days: list[date]
) -> CompletedReport:
    """Counts every finished call of the filter into (operator, local day)."""
    report = CompletedReport(
        days=days, by_operator=defaultdict(dict), totals={}, by_day={}, total=Tally()
    )
    query = (
        CallRow.select(CallRow.operator_ext, CallRow.end_at, CallRow.outcome, CallRow.talk_s)
        .where(*flt.conditions())
        .tuples()
    )
    for ext, end_at, outcome, talk_s in query.iterator(db):
        day = end_at.astimezone(zone).date()
        tallies = report.by_operator[ext]
        tallies.setdefault(day, Tally()).add(outcome, talk_s)
        report.totals.setdefault(ext, Tally()).add(outcome, talk_s)
        report.by_day.setdefault(day, Tally()).add(outcome, talk_s)
        report.total.add(outcome, talk_s)
    return report
