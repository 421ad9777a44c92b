"""The one history pager (B4 reconcile and J1 share it): pages in order, one page
fetched ahead while the caller stores the current one, nothing left behind."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from agent.core.errors import PbxUnreachable
from agent.core.journal import Source
from agent.jobs.history_sync import batches, fetch_window
from agent.journal import Journal
from agent.phonet.rest import PhonetRest
from agent.simulator import SimControl, SimulatorInfo
from agent.storage.database import Storage
from tests.jobs.support import raw_record

NOW = datetime.now(UTC).replace(microsecond=0)
WINDOW = (NOW - timedelta(days=1), NOW)


@pytest.fixture
async def rest(simulator: SimulatorInfo) -> AsyncIterator[PhonetRest]:
    async with PhonetRest(
        domain=simulator.domain, api_key=simulator.api_key, base_url=simulator.base_url
    ) as client:
        yield client


def history_requests(sim: SimControl) -> list[str]:
    return [r["query"] for r in sim.requests() if r["path"].endswith("company.api")]


async def test_pages_come_newest_first_in_order(rest: PhonetRest, sim: SimControl) -> None:
    sim.add_history([raw_record(i, end_at=NOW - timedelta(minutes=i)) for i in range(1, 121)])
    got = [page for batch in [b async for b in batches(rest, *WINDOW)] for page in batch]
    assert [page.offset for page in got] == [0, 50, 100]
    ends = [r.end_at for page in got for r in page.records]
    assert ends == sorted(ends, reverse=True) and len(ends) == 120


async def test_pages_are_fetched_while_the_caller_stores_and_then_taken_together(
    rest: PhonetRest, sim: SimControl
) -> None:
    sim.add_history([raw_record(i, end_at=NOW - timedelta(minutes=i)) for i in range(1, 251)])
    sim.clear_requests()
    listing = batches(rest, *WINDOW, ahead=3)
    first = await anext(listing)  # the caller now "stores" this batch, slowly

    deadline = asyncio.get_running_loop().time() + 10
    while len(history_requests(sim)) < 1 + len(first) + 3:
        assert asyncio.get_running_loop().time() < deadline, "no pages fetched ahead"
        await asyncio.sleep(0.01)
    second = await anext(listing)
    await listing.aclose()

    assert len(second) >= 2  # what arrived meanwhile comes in one batch
    assert [p.offset for p in [*first, *second]] == [
        50 * i for i in range(len(first) + len(second))
    ]


async def test_a_failed_request_ends_the_listing_after_the_pages_before_it(
    rest: PhonetRest, sim: SimControl
) -> None:
    sim.add_history([raw_record(i, end_at=NOW - timedelta(minutes=i)) for i in range(1, 121)])
    listing = batches(rest, *WINDOW, ahead=1)
    first = await anext(listing)
    sim.faults(rest_5xx=50)
    with pytest.raises(PbxUnreachable):
        async for _ in listing:
            pass
    assert first[0].offset == 0


async def test_fetch_window_returns_every_record_of_the_window(
    rest: PhonetRest, sim: SimControl
) -> None:
    sim.add_history([raw_record(i, end_at=NOW - timedelta(minutes=i)) for i in range(1, 61)])
    sim.add_history([raw_record(999, end_at=NOW - timedelta(days=3))])
    records = await fetch_window(rest, *WINDOW)
    assert len(records) == 60


async def test_b4_reconciles_a_gap_holding_a_malformed_record_and_counts_it(
    rest: PhonetRest, sim: SimControl, storage: Storage
) -> None:
    # B4's gap and J1 page the same way: one unreadable record is skipped where it is
    # read, and the gap's other calls are stored (the audit saw the merge fail whole).
    bad = {**raw_record(999, end_at=NOW - timedelta(minutes=30)), "uuid": "not-a-call-id"}
    sim.add_history(
        [*(raw_record(i, end_at=NOW - timedelta(minutes=i)) for i in range(1, 61)), bad]
    )
    journal = Journal(storage, own_ext="001", completed_talk_s=10)
    rejected_before = rest.stats.rejected_records

    gap = await fetch_window(rest, *WINDOW)
    changed = await journal.store_history(tuple(gap), Source.RECONCILED)

    assert changed == 60
    assert await storage.run(storage.journal.count) == 60
    assert rest.stats.rejected_records - rejected_before == 1  # on the health page (B15)


async def test_each_page_says_how_many_of_its_records_could_not_be_read(
    rest: PhonetRest, sim: SimControl
) -> None:
    records = [raw_record(i, end_at=NOW - timedelta(minutes=i)) for i in range(1, 101)]
    records[10]["uuid"] = "x"  # page 1
    records[71]["disposition"] = None  # page 2
    sim.add_history(records)

    got = [page for batch in [b async for b in batches(rest, *WINDOW)] for page in batch]

    assert [(page.offset, len(page.records), page.rejected) for page in got] == [
        (0, 49, 1),
        (50, 49, 1),
        (100, 0, 0),  # a full last page: one more request finds the end
    ]


async def test_batches_grow_to_the_records_asked_for_and_keep_every_page_in_order(
    rest: PhonetRest, sim: SimControl
) -> None:
    # J1 asks for big batches (few, big write transactions); the first one is stored as
    # soon as it arrives, each next one waits for twice as many records as the last.
    sim.add_history([raw_record(i, end_at=NOW - timedelta(minutes=i)) for i in range(1, 601)])

    got = [b async for b in batches(rest, *WINDOW, ahead=20, least=200, wait_s=60)]

    sizes = [sum(len(page.records) for page in batch) for batch in got]
    assert sum(sizes) == 600
    assert [p.offset for b in got for p in b] == [50 * i for i in range(13)]
    for before, size in pairwise(sizes[:-1]):  # the last one is what was left
        assert size >= min(200, 2 * before)
    assert len(got) >= 2


async def test_a_batch_waits_for_records_only_so_long_before_it_is_stored(
    rest: PhonetRest, sim: SimControl
) -> None:
    # A slow PBX (40 ms a page) and a wait of 50 ms: a batch holds a few pages, never
    # the 600 records asked for, so progress and the checkpoint keep moving.
    sim.add_history([raw_record(i, end_at=NOW - timedelta(minutes=i)) for i in range(1, 301)])
    sim.faults(rest_delay_ms=40)
    try:
        got = [b async for b in batches(rest, *WINDOW, least=600, wait_s=0.05)]
    finally:
        sim.faults(rest_delay_ms=0)

    assert [p.offset for b in got for p in b] == [50 * i for i in range(7)]
    assert len(got) >= 2
