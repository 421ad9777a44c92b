"""J1 against the simulator and a real database (SQLite and PostgreSQL): what goes into
the journal, which calls get events, idempotence, and resuming after a crash."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from agent.core.call_events import EventDraft, EventSource
from agent.core.events import Direction
from agent.core.journal import JournalEntry, Source
from agent.jobs.history_import import HistoryImport, HistoryImportConfig
from agent.jobs.history_sync import fetch_window
from agent.journal import Journal
from agent.phonet.rest import PhonetRest
from agent.simulator import SimControl, SimulatorInfo
from agent.storage.database import Storage
from tests.jobs.support import NOW, Area, contacts_area, minutes_ago, raw_record, uuid_of

pytestmark = pytest.mark.usefixtures("simulator")


@pytest.fixture
async def rest(simulator: SimulatorInfo) -> AsyncIterator[PhonetRest]:
    async with PhonetRest(
        domain=simulator.domain, api_key=simulator.api_key, base_url=simulator.base_url
    ) as client:
        yield client


@pytest.fixture
def area(storage: Storage) -> Area:
    return contacts_area(storage)


def make_import(
    storage: Storage,
    rest: PhonetRest,
    area: Area | None,
    *,
    now: Any = NOW,
    users: dict[str, str] | None = None,
    events: Any = None,
) -> HistoryImport:
    return HistoryImport(
        storage=storage,
        journal=Journal(storage, own_ext="001", completed_talk_s=10),
        source=rest,
        events=events or (area.port if area is not None else None),
        config=HistoryImportConfig(completed_talk_s=10, extension_users=users or {}),
        clock=lambda: now,
    )


async def journal_rows(storage: Storage) -> dict[str, JournalEntry]:
    rows, _ = await storage.run(storage.journal.list, limit=500)
    return {row.uuid: row for row in rows}


async def event_calls(area: Area) -> list[str | None]:
    events, _ = await area.events.page(limit=500)
    return sorted(e.call_uuid or "" for e in events)


# ------------------------------------------------------------------ the journal


async def test_every_call_no_agent_recorded_goes_into_the_journal_under_its_own_ext_j1(
    storage: Storage, rest: PhonetRest, sim: SimControl, area: Area
) -> None:
    live = JournalEntry(
        uuid_of(1),
        Direction.OUT,
        "+380441234567",
        "001",
        minutes_ago(10),
        Source.LIVE,
        end_at=minutes_ago(9),
    )
    await storage.run(storage.journal.upsert, live)
    sim.add_history(
        [
            raw_record(1, end_at=minutes_ago(9)),
            raw_record(2, end_at=minutes_ago(8), ext="005", direction="in", dashed=True),
            raw_record(3, end_at=minutes_ago(7), ext="003", ext2="004", direction="internal"),
            raw_record(4, end_at=minutes_ago(6), ext=None, talk_s=0),
        ]
    )

    counts = await make_import(storage, rest, area).run()

    rows = await journal_rows(storage)
    assert rows[uuid_of(1)] == live  # an agent recorded it: untouched
    assert (rows[uuid_of(2)].source, rows[uuid_of(2)].operator_ext) == (Source.IMPORT, "005")
    assert rows[uuid_of(2)].final
    assert (rows[uuid_of(3)].operator_ext, rows[uuid_of(3)].number) == ("003", "004")
    assert (rows[uuid_of(4)].operator_ext, rows[uuid_of(4)].talk_s) == ("", 0)
    assert counts["imported"] == 3
    assert counts["skipped_recorded"] == 1


async def test_a_malformed_record_is_skipped_and_counted_and_the_rest_imported_j1(
    storage: Storage, rest: PhonetRest, sim: SimControl, area: Area
) -> None:
    good = [raw_record(i, end_at=minutes_ago(i)) for i in range(1, 121)]  # three pages
    bad_uuid = {**raw_record(500, end_at=minutes_ago(60.5)), "uuid": "call-42"}
    no_disposition = {**raw_record(501, end_at=minutes_ago(30.5)), "disposition": None}
    endless = {**raw_record(502, end_at=minutes_ago(90.5)), "duration": 10**12}
    nul_name = {**raw_record(503, end_at=minutes_ago(10.5)), "otherLegName": "Acme\u0000"}
    sim.add_history([*good, bad_uuid, no_disposition, endless, nul_name])
    job = make_import(storage, rest, area)

    counts = await job.run()

    assert (counts["imported"], counts["skipped_unreadable"], counts["records"]) == (121, 3, 124)
    assert counts["events"] == 121
    assert (await journal_rows(storage))[uuid_of(503)].contact_name == "Acme"
    checkpoint = await job.load_checkpoint()
    assert (checkpoint.covered_until, checkpoint.pending) == (NOW, None)  # it moved on
    later = await make_import(storage, rest, area, now=NOW + timedelta(minutes=5)).run()
    assert (later["imported"], later["skipped_unreadable"]) == (0, 0)  # past them for good


async def test_a_call_reconciled_after_a_lost_link_gets_its_event_like_an_imported_one_j1_b4(
    storage: Storage, rest: PhonetRest, sim: SimControl, area: Area
) -> None:
    # B4 stored these while the link was down (source "reconciled"); no agent saw them
    # live. Whether B4 or J1 reaches a call first, J1's event rules decide its event.
    sim.add_history(
        [
            raw_record(1, end_at=minutes_ago(9), talk_s=30),
            raw_record(2, end_at=minutes_ago(8), talk_s=5),
            raw_record(3, end_at=minutes_ago(7), talk_s=40),
        ]
    )
    journal = Journal(storage, own_ext="001", completed_talk_s=10)
    gap = await fetch_window(rest, minutes_ago(20), NOW)
    await journal.store_history(tuple(gap), Source.RECONCILED)
    await storage.run(area.events.repo.mark_unimportant, uuid_of(3), "001", NOW)
    before = await journal_rows(storage)

    counts = await make_import(storage, rest, area).run()
    again = await make_import(storage, rest, area, now=NOW + timedelta(minutes=5)).run()

    assert await event_calls(area) == [uuid_of(1)]
    assert (counts["imported"], counts["events"], counts["skipped_recorded"]) == (0, 1, 0)
    assert (counts["skipped_short"], counts["skipped_unimportant"]) == (1, 1)
    assert await journal_rows(storage) == before  # rows stay B4's: not duplicated, not redone
    assert {row.source for row in before.values()} == {Source.RECONCILED}
    assert (again["events"], again["skipped_has_event"]) == (0, 1)


# ------------------------------------------------------------------ events, rule by rule


async def test_events_follow_the_skip_rules_one_by_one_j1(
    storage: Storage, rest: PhonetRest, sim: SimControl, area: Area
) -> None:
    sim.add_history(
        [
            raw_record(1, end_at=minutes_ago(9), talk_s=30),  # event
            raw_record(2, end_at=minutes_ago(9), talk_s=10),  # not longer than G4
            raw_record(3, end_at=minutes_ago(9), talk_s=0),  # unanswered
            raw_record(4, end_at=minutes_ago(9), direction="internal"),  # internal
            raw_record(5, end_at=minutes_ago(9), talk_s=40),  # declined before (A5)
            raw_record(6, end_at=minutes_ago(9), talk_s=50),  # has an event already
        ]
    )
    await storage.run(area.events.repo.mark_unimportant, uuid_of(5), "001", NOW)
    await area.events.create_event(
        EventDraft(operator_ext="001", call_uuid=uuid_of(6), source=EventSource.MANUAL)
    )

    counts = await make_import(storage, rest, area).run()

    assert await event_calls(area) == [uuid_of(1), uuid_of(6)]
    assert {k: v for k, v in counts.items() if k.startswith("skipped_") and v} == {
        "skipped_short": 2,
        "skipped_internal": 1,
        "skipped_unimportant": 1,
        "skipped_has_event": 1,
    }
    assert counts["events"] == 1
    (made,) = [e for e in (await area.events.page(limit=10))[0] if e.call_uuid == uuid_of(1)]
    assert (made.source, made.state, made.number) == (EventSource.IMPORT, "saved", "+380441234567")


async def test_the_extension_mapping_names_each_events_operator_g3(
    storage: Storage, rest: PhonetRest, sim: SimControl, area: Area
) -> None:
    sim.add_history(
        [raw_record(1, end_at=minutes_ago(5), ext="005"), raw_record(2, end_at=minutes_ago(4))]
    )

    await make_import(storage, rest, area, users={"005": "Olena Koval"}).run()

    events = {e.call_uuid: e for e in (await area.events.page(limit=10))[0]}
    assert events[uuid_of(1)].operator_ext == "005"
    assert events[uuid_of(1)].fields.get("operator") == "Olena Koval"
    assert events[uuid_of(2)].operator_ext == "001"
    assert "operator" not in events[uuid_of(2)].fields


async def test_an_event_is_linked_to_the_numbers_contact(
    storage: Storage, rest: PhonetRest, sim: SimControl, area: Area
) -> None:
    contact = await area.contacts.find_or_create_contact("+380441234567", "Acme")
    sim.add_history([raw_record(1, end_at=minutes_ago(5), number="0441234567")])

    await make_import(storage, rest, area).run()

    (event,) = (await area.events.page(limit=10))[0]
    assert event.contact_id == contact.id


# ------------------------------------------------------------------ idempotence


async def test_a_rerun_adds_nothing(
    storage: Storage, rest: PhonetRest, sim: SimControl, area: Area
) -> None:
    sim.add_history([raw_record(i, end_at=minutes_ago(i)) for i in range(1, 121)])
    first = await make_import(storage, rest, area).run()

    again = await make_import(storage, rest, area, now=NOW + timedelta(minutes=5)).run()
    forced = await make_import(storage, rest, area).run(since=NOW - timedelta(days=1))

    assert (first["imported"], first["events"]) == (120, 120)
    assert (again["imported"], again["events"]) == (0, 0)
    assert (forced["imported"], forced["events"], forced["skipped_has_event"]) == (0, 0, 120)
    assert await storage.run(storage.journal.count) == 120
    assert len(await event_calls(area)) == 120


async def test_the_next_run_pages_only_since_the_checkpoint(
    storage: Storage, rest: PhonetRest, sim: SimControl, area: Area
) -> None:
    sim.add_history([raw_record(i, end_at=NOW - timedelta(hours=i)) for i in range(1, 301)])
    first = await make_import(storage, rest, area).run()
    sim.add_history([raw_record(1000, end_at=NOW + timedelta(minutes=30))])

    second = await make_import(storage, rest, area, now=NOW + timedelta(hours=1)).run()

    assert first["pages"] == 4  # 7 days: 167 records of the 300
    assert (second["pages"], second["records"], second["imported"]) == (1, 1, 1)


# ------------------------------------------------------------------ crashes


async def test_a_crash_mid_import_resumes_where_it_stopped_and_loses_nothing(
    storage: Storage, rest: PhonetRest, sim: SimControl, area: Area
) -> None:
    sim.add_history([raw_record(i, end_at=minutes_ago(i)) for i in range(1, 501)])  # 10 pages
    job = make_import(storage, rest, area)
    done_at_crash: dict[str, Any] = {}
    task: asyncio.Task[Any] | None = None

    def crash_after_the_first_batch(counts: dict[str, Any]) -> None:
        if task is not None and not done_at_crash:
            done_at_crash.update(counts)
            task.cancel()  # the process dies here (the batch's checkpoint is saved)

    task = asyncio.ensure_future(job.run(progress=crash_after_the_first_batch))
    with pytest.raises(asyncio.CancelledError):
        await task
    assert done_at_crash["records"] < 500
    # The batch fetched meanwhile may have reached the journal as the process died:
    # the resumed run merges it again by uuid.
    assert await storage.run(storage.journal.count) >= done_at_crash["records"]

    resumed = await make_import(storage, rest, area).run()

    assert resumed["resumed"] is True
    # It went on from the checkpoint: the pages left, and the boundary's page again.
    assert resumed["pages"] <= 10 - done_at_crash["pages"] + 1
    assert await storage.run(storage.journal.count) == 500
    assert await event_calls(area) == sorted(uuid_of(i) for i in range(1, 501))


async def test_since_after_a_crash_still_imports_the_crashed_runs_rest(
    storage: Storage, rest: PhonetRest, sim: SimControl, area: Area
) -> None:
    sim.add_history([raw_record(i, end_at=minutes_ago(i)) for i in range(1, 501)])  # 10 pages
    task: asyncio.Task[Any] | None = None

    def crash_after_the_first_batch(counts: dict[str, Any]) -> None:
        if task is not None:
            task.cancel()

    task = asyncio.ensure_future(
        make_import(storage, rest, area).run(progress=crash_after_the_first_batch)
    )
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await storage.run(storage.journal.count) < 500

    forced = await make_import(storage, rest, area).run(since=minutes_ago(10))

    assert forced["resumed"] is True
    assert await storage.run(storage.journal.count) == 500
    assert len(await event_calls(area)) == 500
    checkpoint = await make_import(storage, rest, area).load_checkpoint()
    assert (checkpoint.covered_until, checkpoint.pending) == (NOW, None)


class FailingEvents:
    """The events service is down for the first batch (after the journal took it)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0

    async def declined_or_with_event(self, uuids: Any) -> tuple[set[str], set[str]]:
        self.calls += 1
        if self.calls == 1:
            raise ConnectionError("the database went away")
        result: tuple[set[str], set[str]] = await self.inner.declined_or_with_event(uuids)
        return result

    async def create_call_events(self, drafts: Any) -> int:
        made: int = await self.inner.create_call_events(drafts)
        return made


async def test_calls_imported_by_a_run_that_died_before_their_events_get_them_on_resume(
    storage: Storage, rest: PhonetRest, sim: SimControl, area: Area
) -> None:
    sim.add_history([raw_record(i, end_at=minutes_ago(i)) for i in range(1, 201)])
    with pytest.raises(ConnectionError):
        await make_import(storage, rest, area, events=FailingEvents(area.port)).run()
    in_journal = await storage.run(storage.journal.count)
    assert in_journal >= 50
    assert await event_calls(area) == []

    resumed = await make_import(storage, rest, area).run()

    assert resumed["imported"] == 200 - in_journal
    assert len(await event_calls(area)) == 200


async def test_without_the_events_service_calls_still_reach_the_journal(
    storage: Storage, rest: PhonetRest, sim: SimControl
) -> None:
    sim.add_history([raw_record(1, end_at=minutes_ago(3))])
    counts = await make_import(storage, rest, None).run()
    assert (counts["imported"], counts["events"]) == (1, 0)
