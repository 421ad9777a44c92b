"""Repositories: the queries the rest of the agent may make of the database.

The core decides what a row is (``agent/core/journal.py``); these only persist and
find rows. Methods are synchronous and must run on the storage worker thread:
``await storage.run(storage.journal.get, uuid)``, or ``storage.call(...)`` from a
CLI command (agent/storage/database.py).
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from itertools import chain
from typing import Any, Final

import peewee as pw

from agent.core.errors import InvalidInput
from agent.core.events import Direction, normalise_uuid
from agent.core.journal import JournalEntry, Source
from agent.core.outcomes import Outcome
from agent.storage.migrations.base import PEEWEE_ERRORS
from agent.storage.models import CallRow, KeyValueRow, SettingRow, utc_text
from agent.storage.schema import write_transaction

MAX_PAGE: Final = 500  # contracts.md §4: GET /api/journal, max limit 500
COUNT_CAP: Final = 10_000
"""``list`` counts matching rows only up to here; past it ``total`` is None (contracts.md §4:
"total may be null where counting is costly"): the bounded count walks at most this many
index entries (a few ms), a full one grows with the journal (~50-100 ms at 1M calls)."""

_UUID = re.compile(r"[0-9a-f]{32}")
_IN_CHUNK = 500  # uuids per IN (...) list; far below SQLite's and PostgreSQL's limits
_INSERT_CHUNK = 1000  # rows per PostgreSQL INSERT statement

# Column order of CallRow rows, and how each JournalEntry field becomes a column.
_CALL_FIELDS: Final = (
    CallRow.uuid,
    CallRow.direction,
    CallRow.number,
    CallRow.operator_ext,
    CallRow.dial_at,
    CallRow.answer_at,
    CallRow.end_at,
    CallRow.talk_s,
    CallRow.duration_s,
    CallRow.disposition,
    CallRow.outcome,
    CallRow.recording_url,
    CallRow.contact_id,
    CallRow.contact_name,
    CallRow.parent_uuid,
    CallRow.trunk,
    CallRow.source,
    CallRow.final,
)
CALL_COLUMN_NAMES: Final = tuple(f'"{field.column_name}"' for field in _CALL_FIELDS)
CALL_COLUMNS: Final = ", ".join(CALL_COLUMN_NAMES)
_UPSERT_HEAD: Final = f"INSERT INTO calls ({CALL_COLUMNS}) VALUES "
_UPSERT_TAIL: Final = " ON CONFLICT (uuid) DO UPDATE SET " + ", ".join(
    f'"{field.column_name}" = excluded."{field.column_name}"' for field in _CALL_FIELDS[1:]
)

# ------------------------------------------------------------------ bulk inserts

# Rows per SQLite INSERT statement, largest first: a bulk insert is a few multi-row
# statements (one of each size at most, below the largest), not one per row. The
# sizes are few so that few statements are prepared and kept (sqlite3 caches each
# text), and the largest holds at most _SQLITE_VALUES values: ~110 bytes each once
# prepared, so ~1 MB. Each statement costs ~0.3 ms besides its rows (84k contact
# index keys: 0.11-0.15 s in 2048-row statements, 0.2-0.27 s in 256-row ones).
_SQLITE_ROWS: Final = (2048, 1024, 512, 256, 128, 64, 32, 16, 8, 4, 2, 1)
_SQLITE_VALUES: Final = 8192
_PG_PAGE: Final = 1000  # rows per PostgreSQL INSERT (psycopg2's execute_values)


def insert_rows(
    db: pw.Database,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    tail: str = "",
    *,
    fixed: Mapping[str, str] | None = None,
) -> None:
    """``INSERT INTO table (columns) VALUES …`` for many rows of values, in the caller's
    transaction; ``tail`` ends each statement (``ON CONFLICT …``). ``fixed`` names
    columns every row gives the same value, as SQL literals (``{"source": "'import'"}``):
    written into the statement, not bound once a row.

    SQLite takes multi-row statements (at most SQLITE_MAX_VARIABLE_NUMBER values each)
    rather than ``executemany``: sqlite3 lets go of the GIL while SQLite runs a
    statement and takes it back for the next row's values, so ``executemany`` on the
    storage worker takes the GIL back once a row, and waits for it each time the event
    loop holds it (CPython's switch interval, 5 ms). A statement of hundreds of rows
    waits once (J1: the history import fetches pages on the loop meanwhile; BENCHMARKS.md
    "jobs"). PostgreSQL gets psycopg2's ``execute_values`` (multi-row statements too).
    """
    if not rows:
        return
    fixed = fixed or {}
    head = f"INSERT INTO {table} ({', '.join([*columns, *fixed])}) VALUES "
    literals = "".join(f", {value}" for value in fixed.values())
    with PEEWEE_ERRORS:
        cursor = db.cursor()  # type: ignore[no-untyped-call]
        if isinstance(db, pw.PostgresqlDatabase):
            from psycopg2.extras import execute_values  # loaded only for PostgreSQL

            template = f"({', '.join(['%s'] * len(columns))}{literals})"
            execute_values(cursor, f"{head}%s{tail}", rows, template, page_size=_PG_PAGE)
            return
        width = len(columns)
        limit = min(sqlite_variable_limit(db), _SQLITE_VALUES)
        done = 0
        for size in _SQLITE_ROWS:
            if size > 1 and size * width > limit:
                continue
            sql = _sqlite_insert(head, tail, width, literals, size)
            while len(rows) - done >= size:
                cursor.execute(sql, list(chain.from_iterable(rows[done : done + size])))
                done += size


def sqlite_variable_limit(db: pw.Database) -> int:
    """SQLite's limit on the values of one statement as this thread's connection has it
    (32766 since SQLite 3.32, 999 before)."""
    connection = db.connection()  # type: ignore[no-untyped-call]
    return int(connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))


@lru_cache(maxsize=64)
def _sqlite_insert(head: str, tail: str, width: int, literals: str, count: int) -> str:
    row = f"({', '.join('?' * width)}{literals})"
    return f"{head}{', '.join([row] * count)}{tail}"


# JournalRepository has a method named ``list``: inside the class, these stand for the types.
_Entries = list[JournalEntry]
_Conditions = list[pw.Expression]


def _time(value: datetime | None, what: str) -> str | None:
    return None if value is None else utc_text(value, what)


def call_row(entry: JournalEntry) -> tuple[Any, ...]:
    """The row's column values, converted for the driver as UtcDateTimeField would."""
    if not _UUID.fullmatch(entry.uuid):
        raise InvalidInput(
            f"journal uuid {entry.uuid!r} is not 32 lower-case hex characters "
            "(normalise it with agent.core.events.normalise_uuid)",
            field="uuid",
        )
    return (
        entry.uuid,
        entry.direction.value,
        entry.number,
        entry.operator_ext,
        utc_text(entry.dial_at, "dial_at"),
        _time(entry.answer_at, "answer_at"),
        _time(entry.end_at, "end_at"),
        entry.talk_s,
        entry.duration_s,
        entry.disposition,
        entry.outcome.value if entry.outcome is not None else None,
        entry.recording_url,
        entry.contact_id,
        entry.contact_name,
        entry.parent_uuid,
        entry.trunk,
        entry.source.value,
        entry.final,
    )


def _from_row(row: Sequence[Any]) -> JournalEntry:
    (uuid, direction, number, operator_ext, dial_at, answer_at, end_at, talk_s, duration_s,
     disposition, outcome, recording_url, contact_id, contact_name, parent_uuid, trunk,
     source, final) = row  # fmt: skip
    return JournalEntry(
        uuid=uuid,
        direction=Direction(direction),
        number=number,
        operator_ext=operator_ext,
        dial_at=dial_at,
        answer_at=answer_at,
        end_at=end_at,
        talk_s=talk_s,
        duration_s=duration_s,
        disposition=disposition,
        outcome=Outcome(outcome) if outcome is not None else None,
        recording_url=recording_url,
        contact_id=contact_id,
        contact_name=contact_name,
        parent_uuid=parent_uuid,
        trunk=trunk,
        source=Source(source),
        final=bool(final),
    )


class JournalRepository:
    """The ``calls`` table: one row per call uuid (M3, B4, B14, J1)."""

    def __init__(self, db: pw.Database, *, count_cap: int = COUNT_CAP) -> None:
        self._db = db
        self._count_cap = count_cap

    def _select(self) -> pw.ModelSelect[CallRow]:
        return CallRow.select(*_CALL_FIELDS)

    def _entries(self, query: pw.ModelSelect[CallRow]) -> _Entries:
        return [_from_row(row) for row in query.tuples().execute(self._db)]

    def get(self, uuid: str) -> JournalEntry | None:
        """The row of one call; the uuid may come dashed or upper-case."""
        found = self._entries(self._select().where(CallRow.uuid == normalise_uuid(uuid)))
        return found[0] if found else None

    def get_many(self, uuids: Iterable[str], *, lock: bool = False) -> dict[str, JournalEntry]:
        """The rows of these calls that exist, by normalised uuid.

        ``lock=True`` (inside ``storage.atomic()``) holds the rows until the
        transaction ends (PostgreSQL ``FOR UPDATE``; SQLite's write transaction already
        excludes other writers), for a read-merge-write that no other agent interleaves.
        """
        wanted = sorted({normalise_uuid(u) for u in uuids})
        found: dict[str, JournalEntry] = {}
        for start in range(0, len(wanted), _IN_CHUNK):
            query = self._select().where(CallRow.uuid.in_(wanted[start : start + _IN_CHUNK]))
            if lock and isinstance(self._db, pw.PostgresqlDatabase):
                query = query.for_update()
            found.update((entry.uuid, entry) for entry in self._entries(query))
        return found

    def upsert(self, entry: JournalEntry) -> None:
        """Insert the row, or replace every field of the row with its uuid."""
        self.upsert_many((entry,))

    def upsert_many(self, entries: Iterable[JournalEntry]) -> int:
        """``upsert`` each entry, all in one transaction; returns how many rows.

        When one uuid comes twice, the last entry wins (PostgreSQL refuses to
        update one row twice in one statement, so duplicates are folded first).
        """
        rows = list({row[0]: row for row in map(call_row, entries)}.values())
        if not rows:
            return 0
        # Imports write 100k rows: the statement is made once and the driver's batch
        # call sends the rows (peewee's multi-row INSERT costs ~100 us a row to build).
        with write_transaction(self._db), PEEWEE_ERRORS:
            cursor = self._db.cursor()  # type: ignore[no-untyped-call]
            if isinstance(self._db, pw.PostgresqlDatabase):
                sql = f"{_UPSERT_HEAD}%s{_UPSERT_TAIL}"
                from psycopg2.extras import execute_values  # loaded only for PostgreSQL

                execute_values(cursor, sql, rows, page_size=_INSERT_CHUNK)
            else:
                placeholders = ", ".join("?" * len(_CALL_FIELDS))
                cursor.executemany(f"{_UPSERT_HEAD}({placeholders}){_UPSERT_TAIL}", rows)
        return len(rows)

    def list(
        self,
        limit: int = 50,
        offset: int = 0,
        since: datetime | None = None,
        operator_ext: str | None = None,
    ) -> tuple[_Entries, int | None]:
        """A page of finished calls, newest ``end_at`` first, and the total.

        ``since`` keeps calls that ended at or after it; ``operator_ext`` keeps one
        operator's calls ("mine"), None all ("team"). ``limit`` above
        :data:`MAX_PAGE` is cut to it. ``total`` is None when more than
        :data:`COUNT_CAP` calls match; a client then pages until a short page.
        """
        if limit < 1 or offset < 0:
            raise ValueError(f"limit must be >= 1 and offset >= 0, got {limit}, {offset}")
        limit = min(limit, MAX_PAGE)
        where = [CallRow.end_at.is_null(False)]
        if since is not None:
            where.append(CallRow.end_at >= since)
        if operator_ext is not None:
            where.append(CallRow.operator_ext == operator_ext)
        query = (
            self._select()
            .where(*where)
            .order_by(CallRow.end_at.desc(), CallRow.uuid.desc())
            .limit(limit)
            .offset(offset)
        )
        items = self._entries(query)
        if 0 < len(items) < limit or (offset == 0 and not items):
            return items, offset + len(items)  # the last page tells the total by itself
        return items, self._capped_count(where)

    def _capped_count(self, where: _Conditions) -> int | None:
        # Ordered like the page, so both engines walk the same index instead of the table.
        capped = (
            CallRow.select(pw.SQL("1"))
            .where(*where)
            .order_by(CallRow.end_at.desc())
            .limit(self._count_cap + 1)
        )
        count = int(
            pw.Select([capped.alias("capped")], [pw.fn.COUNT(pw.SQL("*"))]).scalar(self._db)
        )
        return count if count <= self._count_cap else None

    def open_calls(self, operator_ext: str | None = None) -> _Entries:
        """Calls with no end yet (in progress, or left open by a crash), oldest first."""
        query = self._select().where(CallRow.end_at.is_null())
        if operator_ext is not None:
            query = query.where(CallRow.operator_ext == operator_ext)
        return self._entries(query.order_by(CallRow.dial_at, CallRow.uuid))

    def latest_end_at(self, operator_ext: str | None = None) -> datetime | None:
        """When the newest finished call (of that extension) ended."""
        query = CallRow.select(CallRow.end_at).where(CallRow.end_at.is_null(False))
        if operator_ext is not None:
            query = query.where(CallRow.operator_ext == operator_ext)
        return self._first_time(query)

    def last_seen(self, number: str) -> datetime | None:
        """When the last finished call with this number (as the journal writes it:
        E.164, or the other extension) ended: B14 "seen before"."""
        query = CallRow.select(CallRow.end_at).where(
            CallRow.number == number, CallRow.end_at.is_null(False)
        )
        return self._first_time(query)

    def _first_time(self, query: pw.ModelSelect[CallRow]) -> datetime | None:
        # ORDER BY … LIMIT 1 rather than MAX(): both engines then walk the index backwards.
        rows = list(query.order_by(CallRow.end_at.desc()).limit(1).tuples().execute(self._db))
        value: datetime | None = rows[0][0] if rows else None
        return value

    def count(self) -> int:
        """Every row, open calls included."""
        return int(CallRow.select().count(self._db))


# ------------------------------------------------------------------ small state


def _dump_json(value: Any, what: str) -> str:
    """Canonical JSON: equal values give equal text (compare_and_set compares text)."""
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what}: not a JSON value: {exc}") from exc


