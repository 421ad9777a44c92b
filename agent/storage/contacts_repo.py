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
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import peewee as pw

from agent.core.contacts import Contact, LastCall, Phone, search_text
from agent.storage.bulk_load import (
    restore_page_cache,
    set_aside,
    widen_page_cache,
    worth_setting_aside,
)
from agent.storage.migrations.base import PEEWEE_ERRORS
from agent.storage.models import to_utc, utc_text
from agent.storage.repositories import insert_rows, sqlite_variable_limit
from agent.storage.schema import write_transaction

MAX_PAGE: Final = 500
COUNT_CAP: Final = 10_000  # as the journal: past this, ``total`` is None (contracts.md §4)
IN_CHUNK: Final = 500
BULK_CACHE_KIB: Final = 65536
"""SQLite's page cache during :meth:`ContactsRepository.bulk` (its default is 2 MiB)."""
# The trigger that notes each new contact for the name search's index (migration
# m0015; absent where SQLite has no FTS5), and what a big import sets aside with it:
# the name-order index (m0010). ContactsRepository.bulk.
_SEARCH_TRIGGER: Final = "contacts_fts_inserted"
_SET_ASIDE: Final = ("contacts_search", _SEARCH_TRIGGER)

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
_ONE_NUMBER: Final = '[{"number":%s,"kind":null,"person":null}]'
# One JSON string, as ``json.dumps(..., ensure_ascii=False)`` writes it (C-accelerated).
_js: Callable[[str], str] = getattr(json.encoder, "encode_basestring")  # noqa: B009


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


def phones_text(phones: Iterable[PhoneTuple]) -> str:
    """The ``phones`` column of (number, kind, person) tuples, as :func:`phones_json`
    writes it; one number with no kind and no person (most of an import's) in one step."""
    items = list(phones)
    if len(items) == 1 and items[0][1] is None and items[0][2] is None:
        return _ONE_NUMBER % _js(items[0][0])
    return (
        "["
        + ",".join(
            _PHONE_JSON % (_js(n), "null" if k is None else _js(k), "null" if p is None else _js(p))
            for n, k, p in items
        )
        + "]"
    )


def raw_contact_values(
    name: str,
    company: str | None,
    phones: Iterable[PhoneTuple],
    attributes: dict[str, Any],
    responsible_ext: str | None,
    last_contact_at: str | None,
    created_at: str,
    stamp: str,
    search: str | None = None,
) -> ContactValues:
    """A contact's column values from plain parts: imports make 100k of them, and
    building a :class:`Contact` for each costs more than writing it. ``search`` is
    ``search_text(name, company)`` when the caller has it already."""
    return (
        name,
        company,
        phones_text(phones),
        dump_json(attributes) if attributes else "{}",
        responsible_ext,
        search_text(name, company) if search is None else search,
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


_raw_decode = json.JSONDecoder().raw_decode


def _json(raw: str) -> Any:
    """``json.loads`` of what this module wrote (canonical JSON), without its wrapper's
    checks: the popup's lookup reads two a match (issue 4). Anything else (written by
    hand with spaces around it) goes to ``json.loads``."""
    try:
        value, end = _raw_decode(raw)
    except ValueError:
        return json.loads(raw)
    return value if end == len(raw) else json.loads(raw)


def _phones(raw: str) -> tuple[Phone, ...]:
    return tuple([Phone(p.get("number", ""), p.get("kind"), p.get("person")) for p in _json(raw)])


def _utc(value: Any) -> datetime | None:
    """``to_utc``, quicker for what ``utc_text`` wrote (the lookup reads four a match)."""
    if value is None:
        return None
    if type(value) is str:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is UTC:
            return parsed
    return to_utc(value)


def contact_from_row(row: Sequence[Any], start: int = 0) -> Contact:
    """The contact of ``row[start:start + 11]`` (:data:`_CONTACT_COLUMNS`)."""
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
    ) = row[start : start + 11]
    return Contact(
        id=int(cid),
        name=name,
        company=company,
        phones=_phones(phones),
        attributes={} if attributes == "{}" else _json(attributes),
        responsible_ext=responsible,
        last_contact_at=_utc(last_at),
        created_at=_utc(created),
        updated_at=_utc(updated),
        deleted_at=_utc(deleted),
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
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        tail: str = "",
        *,
        fixed: Sequence[tuple[str, str]] = (),
    ) -> None:
        """Many rows in one write transaction, as multi-row statements
        (:func:`agent.storage.repositories.insert_rows`). ``fixed``: columns with one
        text value for every row (an import's timestamps), written into the statement
        once rather than bound for each row (:func:`sql_text_literal`)."""
        literals = {column: sql_text_literal(value) for column, value in fixed}
        with write_transaction(self.db):
            insert_rows(self.db, table, columns, rows, f" {tail}" if tail else "", fixed=literals)

    def max_variables(self) -> int:
        """SQLite's limit on the values of one statement (:func:`sqlite_variable_limit`)."""
        return sqlite_variable_limit(self.db)

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


