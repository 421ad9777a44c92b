"""The migration runner: brings a database up to the newest schema, safely in a crowd.

Several agents may start at once on one database (team mode, B5; a CLI command
beside a running agent). The runner takes one lock, then re-reads the version
under it, so every migration is applied exactly once (architecture.md, "Storage"):

- SQLite: ``BEGIN IMMEDIATE`` takes the single writer lock; the others wait in
  SQLite's busy handler (``busy_timeout``).
- PostgreSQL: ``pg_advisory_xact_lock`` on a fixed key inside the transaction;
  PostgreSQL's DDL is transactional, so a failed migration leaves nothing behind.

All pending migrations run in that one transaction: a database is at version N
or N+k, never half-way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Any

import peewee as pw

from agent.core.errors import StorageError
from agent.storage.migrations import MIGRATIONS, Migration
from agent.storage.migrations.base import run_sql, types_for
from agent.storage.models import SchemaVersionRow

log = logging.getLogger(__name__)

# pg_advisory_xact_lock takes a bigint; the bytes of "phonetdb" keep it apart from
# any lock another program may take on a shared server.
ADVISORY_LOCK_KEY = int.from_bytes(b"phonetdb", "big") & 0x7FFF_FFFF_FFFF_FFFF

_CREATE_VERSION_TABLE = """
    CREATE TABLE IF NOT EXISTS schema_version (
        version    INTEGER NOT NULL PRIMARY KEY,
        name       TEXT NOT NULL,
        applied_at {timestamp} NOT NULL
    )
"""


def write_transaction(db: pw.Database) -> AbstractContextManager[Any]:
    """A transaction that writes. On SQLite it takes the writer lock at ``BEGIN``:
    a deferred transaction that reads first and writes later can fail at once with
    SQLITE_BUSY instead of waiting (sqlite.org/lang_transaction.html)."""
    if isinstance(db, pw.SqliteDatabase):
        return db.atomic("IMMEDIATE")
    return db.atomic()


def schema_version(db: pw.Database) -> int:
    """The newest migration applied to ``db``; 0 for an empty database."""
    if not db.table_exists("schema_version"):
        return 0
    value = SchemaVersionRow.select(pw.fn.MAX(SchemaVersionRow.version)).scalar(db)
    return int(value or 0)


def applied_versions(db: pw.Database) -> set[int]:
    """Every migration recorded in ``schema_version`` (empty for a new database)."""
    if not db.table_exists("schema_version"):
        return set()
    query = SchemaVersionRow.select(SchemaVersionRow.version).tuples()
    return {int(v) for (v,) in query.execute(db)}


def migrate(db: pw.Database, migrations: Sequence[Migration] = MIGRATIONS) -> list[int]:
    """Apply every migration not yet recorded to the connected ``db``; return their versions.

    Numbers are reserved in blocks per feature (docs/architecture/storage.md), so a
    database may hold 0020 and not yet 0010 (a branch that landed later): what counts
    is which migrations are recorded, not the highest one. They run in number order.
    Raises :class:`StorageError` when the database is newer than this agent (an older
    agent must not write a schema it does not know) or a migration fails.
    """
    latest = migrations[-1].version if migrations else 0
    known = {m.version for m in migrations}
    done = applied_versions(db)  # without the lock: the usual start finds nothing to do
    _refuse_newer(max(done - known, default=0), latest)
    if known <= done:
        return []
    with _exclusive(db):
        run_sql(db, _CREATE_VERSION_TABLE.format(timestamp=types_for(db).timestamp))
        done = applied_versions(db)
        _refuse_newer(max(done - known, default=0), latest)
        applied = []
        for migration in migrations:
            if migration.version in done:
                continue
            _apply(db, migration)
            applied.append(migration.version)
    if applied:
        log.info("database schema migrated (applied %s)", applied)
    return applied


@contextmanager
def _exclusive(db: pw.Database) -> Iterator[None]:
    if isinstance(db, pw.PostgresqlDatabase):
        with db.atomic():
            run_sql(db, "SELECT pg_advisory_xact_lock(%s)", (ADVISORY_LOCK_KEY,))
            yield
    else:
        with write_transaction(db):
            yield


def _apply(db: pw.Database, migration: Migration) -> None:
    label = f"{migration.version:04d}_{migration.name}"
    log.info("applying migration %s", label)
    try:
        migration.up(db)
    except Exception as exc:
        raise StorageError(f"migration {label} failed: {exc}") from exc
    SchemaVersionRow.insert(
        version=migration.version, name=migration.name, applied_at=datetime.now(UTC)
    ).execute(db)


def _refuse_newer(current: int, latest: int) -> None:
    if current > latest:
        raise StorageError(
            f"the database schema is at version {current}, newer than this agent "
            f"knows ({latest}): update the agent before it uses this database"
        )
