"""Repositories of the contacts area: contacts and their number index (U7, B13),
and what the lookup reads of the journal.

Synchronous, for the storage worker thread (agent/storage/database.py), like
``repositories.py``. The number lookup and the bulk imports are SQL written out
once per database (``?`` placeholders, turned into ``%s`` for PostgreSQL): a ring
must find its contact in about a millisecond among a million (issue 4), and an
import writes 100k contacts in about a second.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import peewee as pw

from agent.core.contacts import Contact, LastCall, Phone, search_text
from agent.storage.migrations.base import PEEWEE_ERRORS
from agent.storage.models import to_utc, utc_text
from agent.storage.schema import write_transaction

MAX_PAGE: Final = 500
COUNT_CAP: Final = 10_000  # as the journal: past this, ``total`` is None (contracts.md §4)
IN_CHUNK: Final = 500
INSERT_PAGE: Final = 1000

Key = tuple[str, int | None]  # (index key, phone index)

_CONTACT_COLUMNS: Final = (
    "id, name, company, phones, attributes, responsible_ext, last_contact_at, "
    "created_at, updated_at, deleted_at, merged_into"
)


def dump_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def phones_json(phones: Sequence[Phone]) -> str:
    return dump_json([{"number": p.number, "kind": p.kind, "person": p.person} for p in phones])


_PHONE_JSON: Final = '{"number":%s,"kind":%s,"person":%s}'
_encode_text: Any = getattr(json.encoder, "encode_basestring")  # noqa: B009 - C-accelerated


def _js(text: str | None) -> str:
    """One JSON string (or null), as ``json.dumps(..., ensure_ascii=False)`` writes it."""
    return "null" if text is None else str(_encode_text(text))


WRITE_COLUMNS: Final = (
    "name",
    "company",
    "phones",
    "attributes",
    "responsible_ext",
    "search",
    "last_contact_at",
    "created_at",
    "updated_at",
)
ContactValues = tuple[Any, ...]  # a contact's WRITE_COLUMNS values
PhoneTuple = tuple[str, str | None, str | None]  # number, kind, person


def raw_contact_values(
    name: str,
    company: str | None,
    phones: Iterable[PhoneTuple],
    attributes: dict[str, Any],
    responsible_ext: str | None,
    last_contact_at: str | None,
    created_at: str,
    stamp: str,
) -> ContactValues:
    """A contact's column values from plain parts: imports make 100k of them, and
    building a :class:`Contact` for each costs more than writing it."""
    return (
        name,
        company,
        "[" + ",".join(_PHONE_JSON % (_js(n), _js(k), _js(p)) for n, k, p in phones) + "]",
        dump_json(attributes) if attributes else "{}",
        responsible_ext,
        search_text(name, company),
        last_contact_at,
        created_at,
        stamp,
    )


def contact_values(contact: Contact, stamp: str) -> ContactValues:
    """A contact's column values; ``stamp`` (utc_text of now) is its update time."""
    return raw_contact_values(
        contact.name,
        contact.company,
        ((p.number, p.kind, p.person) for p in contact.phones),
        dict(contact.attributes),
        contact.responsible_ext,
        None if contact.last_contact_at is None else utc_text(contact.last_contact_at),
        stamp if contact.created_at is None else utc_text(contact.created_at),
        stamp,
    )


def _phones(raw: str) -> tuple[Phone, ...]:
    return tuple(
        Phone(p.get("number", ""), p.get("kind"), p.get("person")) for p in json.loads(raw)
    )


def contact_from_row(row: Sequence[Any]) -> Contact:
    (
        cid,
        name,
        company,
        phones,
        attributes,
        responsible,
        last_at,
        created,
        updated,
        deleted,
        merged,
    ) = row[:11]
    return Contact(
        id=int(cid),
        name=name,
        company=company,
        phones=_phones(phones),
        attributes=json.loads(attributes),
        responsible_ext=responsible,
        last_contact_at=to_utc(last_at),
        created_at=to_utc(created),
        updated_at=to_utc(updated),
        deleted_at=to_utc(deleted),
        merged_into=None if merged is None else int(merged),
    )