_TIMESTAMP_TEXT: Final = re.compile(r"[0-9T:.+\- ]{10,40}")


def sql_text_literal(value: str) -> str:
    """A timestamp as a quoted SQL literal (Sql.insert_many ``fixed``): only what
    ``utc_text`` writes is accepted, so nothing from a file ever becomes SQL text."""
    if not _TIMESTAMP_TEXT.fullmatch(value):
        raise ValueError(f"not a stored timestamp: {value[:40]!r}")
    return f"'{value}'"


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


# B13's facts of a contact found by number, as EventsRepository.last_note and
# .nearest_planned read them (agent/storage/events_repo.py; tests/contacts/test_rules.py
# holds the two to the same answers): the popup's lookup reads them with the matches.
_LAST_NOTE: Final = (
    "(SELECT e.notes FROM events e WHERE e.contact_id = c.id AND e.state = 'saved' "
    "AND e.notes <> '' AND (e.planned_at IS NULL OR e.done_at IS NOT NULL) "
    "ORDER BY e.created_at DESC LIMIT 1)"
)
_NEAREST_PLANNED: Final = (
    "(SELECT e.id FROM events e WHERE e.contact_id = c.id AND e.planned_at IS NOT NULL "
    "AND e.done_at IS NULL AND e.state <> 'declined' ORDER BY e.planned_at LIMIT 1)"
)


# The newest finished call with a number (B13 last contact, B14 seen before), through
# the journal's ``calls_number_end_at`` index: last_call, and the popup's lookup
# (agent/storage/contact_lookup.py).
LAST_CALL_FROM: Final = (
    "FROM calls WHERE number = ? AND end_at IS NOT NULL ORDER BY end_at DESC LIMIT 1"
)
LAST_CALL_SQL: Final = f"SELECT end_at, outcome, direction, talk_s {LAST_CALL_FROM}"


@dataclass(frozen=True, slots=True)
class Facts:
    """A match with what B13 says of its contact: its last note, its nearest planned
    event (by id; the lookup reads the event of the best match only)."""

    match: Match
    last_note: str | None
    planned_id: int | None