class KeyValueRepository:
    """The ``kv`` table: checkpoints and small state, as JSON values by key."""

    def __init__(self, db: pw.Database) -> None:
        self._db = db

    def get(self, key: str, default: Any = None) -> Any:
        rows = list(
            KeyValueRow.select(KeyValueRow.value)
            .where(KeyValueRow.key == key)
            .tuples()
            .execute(self._db)
        )
        return json.loads(rows[0][0]) if rows else default

    def set(self, key: str, value: Any) -> None:
        (
            KeyValueRow.insert(key=key, value=_dump_json(value, key), updated_at=_now())
            .on_conflict(
                conflict_target=[KeyValueRow.key],
                preserve=[KeyValueRow.value, KeyValueRow.updated_at],
            )
            .execute(self._db)
        )

    def delete(self, key: str) -> bool:
        """Forget ``key``; False when it was not there."""
        return int(KeyValueRow.delete().where(KeyValueRow.key == key).execute(self._db)) > 0

    def compare_and_set(self, key: str, expected: Any, value: Any) -> bool:
        """Set ``key`` to ``value`` only if it now holds ``expected`` (None: absent).

        One statement, so it is atomic across agents sharing the database. Returns
        whether it was set.
        """
        new = _dump_json(value, key)
        query: pw.ModelInsert | pw.ModelUpdate
        if expected is None:
            query = (
                KeyValueRow.insert(key=key, value=new, updated_at=_now())
                .on_conflict_ignore()
                .as_rowcount()
            )
        else:
            query = KeyValueRow.update(value=new, updated_at=_now()).where(
                KeyValueRow.key == key, KeyValueRow.value == _dump_json(expected, key)
            )
        return int(query.execute(self._db)) > 0  # rows changed


