"""The journal table (M3, B4, B14, J1): every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, timedelta, timezone

import pytest

from agent.core.errors import InvalidInput
from agent.core.events import Direction
from agent.core.journal import JournalEntry, Source
from agent.core.outcomes import Outcome
from agent.storage import MAX_PAGE, Storage
from agent.storage.repositories import JournalRepository
from tests.storage.calls import T0, finished, open_call, uuid_of
from tests.storage.conftest import OnWorker

KYIV_SUMMER = timezone(timedelta(hours=3))


def every_field_set() -> JournalEntry:
    """A row with no field left at its default, times given in Kyiv's summer offset."""
    return JournalEntry(
        uuid="0123456789abcdef0123456789abcdef",
        direction=Direction.INTERNAL,
        number="205",
        operator_ext="001",
        dial_at=T0.astimezone(KYIV_SUMMER) + timedelta(microseconds=123456),
        answer_at=T0.astimezone(KYIV_SUMMER) + timedelta(seconds=7, microseconds=1),
        end_at=T0.astimezone(KYIV_SUMMER) + timedelta(seconds=62, microseconds=999999),
        talk_s=55,
        duration_s=62,
        disposition=4,
        outcome=Outcome.BUSY,
        recording_url="https://sim.phonet.local/rest/public/calls/0123/audio",
        contact_id=2**40,
        contact_name="ТОВ «Ромашка» — Олена",
        parent_uuid="fedcba9876543210fedcba9876543210",
        trunk="kyivstar-1",
        source=Source.RECONCILED,
        final=True,
    )


def test_every_field_of_a_journal_entry_comes_back_as_it_was_written(journal: OnWorker) -> None:
    entry = every_field_set()
    journal.upsert(entry)

    assert journal.get(entry.uuid) == entry


def test_times_come_back_timezone_aware_in_utc(journal: OnWorker) -> None:
    entry = every_field_set()
    journal.upsert(entry)

    stored = journal.get(entry.uuid)

    for name in ("dial_at", "answer_at", "end_at"):
        value = getattr(stored, name)
        assert value.tzinfo is UTC, name
        assert value == getattr(entry, name), name


def test_an_entry_with_only_the_required_fields_round_trips(journal: OnWorker) -> None:
    entry = open_call(1)
    journal.upsert(entry)

    assert journal.get(entry.uuid) == entry


def test_a_uuid_is_found_dashed_or_upper_case_as_phonet_history_writes_it(
    journal: OnWorker,
) -> None:
    entry = finished(7)
    journal.upsert(entry)
    dashed = "00000000-0000-0000-0000-000000000007".upper()

    assert journal.get(dashed) == entry
    assert journal.get_many([dashed, uuid_of(8)]) == {entry.uuid: entry}
    assert journal.get(uuid_of(8)) is None


def test_upserting_the_same_entry_twice_leaves_one_row(journal: OnWorker) -> None:
    entry = finished(1)
    journal.upsert(entry)
    journal.upsert(entry)
    journal.upsert_many([entry, entry])

    assert journal.count() == 1
    assert journal.get(entry.uuid) == entry


def test_an_upsert_replaces_every_field_of_the_row_with_its_uuid(journal: OnWorker) -> None:
    live = open_call(3)
    journal.upsert(live)
    done = replace(
        finished(3),
        contact_name=None,
        recording_url="https://example.test/a.mp3",
        source=Source.IMPORT,
    )
    journal.upsert(done)

    assert journal.get(live.uuid) == done
    assert journal.count() == 1


def test_upsert_many_writes_all_and_the_last_of_a_repeated_uuid_wins(journal: OnWorker) -> None:
    first = finished(5)
    last = replace(first, talk_s=99, outcome=Outcome.ANSWERED)
    written = journal.upsert_many([finished(4), first, finished(6), last])

    assert written == 3
    assert journal.get_many([uuid_of(i) for i in (4, 5, 6)]) == {
        uuid_of(4): finished(4),
        uuid_of(5): last,
        uuid_of(6): finished(6),
    }


def test_get_many_finds_more_uuids_than_one_query_may_hold(journal: OnWorker) -> None:
    journal.upsert_many(finished(i) for i in range(1, 1201))

    found = journal.get_many(uuid_of(i) for i in range(1, 1300))

    assert len(found) == 1200
    assert found[uuid_of(1200)] == finished(1200)


def test_a_uuid_that_is_not_32_lower_case_hex_is_refused(journal: OnWorker) -> None:
    for bad in ("0123", "0123456789ABCDEF0123456789ABCDEF", "g" * 32):
        with pytest.raises(InvalidInput, match="32 lower-case hex") as caught:
            journal.upsert(replace(finished(1), uuid=bad))
        assert caught.value.field == "uuid"
    assert journal.count() == 0


def test_a_naive_datetime_is_refused_rather_than_guessed(journal: OnWorker) -> None:
    naive = replace(finished(1), end_at=T0.replace(tzinfo=None))

    with pytest.raises(ValueError, match="naive datetime"):
        journal.upsert(naive)


