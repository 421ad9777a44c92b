"""The journal adapter: the runtime's JournalPort over storage (M3, B2, B4), and the
history import's merge (J1).

The decisions (what a row becomes) are the core's (agent/core/journal.py); this
module reads what is stored, asks the core, and writes the answer — all on the
storage worker thread, in the order the runtime asked.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from agent.core.events import HistoryRecord
from agent.core.journal import JournalEntry, Source, merge_history
from agent.storage.jobs_repository import JobsRepository, import_row

if TYPE_CHECKING:
    from agent.storage.database import Storage

WRITE_DELAY_S = 0.02
# Journal rows of calls no agent saw live (J1 makes their events; B4 only fills rows).
_NOT_SEEN_LIVE = frozenset((Source.IMPORT, Source.RECONCILED))


@dataclass(frozen=True, slots=True)
class ImportedPage:
    """What :meth:`Journal.import_history` did with one page of history (J1)."""

    added: list[HistoryRecord]  # new rows, source "import"
    # Rows already there that no agent saw live: imported by an earlier run, or filled
    # in by B4's reconciliation after a lost link. Their events may be due (J1).
    again: list[HistoryRecord]
    recorded: int  # calls an agent saw live: not J1's


class Journal:
    def __init__(self, storage: Storage, *, own_ext: str, completed_talk_s: int) -> None:
        self.storage = storage
        self.own_ext = own_ext
        self.completed_talk_s = completed_talk_s
        self._buffer: dict[str, JournalEntry] = {}  # rows waiting for the next batch
        self._writer: asyncio.Future[None] | None = None
        self._hurry = asyncio.Event()  # flush(): write now, do not wait out the delay
        # Called on the loop with each batch once it is in the database (the window
        # re-reads the journal then).
        self.written_listeners: list[Callable[[list[JournalEntry]], None]] = []

    @property
    def _checkpoint_key(self) -> str:
        return f"live.covered_until/{self.own_ext}"

    async def store(self, entry: JournalEntry) -> None:
        """Queue a row for the writer; the newest version of each row wins.

        Rows are written in batches at most ``WRITE_DELAY_S`` after they were
        stored: a busy line becomes one ``upsert_many`` on the worker instead of one
        hand-over per event (each costs the live path a thread switch). Batches
        keep the order they were asked in (one writer task at a time). A crash
        inside that window loses nothing for good: the restart reconciles the gap
        from the PBX history (B4)."""
        self._buffer.pop(entry.uuid, None)
        self._buffer[entry.uuid] = entry
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._write_soon())

    async def _write_soon(self) -> None:
        while self._buffer:
            # asyncio.timeout, not wait_for: on 3.11 wait_for may swallow the cancel
            # sent at stop (CPython gh-86296), and stop waits for this task.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(WRITE_DELAY_S):
                    await self._hurry.wait()
            await self._write_batch()

    async def _write_batch(self) -> None:
        if not self._buffer:
            return
        batch = list(self._buffer.values())
        self._buffer.clear()
        await self.storage.run(lambda: self.storage.journal.upsert_many(batch))
        for listener in list(self.written_listeners):
            listener(batch)

    async def flush(self) -> None:
        """Everything stored so far is in the database when this returns."""
        writer = self._writer
        if writer is not None and not writer.done():
            self._hurry.set()
            try:
                await asyncio.shield(writer)
            finally:
                self._hurry.clear()
        await self._write_batch()

    async def store_history(self, records: tuple[HistoryRecord, ...], source: Source) -> int:
        """Merge PBX records into the journal: missing rows added, open or estimated
        rows completed, final rows left alone. Returns how many rows changed."""
        await self.flush()  # our own earlier writes first: this merge must see them

        def merge() -> int:
            # Locked read-merge-write, so an import-history process beside us
            # cannot overwrite a row we complete (and the other way round).
            with self.storage.atomic():
                return merge_locked()

        def merge_locked() -> int:
            existing = self.storage.journal.get_many([r.uuid for r in records], lock=True)
            changed: list[JournalEntry] = []
            for record in records:
                entry = existing.get(record.uuid)
                if entry is not None and entry.final:
                    continue
                changed.append(self._merged(entry, record, source, self.own_ext))
            self.storage.journal.upsert_many(changed)
            return len(changed)

        return await self.storage.run(merge)

    async def import_history(self, records: Sequence[HistoryRecord]) -> ImportedPage:
        """J1: add the calls no agent recorded, each under its own extension (the team's
        calls, not this agent's), with ``source: import``; rows already there stay.

        One write transaction (the rows are only added, never overwritten, so no row
        lock is needed: an agent that records the call meanwhile keeps its row). A call
        imported by an earlier run (``source: import``) is returned in ``again``: a run
        that died before its events were made makes them when the page comes again (J1,
        resumable). So is one that B4 reconciled (``source: reconciled``): no agent saw
        it live either, so whether J1 or the reconciliation stores it first, its event
        follows the same rules (features.md J1 "calls that no agent recorded", B4).
        """

        # The rows are made here, on the loop, a page at a time: the storage worker then
        # runs mostly SQLite's C code, which lets go of the GIL, so storing overlaps the
        # next pages' fetching instead of taking turns with it (the J1 benchmark). The
        # worker inserts them a few hundred a statement (repositories.insert_rows): it
        # takes the GIL back once a statement, not once a row.
        rows: dict[str, tuple[object, ...]] = {}
        talk_s = self.completed_talk_s
        for start in range(0, len(records), 200):
            if start:
                await asyncio.sleep(0)  # the runtime's popups go first
            rows.update({r.uuid: import_row(r, talk_s) for r in records[start : start + 200]})

        def merge() -> ImportedPage:
            repo = JobsRepository(self.storage.db)
            with self.storage.atomic():
                sources = repo.call_sources(rows)
                added: dict[str, HistoryRecord] = {}
                again: dict[str, HistoryRecord] = {}
                recorded: set[str] = set()
                for record in records:
                    source = sources.get(record.uuid)
                    if source is None:
                        added[record.uuid] = record
                    elif source in _NOT_SEEN_LIVE:
                        again[record.uuid] = record
                    else:
                        recorded.add(record.uuid)
                repo.insert_call_rows([rows[uuid] for uuid in added])
                return ImportedPage(list(added.values()), list(again.values()), len(recorded))

        return await self.storage.run(merge)

    def _merged(
        self, entry: JournalEntry | None, record: HistoryRecord, source: Source, own_ext: str
    ) -> JournalEntry:
        return merge_history(
            entry,
            record,
            own_ext=own_ext,
            source=source,
            completed_talk_s=self.completed_talk_s,
        )

    async def save_checkpoint(self, covered_until: datetime) -> None:
        value = covered_until.isoformat()
        await self.storage.run(lambda: self.storage.kv.set(self._checkpoint_key, value))

    async def load_checkpoint(self) -> datetime | None:
        value = await self.storage.run(lambda: self.storage.kv.get(self._checkpoint_key))
        return datetime.fromisoformat(value) if isinstance(value, str) else None

    async def open_calls(self) -> list[JournalEntry]:
        return await self.storage.run(lambda: self.storage.journal.open_calls(self.own_ext))

    async def page(
        self, *, limit: int, offset: int, since: datetime | None, operator_ext: str | None
    ) -> tuple[list[JournalEntry], int | None]:
        return await self.storage.run(
            lambda: self.storage.journal.list(
                limit=limit, offset=offset, since=since, operator_ext=operator_ext
            )
        )
