"""The contact list's search by name or company through a trigram index (M1; issue 4).

``ContactsRepository.page(text=…)`` keeps the live contacts whose ``search`` text
contains ``text`` (both made by ``search_text``), ordered by that text. It reads every
contact when the text is rare (a text nobody has, at 1M: ~1.5 s with LIKE, 0.25 s with
SQLite's instr). Here the same answer comes through the index of migration m0015:

- PostgreSQL: pg_trgm's GIN index serves the repository's own ``LIKE`` (the planner
  chooses it or the ordered scan), so :meth:`ContactSearch.page` is that method.
- SQLite: the FTS5 trigram table ``contacts_fts`` finds the candidates, and
  ``contacts_fts_stale`` the contacts it has not taken in yet; both are checked
  against ``contacts`` itself (live, and ``instr``: the text really there), so the
  answer is exact whether or not :meth:`ContactSearch.refresh` has run. A text the
  index cannot serve (fewer than 3 characters: a trigram's length), one many
  contacts have (more than :data:`FEW` matches: sorting them all would cost more than
  the ordered scan), or an index still being built (more than :data:`STALE_LIMIT`
  contacts waiting) is searched by the ordered scan.

``refresh`` takes the waiting contacts into the index, a batch at a time, on the
storage worker (agent/contacts/service.py runs it after writes and searches).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import peewee as pw

from agent.core.contacts import Contact
from agent.storage.contacts_repo import (
    _CONTACT_COLUMNS,
    COUNT_CAP,
    MAX_PAGE,
    ContactsRepository,
    contact_from_row,
    marks,
)
from agent.storage.migrations.base import PEEWEE_ERRORS
from agent.storage.schema import write_transaction

TRIGRAM: Final = 3
"""The shortest text the trigram index can find."""
FEW: Final = 5000
"""Matches the index may give before the ordered scan takes over: sorting 5000 costs
~30 ms, and a page of a more common text is usually near in the sorted list (at 1M, a
text one contact in 200 has: ~10k index entries away). Where its contacts all sort
late (every "Петро…"), the scan reads up to them: ~0.3 s at 1M, as the scan before
the index did, and as sorting all 111k of them would."""
STALE_LIMIT: Final = 2000
"""Contacts waiting for the index beyond which a search scans (an import just ended,
or the index of an upgraded database is being built)."""
REFRESH_BATCH: Final = 5000


def glob_pattern(text: str) -> str:
    """``*text*`` for GLOB, its wildcard characters taken literally."""
    return "*" + "".join(f"[{ch}]" if ch in "*?[" else ch for ch in text) + "*"


class ContactSearch:
    """The search of one database; run its methods on the storage worker."""

    def __init__(self, db: pw.Database, repo: ContactsRepository) -> None:
        self._db = db
        self._repo = repo
        # SQLite's own index (PostgreSQL's is pg_trgm's, used by the repository's LIKE);
        # known on the first use, on the worker (m0015 leaves it out on an SQLite
        # without the trigram tokenizer).
        self._sqlite = not isinstance(db, pw.PostgresqlDatabase)
        self._has_index: bool | None = None

    @property
    def indexed(self) -> bool:
        """Whether this database may have the SQLite index (its tables are looked for
        on first use)."""
        return self._sqlite and self._has_index is not False

    def _index(self) -> bool:
        if self._has_index is None:
            self._has_index = self._sqlite and bool(
                self._rows("SELECT 1 FROM sqlite_master WHERE name = 'contacts_fts_stale'")
            )
        return self._has_index

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._repo.sql.rows(sql, params)

    def _count(self, sql: str, params: Sequence[Any], cap: int) -> int:
        return int(self._rows(f"SELECT COUNT(*) FROM ({sql} LIMIT {cap + 1}) capped", params)[0][0])

    def pending(self, cap: int = STALE_LIMIT) -> int:
        """Contacts the SQLite index has not taken in yet, counted up to ``cap + 1``."""
        if not self._index():
            return 0
        return self._count("SELECT 1 FROM contacts_fts_stale", (), cap)

    def page(
        self, text: str, *, limit: int = 50, offset: int = 0
    ) -> tuple[list[Contact], int | None]:
        """``ContactsRepository.page(text=text, …)``: the same contacts and total."""
        if limit < 1 or offset < 0:
            raise ValueError(f"limit must be >= 1 and offset >= 0, got {limit}, {offset}")
        if not self._index() or len(text) < TRIGRAM or self.pending() > STALE_LIMIT:
            return self._repo.page(text=text, limit=limit, offset=offset)
        limit = min(limit, MAX_PAGE)
        pattern = glob_pattern(text)
        # The matching live contacts' (search, id): the index's candidates (FTS5 checks
        # each against ``contacts.search``) but those waiting, then the waiting ones,
        # read from ``contacts``. ``instr``: the text really there (an exact substring;
        # both sides case-folded by search_text, as they were for LIKE).
        matching = (
            "SELECT c.search, c.id FROM contacts_fts f CROSS JOIN contacts c ON c.id = f.rowid "
            "WHERE f.search GLOB ? AND c.deleted_at IS NULL AND instr(c.search, ?) > 0 "
            "AND c.id NOT IN (SELECT id FROM contacts_fts_stale) "
            "UNION ALL SELECT search, id FROM contacts "
            "WHERE id IN (SELECT id FROM contacts_fts_stale) "
            "AND deleted_at IS NULL AND instr(search, ?) > 0"
        )
        params = (pattern, text, text)
        found = self._rows(f"{matching} LIMIT {FEW + 1}", params)
        if len(found) > FEW:
            # Common: the ordered scan, as without the index (FEW); counted through the
            # index as a stream, so the cap stops the reading.
            sql = (
                f"SELECT {_CONTACT_COLUMNS} FROM contacts "
                "WHERE deleted_at IS NULL AND instr(search, ?) > 0 "
                "ORDER BY search, id LIMIT ? OFFSET ?"
            )
            items = [contact_from_row(r) for r in self._rows(sql, (text, limit, offset))]
            if 0 < len(items) < limit:
                return items, offset + len(items)
            count = self._count(matching, params, COUNT_CAP)
            return items, count if count <= COUNT_CAP else None
        # Few: sorted here as SQLite's ORDER BY search, id sorts (BINARY: UTF-8 bytes,
        # which order as the code points Python compares), then the page's rows read.
        found.sort()
        ids = [int(cid) for _, cid in found[offset : offset + limit]]
        rows = (
            self._rows(
                f"SELECT {_CONTACT_COLUMNS} FROM contacts WHERE id IN ({marks(len(ids))})", ids
            )
            if ids
            else []
        )
        by_id = {int(r[0]): r for r in rows}
        items = [contact_from_row(by_id[cid]) for cid in ids if cid in by_id]
        if 0 < len(items) < limit or (offset == 0 and not items):
            return items, offset + len(items)
        return items, len(found)  # every match: at most FEW, below COUNT_CAP

    def refresh(self, batch: int = REFRESH_BATCH) -> int:
        """Take up to ``batch`` waiting contacts into the SQLite index, in one write
        transaction; how many were taken (0: the index is up to date)."""
        if not self._index() or not self._rows("SELECT 1 FROM contacts_fts_stale LIMIT 1"):
            return 0  # nothing waits: no write lock taken
        with write_transaction(self._db):
            waiting = self._rows(
                "SELECT id, indexed FROM contacts_fts_stale ORDER BY id LIMIT ?", (batch,)
            )
            if not waiting:
                return 0
            ids = [int(r[0]) for r in waiting]
            held = [(r[0], r[1]) for r in waiting if r[1] is not None]
            cursor = self._db.cursor()  # type: ignore[no-untyped-call]
            with PEEWEE_ERRORS:
                self._take_in(cursor, ids, held)
        return len(ids)

    @staticmethod
    def _take_in(cursor: Any, ids: list[int], held: list[tuple[Any, Any]]) -> None:
        if held:
            # FTS5 takes a row out of an external-content index by the text it
            # indexed (the triggers kept it: contacts holds the new one by now).
            cursor.executemany(
                "INSERT INTO contacts_fts (contacts_fts, rowid, search) VALUES ('delete', ?, ?)",
                held,
            )
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            cursor.execute(
                "INSERT INTO contacts_fts (rowid, search) SELECT id, search FROM contacts "
                f"WHERE id IN ({marks(len(part))}) AND deleted_at IS NULL ORDER BY id",
                part,
            )
            cursor.execute(f"DELETE FROM contacts_fts_stale WHERE id IN ({marks(len(part))})", part)
