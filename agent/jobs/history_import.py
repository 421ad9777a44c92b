"""J1: the history import (manual §7 item 1; features.md J1; issue 6 item 2).

Pages ``company.api`` over the window since the last checkpoint (the shared pager,
``history_sync``), adds every call no agent recorded to the journal
(``source: import``, under the record's own extension), and makes events for the
ones the rules allow (agent/core/history_plan.py). After each batch of pages (the
first page at once, then batches growing to BATCH_RECORDS records, or what arrived
in BATCH_WAIT_S) the window still to do is saved, so a run that dies mid-way is
resumed by the next run, on this agent or another (B5). A rerun adds nothing: the
journal merges by uuid and a call with an event gets no second one.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from agent.core.errors import StorageError
from agent.core.history_plan import (
    Checkpoint,
    ImportWindow,
    Skip,
    add_skips,
    after_page,
    empty_counts,
    event_candidates,
    finished,
    import_window,
    plan_events,
)
from agent.jobs.history_sync import HistorySource, batches
from agent.storage.bulk_load import restore_page_cache, widen_page_cache

if TYPE_CHECKING:
    from agent.jobs.events import JobEvents
    from agent.journal import Journal
    from agent.storage.database import Storage

log = logging.getLogger(__name__)

CHECKPOINT_KEY: Final = "jobs/history/checkpoint"
# Batches (agent/jobs/history_sync.py ``batches``): pages are fetched up to AHEAD_PAGES
# ahead of the store, and a batch waits for BATCH_RECORDS records (at most BATCH_WAIT_S
# after its first page) before it is stored and the checkpoint saved. Few, big write
# transactions: SQLite logs each changed index page once a transaction, and the calls'
# indexes by number and by extension take records all over: each commit logs most of
# their pages again (BENCHMARKS.md "jobs": batches of 10000 records took ~1 s less CPU
# than 2000 for 100k calls; a run that dies fetches at most that many again). The
# pages fetched ahead hold a whole batch.
AHEAD_PAGES: Final = 200
BATCH_RECORDS: Final = 10000
BATCH_WAIT_S: Final = 1.0
CACHE_KIB: Final = 8192  # SQLite's page cache while a run writes (bulk_load.widen_page_cache)

Progress = Callable[[dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class HistoryImportConfig:
    """The team settings J1 reads (G3, G4, the look-back, the region)."""

    completed_talk_s: int = 10
    extension_users: Mapping[str, str] = field(default_factory=dict)
    region: str = "UA"
    lookback: timedelta = timedelta(days=7)


class HistoryImport:
    def __init__(
        self,
        *,
        storage: Storage,
        journal: Journal,
        source: HistorySource,
        events: JobEvents | None,
        config: HistoryImportConfig,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.storage = storage
        self.journal = journal
        self.source = source
        self.events = events
        self.config = config
        self.clock = clock

    async def load_checkpoint(self) -> Checkpoint:
        raw = await self.storage.run(self.storage.kv.get, CHECKPOINT_KEY)
        return Checkpoint.from_json(raw)

    async def _save(self, checkpoint: Checkpoint) -> None:
        await self.storage.run(self.storage.kv.set, CHECKPOINT_KEY, checkpoint.to_json())

    async def run(
        self, *, since: datetime | None = None, progress: Progress | None = None
    ) -> dict[str, Any]:
        """One run: the counts of :func:`history_plan.empty_counts`, plus the window."""
        checkpoint = await self.load_checkpoint()
        window = import_window(
            checkpoint, now=self.clock(), lookback=self.config.lookback, since=since
        )
        resumed = checkpoint.pending is not None  # --since takes a crashed run's rest in too
        await self._save(Checkpoint(checkpoint.covered_until, window))
        counts: dict[str, Any] = {
            **empty_counts(),
            "from": window.time_from.isoformat(),
            "to": window.until.isoformat(),
            "resumed": resumed,
            "done": 0.0,
        }
        if self.events is None:
            log.warning("history import: no events service; calls go to the journal only")
        db = self.storage.db
        cache = await self.storage.run(widen_page_cache, db, CACHE_KIB)
        try:
            await self._import(window, checkpoint, counts, progress)
        finally:
            if cache is not None:  # a storage closing under us needs no cache back
                with contextlib.suppress(StorageError):
                    await self.storage.run(restore_page_cache, db, cache)
        counts["done"] = 1.0
        return counts

    async def _import(
        self,
        window: ImportWindow,
        checkpoint: Checkpoint,
        counts: dict[str, Any],
        progress: Progress | None,
    ) -> None:
        start = window
        listing = batches(
            self.source,
            window.time_from,
            window.time_to,
            ahead=AHEAD_PAGES,
            least=BATCH_RECORDS,
            wait_s=BATCH_WAIT_S,
        )
        async for batch in listing:
            records = [record for page in batch for record in page.records]
            counts["pages"] += len(batch)
            # Unreadable records were skipped by the wire (and logged there): the rest
            # of their page is stored and the checkpoint moves on past them.
            unreadable = sum(page.rejected for page in batch)
            counts["records"] += unreadable
            counts[f"skipped_{Skip.UNREADABLE.value}"] += unreadable
            await self._store(records, counts)
            window = after_page(window, records)
            await self._save(Checkpoint(checkpoint.covered_until, window))
            counts["done"] = _done(start, window)
            if progress is not None:
                progress(dict(counts))
        await self._save(finished(window))

    async def _store(self, records: list[Any], counts: dict[str, Any]) -> None:
        counts["records"] += len(records)
        if not records:
            return
        page = await self.journal.import_history(records)
        counts["imported"] += len(page.added)
        counts[f"skipped_{Skip.RECORDED.value}"] += page.recorded
        candidates, skipped = event_candidates(
            [*page.added, *page.again], completed_talk_s=self.config.completed_talk_s
        )
        add_skips(counts, skipped)
        if self.events is None or not candidates:
            return
        declined, with_event = await self.events.declined_or_with_event(
            [r.uuid for r in candidates]
        )
        drafts, skipped = plan_events(
            candidates,
            unimportant=declined,
            with_event=with_event,
            extension_users=self.config.extension_users,
            region=self.config.region,
        )
        add_skips(counts, skipped)
        if drafts:
            counts["events"] += await self.events.create_call_events(drafts)


def _done(start: ImportWindow, now: ImportWindow) -> float:
    """How much of the run's window is paged, by time (pages go newest first)."""
    total = (start.time_to - start.time_from).total_seconds()
    if total <= 0:
        return 1.0
    left = (now.time_to - now.time_from).total_seconds()
    return round(min(max(1.0 - left / total, 0.0), 1.0), 3)