class Sql:
    """Statements for one database: ``?`` placeholders, made ``%s`` for PostgreSQL."""

    def __init__(self, db: pw.Database) -> None:
        self.db = db
        self.postgres = isinstance(db, pw.PostgresqlDatabase)

    def text(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.postgres else sql

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cursor = self.db.execute_sql(self.text(sql), tuple(params))  # type: ignore[no-untyped-call]
        return list(cursor.fetchall())

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        cursor = self.db.execute_sql(self.text(sql), tuple(params))  # type: ignore[no-untyped-call]
        return int(cursor.rowcount)

    def insert_many(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], tail: str = ""
    ) -> None:
        """Many rows in one driver batch call (``executemany``; psycopg2's
        ``execute_values``): peewee's multi-row builder costs more than the database."""
        if not rows:
            return
        head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
        with write_transaction(self.db), PEEWEE_ERRORS:
            cursor = self.db.cursor()  # type: ignore[no-untyped-call]
            if self.postgres:
                from psycopg2.extras import execute_values  # loaded only for PostgreSQL

                execute_values(cursor, f"{head}%s {tail}", rows, page_size=INSERT_PAGE)
            else:
                marks = ", ".join("?" * len(columns))
                cursor.executemany(f"{head}({marks}) {tail}", rows)

    def reserve_ids(self, table: str, count: int) -> list[int]:
        """``count`` fresh ids of ``table``, inside the caller's write transaction: bulk
        rows then name their contact without a round trip each."""
        if count <= 0:
            return []
        if self.postgres:
            rows = self.rows(
                f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) "
                "FROM generate_series(1, ?)",
                (count,),
            )
            return [int(r[0]) for r in rows]
        # SQLite: the write transaction holds the database's single writer lock.
        start = int(self.rows(f"SELECT COALESCE(MAX(id), 0) FROM {table}")[0][0]) + 1
        return list(range(start, start + count))


