"""Bulk loads on SQLite: a table's secondary indexes (and insert triggers) set aside
while a big import inserts, then made again before the commit.

An index takes rows one by one, in the file's order: for a random-order key (a
name, a phone number) each insert walks and splits pages all over the index.
CREATE INDEX sorts the rows once instead. Measured on 84k new contacts (issue 4):
the name index cost ~0.3 s in the inserts and ~0.05 s made afterwards; on 99k
dial-list entries (issue 5) the number and contact indexes ~0.3 s against ~0.1 s.
An index whose keys come in the file's order (a position) gains nothing: set only
random-order ones aside.

Worth it only when the rows added are at least as many as the table held (a first
import, say): making an index again reads the whole table. Callers decide with
:func:`worth_setting_aside`.

A bulk write also wants a page cache bigger than SQLite's default (2 MiB), which is
smaller than the index pages one transaction of an import changes: they are spilled
to the log mid-transaction and read back (J1, bench/jobs.py: ~30 % less written and
~60 % less read with 8 MiB). :func:`widen_page_cache` and :func:`restore_page_cache`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import peewee as pw


def worth_setting_aside(db: pw.Database, table: str, adding: int) -> bool:
    """Whether ``adding`` new rows are at least as many as ``table`` holds, by its
    newest id (a bound of its rows, read from the primary key at once), on SQLite."""
    if not isinstance(db, pw.SqliteDatabase) or adding <= 0:
        return False
    newest = _rows(db, f"SELECT COALESCE(MAX(id), 0) FROM {table}")[0][0]
    return adding >= int(newest)


@contextmanager
def set_aside(db: pw.Database, names: Sequence[str]) -> Iterator[None]:
    """Inside the caller's write transaction on SQLite: drop these indexes and
    triggers (those that exist), let the caller write, then make them again from the
    very SQL the migrations stored (``sqlite_master``), in the same transaction.

    Readers see the old schema, indexes included, until the commit (WAL), and a
    failed write rolls the drop back with the rest. A trigger set aside did not run
    for the rows written meanwhile: the caller does its work for them."""
    if not names or not isinstance(db, pw.SqliteDatabase):
        yield
        return
    marks = ", ".join("?" * len(names))
    saved = _rows(
        db,
        f"SELECT type, name, sql FROM sqlite_master WHERE name IN ({marks}) "
        "AND type IN ('index', 'trigger') AND sql IS NOT NULL",
        names,
    )
    for kind, name, _ in saved:
        db.execute_sql(f'DROP {kind.upper()} "{name}"')  # type: ignore[no-untyped-call]
    yield
    for _, _, sql in saved:
        db.execute_sql(sql)  # type: ignore[no-untyped-call]


def _rows(db: pw.Database, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    cursor = db.execute_sql(sql, tuple(params))  # type: ignore[no-untyped-call]
    return list(cursor.fetchall())


def widen_page_cache(db: pw.Database, kib: int) -> int | None:
    """SQLite: give this connection a page cache of at least ``kib`` KiB, returning the
    setting to put back with :func:`restore_page_cache`; None when nothing changed
    (PostgreSQL, or a cache that big already)."""
    if not isinstance(db, pw.SqliteDatabase):
        return None
    value = int(_rows(db, "PRAGMA cache_size")[0][0])
    page = int(_rows(db, "PRAGMA page_size")[0][0])
    size = -value * 1024 if value < 0 else value * page  # negative: KiB; positive: pages
    if size >= kib * 1024:
        return None
    db.execute_sql(f"PRAGMA cache_size = {-int(kib)}")  # type: ignore[no-untyped-call]
    return value


def restore_page_cache(db: pw.Database, value: int | None) -> None:
    """Put back the page cache :func:`widen_page_cache` replaced (None: nothing to do)."""
    if value is not None:
        db.execute_sql(f"PRAGMA cache_size = {int(value)}")  # type: ignore[no-untyped-call]
