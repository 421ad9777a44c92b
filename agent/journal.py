"""The journal adapter: the runtime's JournalPort over storage (M3, B2, B4).

The decisions (what a row becomes) are the core's (agent/core/journal.py); this
module reads what is stored, asks the core, and writes the answer — all on the
storage worker thread, in the order the runtime asked.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from agent.core.events import HistoryRecord
from agent.core.journal import JournalEntry, Source, merge_history

if TYPE_CHECKING:
    from agent.storage.database import Storage


class Journal:
    def __init__(self, storage: Storage, *, own_ext: str, completed_talk_s: int) -> None:
        self.storage = storage
        self.own_ext = own_ext
        self.completed_talk_s = completed_talk_s

    @property
    def _checkpoint_key(self) -> str:
        return f"live.covered_until/{self.own_ext}"

    async def store(self, entry: JournalEntry) -> None:
        await self.storage.run(lambda: self.storage.journal.upsert(entry))

    async def store_history(self, records: tuple[HistoryRecord, ...], source: Source) -> int:
        """Merge PBX records into the journal: missing rows added, open or estimated
        rows completed, final rows left alone. Returns how many rows changed."""

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
                changed.append(
                    merge_history(
                        entry,
                        record,
                        own_ext=self.own_ext,
                        source=source,
                        completed_talk_s=self.completed_talk_s,
                    )
                )
            self.storage.journal.upsert_many(changed)
            return len(changed)

        return await self.storage.run(merge)

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