def chunks(values: Sequence[Any], size: int = IN_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def marks(count: int) -> str:
    return ", ".join("?" * count)


@dataclass(frozen=True, slots=True)
class Match:
    """A contact found by a number, and which of its phones made the key."""

    contact: Contact
    phone_index: int | None

    @property
    def phone(self) -> Phone | None:
        phones = self.contact.phones
        index = self.phone_index
        return phones[index] if index is not None and 0 <= index < len(phones) else None


class ContactsRepository:
    """``contacts`` and ``contact_numbers``."""

    def __init__(self, db: pw.Database) -> None:
        self.sql = Sql(db)
        self._db = db
        # The hot path, built once (the lookup, issue 4: ~1 ms at 1M contacts).
        self._match_sql = self.sql.text(
            f"SELECT c.{_CONTACT_COLUMNS.replace(', ', ', c.')}, n.phone_index "
            "FROM contact_numbers n JOIN contacts c ON c.id = n.contact_id "
            "WHERE n.key = ? AND c.deleted_at IS NULL"
        )

    # ------------------------------------------------------------ reading

    def get(self, contact_id: int) -> Contact | None:
        """A contact, deleted or merged ones too (the journal still links to them)."""
        rows = self.sql.rows(f"SELECT {_CONTACT_COLUMNS} FROM contacts WHERE id = ?", (contact_id,))
        return contact_from_row(rows[0]) if rows else None

    def get_many(self, ids: Iterable[int]) -> dict[int, Contact]:
        wanted = sorted(set(ids))
        found: dict[int, Contact] = {}
        for part in chunks(wanted):
            sql = f"SELECT {_CONTACT_COLUMNS} FROM contacts WHERE id IN ({marks(len(part))})"
            for row in self.sql.rows(sql, part):
                contact = contact_from_row(row)
                found[int(row[0])] = contact
        return found

    def matches(self, key: str) -> list[Match]:
        """Live contacts whose index holds ``key`` (one index probe, then the rows)."""
        cursor = self._db.execute_sql(self._match_sql, (key,))  # type: ignore[no-untyped-call]
        return [Match(contact_from_row(row), row[11]) for row in cursor.fetchall()]

    def ids_by_keys(self, keys: Iterable[str]) -> dict[str, list[tuple[int, str]]]:
        """For imports: each key's live contacts as (id, name), oldest first."""
        wanted = sorted(set(keys))
        found: dict[str, list[tuple[int, str]]] = {}
        for part in chunks(wanted):
            sql = (
                "SELECT n.key, c.id, c.name FROM contact_numbers n "
                "JOIN contacts c ON c.id = n.contact_id "
                f"WHERE c.deleted_at IS NULL AND n.key IN ({marks(len(part))}) ORDER BY c.id"
            )
            for key, cid, name in self.sql.rows(sql, part):
                found.setdefault(key, []).append((int(cid), name))
        return found

    def ids_by_names(self, names: Iterable[str]) -> dict[str, list[int]]:
        """For the sales import: live contacts by exact name."""
        wanted = sorted(set(names))
        found: dict[str, list[int]] = {}
        for part in chunks(wanted):
            sql = (
                f"SELECT name, id FROM contacts WHERE deleted_at IS NULL "
                f"AND name IN ({marks(len(part))}) ORDER BY id"
            )
            for name, cid in self.sql.rows(sql, part):
                found.setdefault(name, []).append(int(cid))
        return found

    def existing_ids(self, ids: Iterable[int]) -> set[int]:
        wanted = sorted(set(ids))
        found: set[int] = set()
        for part in chunks(wanted):
            sql = f"SELECT id FROM contacts WHERE deleted_at IS NULL AND id IN ({marks(len(part))})"
            found.update(int(r[0]) for r in self.sql.rows(sql, part))
        return found

    def page(
        self,
        *,
        text: str | None = None,
        key_ranges: Sequence[tuple[str, str]] = (),
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[Contact], int | None]:
        """A page of live contacts ordered by name (and company).

        ``text`` (made by ``search_text``) keeps contacts whose name or company contains it;
        ``key_ranges`` ``[(low, high)…]`` those with a number key in one of them (a
        number typed in part). ``total`` is None past :data:`COUNT_CAP` matches.
        """
        if limit < 1 or offset < 0:
            raise ValueError(f"limit must be >= 1 and offset >= 0, got {limit}, {offset}")
        limit = min(limit, MAX_PAGE)
        where: list[str] = ["deleted_at IS NULL"]
        params: list[Any] = []
        if text:
            escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where.append("search LIKE ? ESCAPE '\\'")
            params.append(f"%{escaped}%")
        if key_ranges:
            ranges = " OR ".join("(key >= ? AND key < ?)" for _ in key_ranges)
            where.append(f"id IN (SELECT contact_id FROM contact_numbers WHERE {ranges})")
            params += [bound for pair in key_ranges for bound in pair]
        condition = " AND ".join(where)
        sql = (
            f"SELECT {_CONTACT_COLUMNS} FROM contacts WHERE {condition} "
            "ORDER BY search, id LIMIT ? OFFSET ?"
        )
        items = [contact_from_row(r) for r in self.sql.rows(sql, [*params, limit, offset])]
        if 0 < len(items) < limit or (offset == 0 and not items):
            return items, offset + len(items)
        capped = (
            f"SELECT COUNT(*) FROM (SELECT 1 FROM contacts WHERE {condition} "
            f"LIMIT {COUNT_CAP + 1}) capped"
        )
        count = int(self.sql.rows(capped, params)[0][0])
        return items, count if count <= COUNT_CAP else None

    def batch_after(self, after_id: int, limit: int) -> list[Contact]:
        """Live contacts by id, for re-indexing in batches."""
        sql = (
            f"SELECT {_CONTACT_COLUMNS} FROM contacts WHERE id > ? AND deleted_at IS NULL "
            "ORDER BY id LIMIT ?"
        )
        return [contact_from_row(r) for r in self.sql.rows(sql, (after_id, limit))]

    def count(self) -> int:
        return int(self.sql.rows("SELECT COUNT(*) FROM contacts WHERE deleted_at IS NULL")[0][0])

    # ------------------------------------------------------------ writing

    def insert_values(
        self, values: Sequence[ContactValues], keys: Sequence[Sequence[Key]]
    ) -> list[int]:
        """New contacts (as :func:`contact_values` makes them) and their index keys, in
        one transaction; their ids, in order. The bulk path of imports."""
        with write_transaction(self._db):
            ids = self.sql.reserve_ids("contacts", len(values))
            rows = [(cid, *row) for cid, row in zip(ids, values, strict=True)]
            self.sql.insert_many("contacts", ("id", *WRITE_COLUMNS), rows)
            self._insert_keys(
                [(k, cid, i) for cid, ks in zip(ids, keys, strict=True) for k, i in ks]
            )
        return ids

    def insert_many(
        self, contacts: Sequence[Contact], keys: Sequence[Sequence[Key]], now: datetime
    ) -> list[int]:
        """New contacts and their index keys in one transaction; their ids, in order."""
        stamp = utc_text(now)
        return self.insert_values([contact_values(c, stamp) for c in contacts], keys)

    def insert(self, contact: Contact, keys: Sequence[Key], now: datetime) -> int:
        return self.insert_many([contact], [keys], now)[0]

    def update_values(
        self, values: Sequence[tuple[int, ContactValues]], keys: Sequence[Sequence[Key]]
    ) -> None:
        """Replace every field of these contacts (by id) and their index keys."""
        if not values:
            return
        sets = ", ".join(f"{column} = ?" for column in WRITE_COLUMNS)
        sql = self.sql.text(f"UPDATE contacts SET {sets} WHERE id = ?")
        rows = [(*row, cid) for cid, row in values]
        with write_transaction(self._db), PEEWEE_ERRORS:
            self._db.cursor().executemany(sql, rows)  # type: ignore[no-untyped-call]
            self.replace_keys({cid: ks for (cid, _), ks in zip(values, keys, strict=True)})

    def update_many(
        self, contacts: Sequence[Contact], keys: Sequence[Sequence[Key]], now: datetime
    ) -> None:
        stamp = utc_text(now)
        self.update_values([(int(c.id or 0), contact_values(c, stamp)) for c in contacts], keys)

    def update(self, contact: Contact, keys: Sequence[Key], now: datetime) -> None:
        self.update_many([contact], [keys], now)

    def replace_keys(self, keys_by_contact: dict[int, Sequence[Key]]) -> None:
        """Swap the index keys of these contacts for the given ones (re-indexing, U7)."""
        with write_transaction(self._db):
            for part in chunks(sorted(keys_by_contact)):
                self.sql.execute(
                    f"DELETE FROM contact_numbers WHERE contact_id IN ({marks(len(part))})", part
                )
            self._insert_keys([(k, cid, i) for cid, ks in keys_by_contact.items() for k, i in ks])

    def _insert_keys(self, rows: Sequence[tuple[str, int, int | None]]) -> None:
        self.sql.insert_many(
            "contact_numbers",
            ("key", "contact_id", "phone_index"),
            rows,
            "ON CONFLICT (key, contact_id) DO NOTHING",
        )

    def soft_delete(self, ids: Sequence[int], now: datetime, merged_into: int | None = None) -> int:
        """Mark contacts deleted (or merged) and take them out of the number index; the
        rows stay, so journal rows and events keep resolving their names."""
        changed = 0
        with write_transaction(self._db):
            for part in chunks(list(ids)):
                changed += self.sql.execute(
                    f"UPDATE contacts SET deleted_at = ?, merged_into = ?, updated_at = ? "
                    f"WHERE deleted_at IS NULL AND id IN ({marks(len(part))})",
                    (utc_text(now), merged_into, utc_text(now), *part),
                )
                self.sql.execute(
                    f"DELETE FROM contact_numbers WHERE contact_id IN ({marks(len(part))})", part
                )
        return changed

    def touch(self, contact_id: int, at: datetime) -> None:
        """The contact was contacted at ``at`` (a call ended, an event was saved):
        the ranking's "most recently contacted" (agent/core/contacts.py RANK_RULE)."""
        stamp = utc_text(at)
        self.sql.execute(
            "UPDATE contacts SET last_contact_at = ? WHERE id = ? "
            "AND (last_contact_at IS NULL OR last_contact_at < ?)",
            (stamp, contact_id, stamp),
        )

    # ------------------------------------------------------------ the journal, read

    def last_call(self, number: str) -> LastCall | None:
        """The newest finished call with ``number`` (B13 last contact, B14 seen before),
        through the journal's ``calls_number_end_at`` index."""
        rows = self.sql.rows(
            "SELECT end_at, outcome, direction, talk_s FROM calls "
            "WHERE number = ? AND end_at IS NOT NULL ORDER BY end_at DESC LIMIT 1",
            (number,),
        )
        if not rows:
            return None
        end_at, outcome, direction, talk_s = rows[0]
        at = to_utc(end_at)
        assert at is not None
        return LastCall(at=at, outcome=outcome, direction=direction, talk_s=int(talk_s or 0))
