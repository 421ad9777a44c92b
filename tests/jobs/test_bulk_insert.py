"""The history import's bulk writes (J1, issue 6; BENCHMARKS.md "jobs"): journal rows and
events go in as multi-row statements (agent/storage/repositories.py ``insert_rows``), and
every row is stored once, whatever the count, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from agent.core.call_events import EventDraft, EventSource, EventState, ImportedCallEvent
from agent.core.errors import InvalidInput
from agent.core.events import Direction, HistoryRecord
from agent.core.journal import JournalEntry, Source
from agent.storage.database import Storage
from agent.storage.events_repo import EventsRepository
from agent.storage.jobs_repository import IMPORT_COLUMNS, JobsRepository, import_row
from agent.storage.models import utc_text
from agent.storage.repositories import CALL_COLUMN_NAMES, call_row
from tests.jobs.support import uuid_of

NOW = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)

# Around SQLite's statement sizes (2048, 1024, … 1 rows, at most 8192 values: 512 call
# rows of 15 columns) and PostgreSQL's page (1000).
COUNTS = [1, 3, 255, 511, 512, 513, 1000, 1001, 1025]


def record(i: int, *, end_at: datetime = NOW, talk_s: int = 30) -> HistoryRecord:
    return HistoryRecord(
        uuid=uuid_of(i),
        direction=Direction.OUT,
        end_at=end_at - timedelta(seconds=i),
        duration_s=talk_s + 5,
        talk_s=talk_s,
        disposition=0 if talk_s else 1,
        ext=f"{i % 20:03d}",
        ext2=None,
        number=f"+38044{i:07d}",
        name=None,
    )


def stored_rows(storage: Storage) -> list[tuple[object, ...]]:
    """The stored journal rows, as :func:`import_row` makes them (IMPORT_COLUMNS)."""
    entries = storage.journal.get_many(uuid_of(i) for i in range(1, 1200))
    columns = [CALL_COLUMN_NAMES.index(c) for c in IMPORT_COLUMNS]
    return sorted(tuple(call_row(e)[i] for i in columns) for e in entries.values())


def imported(storage: Storage) -> set[tuple[object, ...]]:
    """(contact_id, source, final) of every stored row."""
    entries = storage.journal.get_many(uuid_of(i) for i in range(1, 1200)).values()
    return {(e.contact_id, e.source, e.final) for e in entries}


@pytest.mark.parametrize("count", COUNTS)
async def test_every_imported_row_is_stored_once_whatever_the_count_j1(
    storage: Storage, count: int
) -> None:
    repo = JobsRepository(storage.db)
    rows = [import_row(record(i), 10) for i in range(1, count + 1)]

    assert await storage.run(repo.insert_call_rows, rows) == count

    assert await storage.run(storage.journal.count) == count
    assert await storage.run(stored_rows, storage) == sorted(rows)
    assert await storage.run(imported, storage) == {(None, Source.IMPORT, True)}


async def test_a_bulk_insert_leaves_the_rows_already_there_as_they_are_j1(
    storage: Storage,
) -> None:
    repo = JobsRepository(storage.db)
    rows = [import_row(record(i), 10) for i in range(1, 301)]
    live = JournalEntry(
        uuid=uuid_of(150),
        direction=Direction.IN,
        number="+380441112233",
        operator_ext="001",
        dial_at=NOW - timedelta(minutes=5),
        source=Source.LIVE,
    )
    await storage.run(storage.journal.upsert, live)

    await storage.run(repo.insert_call_rows, rows)

    kept = await storage.run(storage.journal.get, uuid_of(150))
    assert kept == live
    assert await storage.run(storage.journal.count) == 300
    stored = await storage.run(stored_rows, storage)
    assert [r for r in stored if r[0] != uuid_of(150)] == sorted(
        r for r in rows if r[0] != uuid_of(150)
    )


@pytest.mark.parametrize("limit", [100, 999])
async def test_sqlite_statements_stay_within_its_variable_limit(tmp_path: Path, limit: int) -> None:
    """SQLITE_MAX_VARIABLE_NUMBER is 32766 since SQLite 3.32 and 999 before (18 columns:
    100 values take 4 rows a statement)."""
    storage = Storage(f"sqlite:///{tmp_path}/limit.db")
    await storage.start()
    try:

        def set_limit(value: int) -> int:
            connection = storage.db.connection()
            return int(connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, value))

        usual = await storage.run(set_limit, limit)
        repo = JobsRepository(storage.db)
        rows = [import_row(record(i), 10) for i in range(1, 301)]
        await storage.run(repo.insert_call_rows, rows)
        await storage.run(set_limit, usual)  # the check reads 500 uuids at a time
        assert await storage.run(stored_rows, storage) == sorted(rows)
    finally:
        await storage.close()


def test_an_import_row_writes_a_whole_second_with_its_fraction() -> None:
    row = import_row(record(0, end_at=datetime(2025, 3, 3, 12, 0, 7, tzinfo=UTC)), 10)

    dial_at, answer_at, end_at = row[4:7]
    assert end_at == utc_text(datetime(2025, 3, 3, 12, 0, 7, tzinfo=UTC))
    assert end_at == "2025-03-03T12:00:07.000000+00:00"
    assert answer_at == "2025-03-03T11:59:37.000000+00:00"
    assert dial_at == "2025-03-03T11:59:32.000000+00:00"


def test_an_import_rows_times_are_utc_texts_across_minutes_days_and_years() -> None:
    # import_row puts its times together from memos of minutes and fractions (bounded):
    # more minutes than they hold, over a leap day, a year's end and the epoch.
    ends = [
        datetime(2024, 2, 29, 23, 58, 1, 999_999, tzinfo=UTC),
        datetime(2025, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
        datetime(1970, 1, 1, 0, 1, 5, tzinfo=UTC),
        *(NOW + timedelta(seconds=37 * n, microseconds=n) for n in range(0, 900_000, 97)),
    ]
    for i, end in enumerate(ends):
        for talk_s, extra_s in ((0, 0), (30, 7), (59, 1), (3600, 61)):
            row = import_row(
                replace(record(i, end_at=end, talk_s=talk_s), duration_s=talk_s + extra_s), 10
            )
            end_at = end - timedelta(seconds=i)
            assert row[4:7] == (
                utc_text(end_at - timedelta(seconds=talk_s + extra_s)),
                utc_text(end_at - timedelta(seconds=talk_s)) if talk_s else None,
                utc_text(end_at),
            )


def test_an_import_rows_times_are_in_utc_whatever_zone_the_record_gives() -> None:
    kyiv = timezone(timedelta(hours=2))
    row = import_row(record(0, end_at=datetime(2025, 3, 3, 14, 0, 7, 250_000, tzinfo=kyiv)), 10)
    assert row[4:7] == (
        "2025-03-03T11:59:32.250000+00:00",
        "2025-03-03T11:59:37.250000+00:00",
        "2025-03-03T12:00:07.250000+00:00",
    )


def test_an_import_row_refuses_a_naive_time_as_the_journal_does() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        import_row(record(0, end_at=datetime(2025, 3, 3, 12, 0, 7)), 10)


def test_an_import_row_refuses_a_uuid_that_is_no_call_id() -> None:
    for uuid in ("A" * 32, "a" * 31, "a" * 33, "g" * 32, " " + "a" * 31, "a" * 30 + "-a"):
        with pytest.raises(InvalidInput, match="32 lower-case hex"):
            import_row(replace(record(1), uuid=uuid), 10)


@pytest.mark.parametrize("count", [1, 257, 1001])
async def test_events_made_in_bulk_are_each_stored_with_their_own_id_j1(
    storage: Storage, count: int
) -> None:
    repo = EventsRepository(storage.db)
    drafts = [
        EventDraft(
            operator_ext=f"{i % 20:03d}",
            call_uuid=uuid_of(i),
            number=f"+38044{i:07d}",
            direction="out",
            fields={"operator": "Olena"} if i % 2 else {},
            state=EventState.SAVED,
            source=EventSource.IMPORT,
        )
        for i in range(1, count + 1)
    ]
    first = await storage.run(repo.insert_many, drafts[:1], NOW)

    ids = await storage.run(repo.insert_many, drafts, NOW)

    assert len(set(ids)) == count and min(ids) > first[0]
    for event_id, draft in [(ids[0], drafts[0]), (ids[-1], drafts[-1])]:
        event = await storage.run(repo.get, event_id)
        assert event is not None
        assert (event.call_uuid, event.number, event.operator_ext, dict(event.fields)) == (
            draft.call_uuid,
            draft.number,
            draft.operator_ext,
            dict(draft.fields),
        )
        assert (event.state, event.source, event.created_at) == (
            EventState.SAVED,
            EventSource.IMPORT,
            NOW,
        )
    made = await storage.run(repo.calls_with_events, [d.call_uuid or "" for d in drafts])
    assert len(made) == count


@pytest.mark.parametrize("count", [1, 257, 1001])
async def test_imported_call_events_are_stored_as_the_same_drafts_would_be_j1(
    storage: Storage, count: int
) -> None:
    # EventsRepository.insert_imported_calls writes J1's shared columns as literals: the
    # stored events equal those of insert_many with the drafts J1 used to build.
    repo = EventsRepository(storage.db)
    events = [
        ImportedCallEvent(
            uuid_of(i),
            f"+38044{i:07d}" if i % 3 else None,
            None,
            f"{i % 20:03d}",
            "in" if i % 2 else "out",
            "Ольга O'Neil" if i % 2 else None,
        )
        for i in range(1, count + 1)
    ]
    drafts = [
        EventDraft(
            operator_ext=e.operator_ext,
            call_uuid=e.call_uuid.upper(),  # insert_many normalises; the journal's are
            number=e.number,
            contact_id=e.contact_id,
            direction=e.direction,
            fields={"operator": e.operator} if e.operator else {},
            state=EventState.SAVED,
            source=EventSource.IMPORT,
        )
        for e in events
    ]

    assert await storage.run(repo.insert_imported_calls, events, NOW) == count
    ids = await storage.run(repo.insert_many, drafts, NOW)

    columns = "call_uuid, number, contact_id, operator_ext, direction, kind, importance, "
    columns += "planned_at, notes, fields, state, source, created_at, updated_at, done_at"
    rows = await storage.run(repo.sql.rows, f"SELECT id, {columns} FROM events ORDER BY id", ())
    imported = [tuple(row[1:]) for row in rows if row[0] not in set(ids)]
    drafted = [tuple(row[1:]) for row in rows if row[0] in set(ids)]
    assert imported == drafted and len(imported) == count
    assert await storage.run(repo.insert_imported_calls, [], NOW) == 0