TEAM_SCOPE: Final = "team"
_SECRET_NAME = re.compile(r".*(api_?key|password|passwd|secret|token|session_?id)", re.IGNORECASE)


def operator_scope(domain: str, ext: str) -> str:
    """The settings scope of one operator (features.md: keyed by domain + extension)."""
    return f"operator:{domain.strip().lower()}/{ext.strip()}"


class SettingsRepository:
    """The ``settings`` table: one JSON value per (scope, name).

    Scopes: :data:`TEAM_SCOPE` and :func:`operator_scope`. What a setting means,
    its type and default belong to the typed settings layer (agent/core/settings.py);
    this only keeps the values. Secrets never come here (contracts.md §2: they live
    in the OS keyring); a name that reads like one (``*api_key``, ``*password``,
    ``*token``, ``*secret``…) is refused, as a last line of defence.
    """

    def __init__(self, db: pw.Database) -> None:
        self._db = db

    def load(self, scope: str) -> dict[str, Any]:
        """Every stored setting of ``scope``; a setting never saved is absent."""
        query = (
            SettingRow.select(SettingRow.name, SettingRow.value)
            .where(SettingRow.scope == _check_scope(scope))
            .tuples()
        )
        return {name: json.loads(value) for name, value in query.execute(self._db)}

    def save(self, scope: str, values: Mapping[str, Any]) -> None:
        """Merge ``values`` into ``scope``: the names given are replaced whole
        (a dict value too), the others are kept. None is stored as JSON null."""
        scope = _check_scope(scope)
        dumped = _dump_settings(values)
        if not dumped:
            return
        now = _now()
        rows = [(scope, name, value, now) for name, value in dumped.items()]
        with write_transaction(self._db):
            (
                SettingRow.insert_many(
                    rows,
                    fields=[
                        SettingRow.scope,
                        SettingRow.name,
                        SettingRow.value,
                        SettingRow.updated_at,
                    ],
                )
                .on_conflict(
                    conflict_target=[SettingRow.scope, SettingRow.name],
                    preserve=[SettingRow.value, SettingRow.updated_at],
                )
                .execute(self._db)
            )

    def remove(self, scope: str, names: Iterable[str]) -> None:
        """Forget these settings of ``scope``: they fall back to their defaults."""
        names = list(names)
        if names:
            SettingRow.delete().where(
                SettingRow.scope == _check_scope(scope), SettingRow.name.in_(names)
            ).execute(self._db)


def _check_scope(scope: str) -> str:
    if not scope or len(scope) > 300 or scope != scope.strip():
        raise InvalidInput(f"settings scope {scope!r} is empty, too long or padded", field="scope")
    return scope


def _dump_settings(values: Mapping[str, Any]) -> dict[str, str]:
    dumped = {}
    for name, value in values.items():
        if not isinstance(name, str) or not name or len(name) > 200:
            raise InvalidInput(f"setting name {name!r} is empty or too long", field=str(name))
        secret = _secret_path(name, value)
        if secret:
            raise InvalidInput(
                f"setting {secret!r} looks like a secret; secrets live in the OS keyring, "
                "never in the database",
                field=name,
            )
        dumped[name] = _dump_json(value, f"setting {name}")
    return dumped


def _secret_path(name: str, value: Any) -> str | None:
    """The dotted name of the first key under ``name`` that reads like a secret."""
    if _SECRET_NAME.fullmatch(name):
        return name
    if isinstance(value, Mapping):
        for key, inner in value.items():
            found = _secret_path(str(key), inner)
            if found:
                return f"{name}.{found}"
    return None


def _now() -> datetime:
    # An adapter may read the clock; only the core takes time as an argument.
    return datetime.now(UTC)