def test_the_journal_lists_finished_calls_newest_end_first_in_pages_m3(
    journal: OnWorker,
) -> None:
    calls = [finished(i) for i in range(1, 121)]
    # Two calls ending at the same instant: the uuid orders them, so pages never overlap.
    calls.append(finished(500, end_at=calls[59].end_at))
    journal.upsert_many([*calls, open_call(900), open_call(901)])
    expected = sorted(calls, key=lambda c: (c.end_at, c.uuid), reverse=True)

    pages = [journal.list(limit=50, offset=offset) for offset in (0, 50, 100, 150)]

    assert [len(items) for items, _ in pages] == [50, 50, 21, 0]
    assert [entry for items, _ in pages for entry in items] == expected
    assert {total for _, total in pages} == {121}


def test_the_journal_keeps_calls_that_ended_at_or_after_since(journal: OnWorker) -> None:
    journal.upsert_many(finished(i) for i in range(1, 11))

    items, total = journal.list(since=T0 + timedelta(minutes=8))

    assert [entry.uuid for entry in items] == [uuid_of(10), uuid_of(9), uuid_of(8)]
    assert total == 3


def test_since_may_be_given_in_any_time_zone(journal: OnWorker) -> None:
    journal.upsert_many(finished(i) for i in range(1, 11))

    items, _ = journal.list(since=(T0 + timedelta(minutes=8)).astimezone(KYIV_SUMMER))

    assert len(items) == 3


def test_mine_lists_only_that_operators_calls_and_team_lists_all(journal: OnWorker) -> None:
    journal.upsert_many(finished(i, ext="001" if i % 3 else "002") for i in range(1, 31))

    mine, mine_total = journal.list(operator_ext="002")
    team, team_total = journal.list()

    assert {entry.operator_ext for entry in mine} == {"002"}
    assert [entry.uuid for entry in mine] == [
        uuid_of(i) for i in (30, 27, 24, 21, 18, 15, 12, 9, 6, 3)
    ]
    assert (mine_total, team_total) == (10, 30)
    assert len(team) == 30


def test_a_page_is_at_most_500_calls(journal: OnWorker) -> None:
    journal.upsert_many(finished(i) for i in range(1, 602))

    items, total = journal.list(limit=10_000)

    assert len(items) == MAX_PAGE
    assert total == 601


def test_a_bad_limit_or_offset_is_refused(journal: OnWorker) -> None:
    for limit, offset in ((0, 0), (-1, 0), (10, -1)):
        with pytest.raises(ValueError, match="limit must be"):
            journal.list(limit=limit, offset=offset)


def test_the_total_is_none_when_counting_would_be_costly(storage: Storage) -> None:
    storage.call(storage.journal.upsert_many, [finished(i) for i in range(1, 31)])
    capped = JournalRepository(storage.db, count_cap=20)

    _, full_page_total = storage.call(capped.list, limit=10)
    _, narrow_total = storage.call(capped.list, limit=10, since=T0 + timedelta(minutes=16))
    _, last_page_total = storage.call(capped.list, limit=10, offset=25)

    assert full_page_total is None
    assert narrow_total == 15
    assert last_page_total == 30  # a short page tells the total by itself


def test_open_calls_are_the_calls_with_no_end_oldest_first(journal: OnWorker) -> None:
    journal.upsert_many(
        [
            finished(1),
            open_call(12, ext="001"),
            open_call(11, ext="001"),
            open_call(13, ext="002"),
        ]
    )

    assert [e.uuid for e in journal.open_calls("001")] == [uuid_of(11), uuid_of(12)]
    assert [e.uuid for e in journal.open_calls()] == [uuid_of(i) for i in (11, 12, 13)]
    assert journal.open_calls("003") == []
    listed, _ = journal.list()
    assert [e.uuid for e in listed] == [uuid_of(1)]  # the journal lists finished calls only


def test_latest_end_at_is_when_the_newest_finished_call_ended(journal: OnWorker) -> None:
    assert journal.latest_end_at() is None
    journal.upsert_many(
        [finished(1, ext="001"), finished(5, ext="002"), finished(3, ext="001"), open_call(9)]
    )

    assert journal.latest_end_at("001") == T0 + timedelta(minutes=3)
    assert journal.latest_end_at() == T0 + timedelta(minutes=5)
    assert journal.latest_end_at("009") is None


def test_last_seen_tells_when_a_number_last_called_or_was_called_b14(journal: OnWorker) -> None:
    number = "+380501234567"
    journal.upsert_many(
        [
            finished(1, number=number),
            finished(4, number=number, ext="002"),
            finished(6, number="+380671111111"),
            replace(open_call(9), number=number),  # ringing now: not "before"
        ]
    )

    seen = journal.last_seen(number)

    assert seen == T0 + timedelta(minutes=4)
    assert seen.tzinfo is UTC
    assert journal.last_seen("+380999999999") is None


def test_count_counts_every_row_open_calls_included(journal: OnWorker) -> None:
    journal.upsert_many([finished(1), finished(2), open_call(3)])

    assert journal.count() == 3