class ContactsRepository:
    """``contacts`` and ``contact_numbers``."""

    def __init__(self, db: pw.Database) -> None:
        self.sql = Sql(db)
        self._db = db
        # The hot path, built once (the lookup, issue 4: ≤ 1 ms p99 at 1M contacts).
        match = (
            f"SELECT c.{_CONTACT_COLUMNS.replace(', ', ', c.')}, n.phone_index{{facts}} "
            "FROM contact_numbers n JOIN contacts c ON c.id = n.contact_id "
            "WHERE n.key = ? AND c.deleted_at IS NULL"
        )
        self._match_sql = self.sql.text(match.format(facts=""))
        self._facts_sql = self.sql.text(match.format(facts=f", {_LAST_NOTE}, {_NEAREST_PLANNED}"))
        self._last_call_sql = self.sql.text(LAST_CALL_SQL)

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

    def matches_with_facts(self, key: str) -> list[Facts]:
        """:meth:`matches`, each with its contact's last note and nearest planned event,
        in one statement: the popup's lookup (B13) makes one round trip for them."""
        cursor = self._db.execute_sql(self._facts_sql, (key,))  # type: ignore[no-untyped-call]
        return [
            Facts(Match(contact_from_row(row), row[11]), row[12], row[13])
            for row in cursor.fetchall()
        ]

    def ids_by_keys(
        self, keys: Iterable[str], *, max_id: int | None = None
    ) -> dict[str, list[tuple[int, str]]]:
        """For imports: each key's live contacts as (id, name), oldest first; with
        ``max_id``, only those up to it (the contacts stored before an import began)."""
        wanted = sorted(set(keys))
        found: dict[str, list[tuple[int, str]]] = {}
        bound = "" if max_id is None else " AND c.id <= ?"
        tail = () if max_id is None else (max_id,)
        for part in chunks(wanted):
            sql = (
                "SELECT n.key, c.id, c.name FROM contact_numbers n "
                "JOIN contacts c ON c.id = n.contact_id "
                f"WHERE c.deleted_at IS NULL AND n.key IN ({marks(len(part))}){bound} "
                "ORDER BY c.id"
            )
            for key, cid, name in self.sql.rows(sql, (*part, *tail)):
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
        key_part: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[Contact], int | None]:
        """A page of live contacts ordered by name (and company).

        ``text`` (made by ``search_text``) keeps contacts whose name or company contains it;
        ``key_ranges`` ``[(low, high)…]`` those with a number key in one of them (a
        number typed in part), or, with ``key_part``, a key holding those digits anywhere
        (a scan of the keys: ~0.2 s at 1M). ``total`` is None past :data:`COUNT_CAP`.
        """
        if limit < 1 or offset < 0:
            raise ValueError(f"limit must be >= 1 and offset >= 0, got {limit}, {offset}")
        limit = min(limit, MAX_PAGE)
        where: list[str] = ["deleted_at IS NULL"]
        params: list[Any] = []
        if text:
            if self.sql.postgres:  # pg_trgm's index serves LIKE (m0015)
                escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                where.append("search LIKE ? ESCAPE '\\'")
                params.append(f"%{escaped}%")
            else:
                # An exact substring: both sides are case-folded (search_text), and instr
                # reads a contact ~4x quicker than LIKE's pattern matching (1M: 0.25 s).
                where.append("instr(search, ?) > 0")
                params.append(text)
        if key_ranges:
            ranges = " OR ".join("(key >= ? AND key < ?)" for _ in key_ranges)
            params += [bound for pair in key_ranges for bound in pair]
            if key_part:
                ranges += " OR strpos(key, ?) > 0" if self.sql.postgres else " OR instr(key, ?) > 0"
                params.append(key_part)
            where.append(f"id IN (SELECT contact_id FROM contact_numbers WHERE {ranges})")
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

    def max_id(self) -> int:
        """The newest contact's id (deleted ones too); 0 for none."""
        return int(self.sql.rows("SELECT COALESCE(MAX(id), 0) FROM contacts")[0][0])

    # ------------------------------------------------------------ writing

    def insert_values(
        self, values: Sequence[ContactValues], keys: Sequence[Sequence[Key]]
    ) -> list[int]:
        """New contacts (as :func:`contact_values` makes them) and their index keys, in
        one transaction; their ids, in order. The bulk path of imports."""
        with write_transaction(self._db):
            ids = self.new_ids(len(values))
            self.insert_rows(
                [(cid, *row) for cid, row in zip(ids, values, strict=True)],
                [(k, cid, i) for cid, ks in zip(ids, keys, strict=True) for k, i in ks],
            )
        return ids

    def new_ids(self, count: int) -> list[int]:
        """``count`` fresh contact ids for :meth:`insert_rows`, inside the same write
        transaction (``bulk()``, ``write_transaction``): rows then name their contact
        without a round trip each."""
        return self.sql.reserve_ids("contacts", count)

    def insert_rows(
        self, rows: Sequence[Sequence[Any]], keys: Sequence[tuple[str, int, int | None]]
    ) -> None:
        """New contacts as ``(id, *values)`` (:data:`WRITE_COLUMNS`, ids from
        :meth:`new_ids`) and their index keys as (key, contact id, phone index)."""
        with write_transaction(self._db):
            self.sql.insert_many("contacts", ("id", *WRITE_COLUMNS), rows)
            self._insert_keys(keys)

    def insert_new(
        self,
        rows: Sequence[Sequence[Any]],
        keys: Sequence[tuple[str, int, int | None]],
        stamp: str,
    ) -> None:
        """:meth:`insert_rows` for contacts new this moment (an import's): each row is
        ``(id, *values[:6])`` (:data:`WRITE_COLUMNS` up to ``search``), with no last
        contact and ``stamp`` for both its times, given once for all the rows."""
        with write_transaction(self._db):
            self.sql.insert_many(
                "contacts",
                ("id", *WRITE_COLUMNS[:6]),
                rows,
                fixed=(("created_at", stamp), ("updated_at", stamp)),
            )
            self._insert_keys(keys)

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

    # ------------------------------------------------------------ bulk writing (imports)

    @contextmanager
    def bulk(self, *, adding: int = 0) -> Iterator[None]:
        """One write transaction around many inserts and updates (an import's), with a
        larger page cache on SQLite while it lasts (:data:`BULK_CACHE_KIB`).

        Measured on 84k contacts (issue 4): one transaction instead of one per 5000
        writes the random-order index pages (names, numbers) to the log once rather
        than once a batch, 35 MB instead of 113 MB, and checkpoints once at the commit;
        ~0.8 s instead of ~1.5 s. ``synchronous`` stays as it is (NORMAL).

        ``adding``: how many new contacts the transaction inserts. When they are at
        least as many as the table held (a first import, say), SQLite's name-order
        index and the name search's insert trigger are set aside and made again
        before the commit (agent/storage/bulk_load.py: ~0.3 s less on 84k new
        contacts), and the new contacts noted for the name search in one statement."""
        with write_transaction(self._db):
            if not isinstance(self._db, pw.SqliteDatabase):
                yield
                return
            previous = widen_page_cache(self._db, BULK_CACHE_KIB)
            try:
                if worth_setting_aside(self._db, "contacts", adding):
                    floor = self.max_id()
                    with set_aside(self._db, _SET_ASIDE):
                        yield
                    self._note_for_search(floor)
                else:
                    yield
            finally:
                restore_page_cache(self._db, previous)

    def _note_for_search(self, floor: int) -> None:
        """What the insert trigger set aside (:data:`_SET_ASIDE`) does, for every
        contact added after ``floor``: noted for the name search's index to take in."""
        if self.sql.rows("SELECT 1 FROM sqlite_master WHERE name = ?", (_SEARCH_TRIGGER,)):
            self.sql.execute(
                "INSERT OR IGNORE INTO contacts_fts_stale (id, indexed) "
                "SELECT id, NULL FROM contacts WHERE id > ? AND deleted_at IS NULL",
                (floor,),
            )

    # ------------------------------------------------------------ the journal, read

    def last_call(self, number: str) -> LastCall | None:
        """The newest finished call with ``number`` (B13 last contact, B14 seen before),
        through the journal's ``calls_number_end_at`` index."""
        cursor = self._db.execute_sql(self._last_call_sql, (number,))  # type: ignore[no-untyped-call]
        rows = cursor.fetchall()
        if not rows:
            return None
        end_at, outcome, direction, talk_s = rows[0]
        at = _utc(end_at)
        assert at is not None
        return LastCall(at=at, outcome=outcome, direction=direction, talk_s=int(talk_s or 0))
