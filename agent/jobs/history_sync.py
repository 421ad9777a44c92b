"""The one history pager: B4's reconciliation and J1's import page ``company.api`` here.

phonet-api.md §2.3: a ``timeFrom``/``timeTo`` window, newest ``endAt`` first, 50 per
page by offset, a short page ends it; ``PhonetRest.history_pages`` speaks that. This
module adds what J1 wants on top: the next pages are fetched while the caller
stores the current ones, in batches (network and database overlap, and a slow
database writes fewer, bigger transactions; the J1 benchmark's goal is ≤ 1.5× the
fetching alone), and nothing is left running when the caller stops early. What
each caller does with a page differs only in the merge (``Journal.store_history``
for B4, ``Journal.import_history`` for J1) and in J1's event rules on top
(agent/core/history_plan.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from agent.core.events import HistoryRecord

KIND = "company"  # every call of the company (J1: the team's; B4: filtered to ours)
AHEAD = 20  # pages fetched ahead of the caller at most (1000 records)


class HistorySource(Protocol):
    """``PhonetRest`` as the pager uses it."""

    def history_pages(
        self, kind: Any, *, time_from: datetime, time_to: datetime
    ) -> AsyncIterator[tuple[int, list[HistoryRecord]]]: ...


@dataclass(frozen=True, slots=True)
class HistoryPage:
    offset: int
    records: list[HistoryRecord]
    # Records of this page the wire could not read (agent/phonet/wire.py: no valid
    # uuid, no time…): skipped there, so the rest of the page is stored; counted here.
    rejected: int = 0


def rejected_so_far(source: object) -> int:
    """How many records the client has rejected so far (``PhonetRest.stats``, which the
    health page shows, B15); 0 for a source that does not count them.

    The client logs the first bad record of each page with its reason and counts them
    all; the pager reads that count around each page it asks for. A B4 reconciliation
    paging the same client at that very moment would add its own (rare, and only a
    figure in the run's record)."""
    value = getattr(getattr(source, "stats", None), "rejected_records", 0)
    return value if isinstance(value, int) else 0


async def pages(
    source: HistorySource, time_from: datetime, time_to: datetime
) -> AsyncIterator[HistoryPage]:
    """The window's pages in order, one request at a time."""
    before = rejected_so_far(source)
    async for offset, records in source.history_pages(KIND, time_from=time_from, time_to=time_to):
        after = rejected_so_far(source)
        yield HistoryPage(offset, records, max(after - before, 0))
        before = rejected_so_far(source)


_END = object()


async def batches(
    source: HistorySource,
    time_from: datetime,
    time_to: datetime,
    *,
    ahead: int = AHEAD,
    least: int = 0,
    wait_s: float = 0.0,
) -> AsyncIterator[list[HistoryPage]]:
    """The window's pages in order, in batches: while the caller stores one batch the
    next pages are fetched (up to ``ahead`` of them), and the caller then takes all
    that arrived at once. A slow database gets bigger batches (fewer transactions);
    a slow PBX gets batches of one page. A failed request ends the listing with its
    error, after the pages fetched before it.

    ``least``: batches grow up to that many records: the first is what arrived, and
    each next one waits for twice as many records as the one before (never more than
    ``wait_s`` after its first page came). So the first pages are stored, and their
    progress shown, at once, and a long import from a fast PBX still comes in big
    batches (J1 stores each batch in a few transactions: SQLite logs a changed index
    page once a transaction, so two thousand records a transaction write far less than
    fifty; bench/jobs.py)."""
    queue: asyncio.Queue[HistoryPage | BaseException | object] = asyncio.Queue(ahead)
    loop = asyncio.get_running_loop()

    async def produce() -> None:
        try:
            async for page in pages(source, time_from, time_to):
                await queue.put(page)
        except Exception as exc:
            await queue.put(exc)
        else:
            await queue.put(_END)

    async def next_item(deadline: float) -> HistoryPage | BaseException | object | None:
        """The next item, waited for until ``deadline`` at most (then None)."""
        if not queue.empty():
            return queue.get_nowait()
        left = deadline - loop.time()
        if left <= 0:
            return None
        try:
            async with asyncio.timeout(left):
                return await queue.get()
        except TimeoutError:
            return None

    producer = asyncio.ensure_future(produce())
    goal = 0  # records the next batch waits for
    try:
        while True:
            batch: list[HistoryPage] = []
            records = 0
            item: HistoryPage | BaseException | object | None = await queue.get()
            deadline = loop.time() + wait_s
            while True:
                if item is _END:
                    if batch:
                        yield batch
                    return
                if isinstance(item, BaseException):
                    if batch:
                        yield batch
                    raise item
                assert isinstance(item, HistoryPage)
                batch.append(item)
                records += len(item.records) + item.rejected
                if records >= goal:
                    item = None if queue.empty() else queue.get_nowait()
                else:
                    item = await next_item(deadline)
                if item is None:
                    break
            yield batch
            goal = min(least, 2 * max(records, goal))
    finally:
        producer.cancel()
        with contextlib.suppress(BaseException):
            await producer


async def fetch_window(
    source: HistorySource, time_from: datetime, time_to: datetime
) -> list[HistoryRecord]:
    """Every record of the window (B2's finalise and B4's reconcile: small windows)."""
    records: list[HistoryRecord] = []
    async for page in pages(source, time_from, time_to):
        records.extend(page.records)
    return records
