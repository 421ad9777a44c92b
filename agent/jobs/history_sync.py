"""The one history pager: B4's reconciliation and J1's import page ``company.api`` here.

phonet-api.md §2.3: a ``timeFrom``/``timeTo`` window, newest ``endAt`` first, 50 per
page by offset, a short page ends it; ``PhonetRest.history_pages`` speaks that. This
module adds what both callers want on top: the next page is fetched while the
caller stores the current one (network and database overlap; the J1 benchmark's
goal is ≤ 1.5× the fetching alone), and nothing is left running when the caller
stops early. What each caller does with a page differs only in the merge
(``Journal.store_history`` for B4, ``Journal.import_history`` for J1) and in J1's
event rules on top (agent/core/history_plan.py).
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


class HistorySource(Protocol):
    """``PhonetRest`` as the pager uses it."""

    def history_pages(
        self, kind: Any, *, time_from: datetime, time_to: datetime
    ) -> AsyncIterator[tuple[int, list[HistoryRecord]]]: ...


@dataclass(frozen=True, slots=True)
class HistoryPage:
    offset: int
    records: list[HistoryRecord]


async def pages(
    source: HistorySource, time_from: datetime, time_to: datetime, *, prefetch: bool = True
) -> AsyncIterator[HistoryPage]:
    """The window's pages in order. With ``prefetch``, the page after the one just
    handed out is already being fetched (one page ahead, never more)."""
    listing = source.history_pages(KIND, time_from=time_from, time_to=time_to)
    if not prefetch:
        async for offset, records in listing:
            yield HistoryPage(offset, records)
        return
    ahead: asyncio.Future[tuple[int, list[HistoryRecord]]] | None = None
    try:
        ahead = asyncio.ensure_future(anext(listing))
        while True:
            try:
                offset, records = await ahead
            except StopAsyncIteration:
                ahead = None
                return
            ahead = asyncio.ensure_future(anext(listing))
            yield HistoryPage(offset, records)
    finally:
        if ahead is not None and not ahead.done():
            ahead.cancel()
            with contextlib.suppress(BaseException):
                await ahead
        aclose = getattr(listing, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()


async def fetch_window(
    source: HistorySource, time_from: datetime, time_to: datetime
) -> list[HistoryRecord]:
    """Every record of the window (B2's finalise and B4's reconcile: small windows)."""
    records: list[HistoryRecord] = []
    async for page in pages(source, time_from, time_to, prefetch=False):
        records.extend(page.records)
    return records
