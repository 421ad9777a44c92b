"""A big import on SQLite sets a table's indexes and insert triggers aside and makes
them again before its commit (agent/storage/bulk_load.py): the schema after is the
schema before, a failed import puts everything back, and PostgreSQL is left alone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import peewee as pw
import pytest

from agent.storage import open_database
from agent.storage.bulk_load import (
    restore_page_cache,
    set_aside,
    widen_page_cache,
    worth_setting_aside,
)
from agent.storage.schema import write_transaction


@pytest.fixture
def db(tmp_path: Path) -> Iterator[pw.Database]:
    db = open_database(f"sqlite:///{tmp_path}/bulk.db")
    for sql in (
        "CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
        "CREATE TABLE noted (id INTEGER PRIMARY KEY)",
        "CREATE INDEX people_name ON people (name)",
        "CREATE TRIGGER people_noted AFTER INSERT ON people BEGIN "
        "INSERT INTO noted (id) VALUES (new.id); END",
    ):
        db.execute_sql(sql)
    yield db
    db.close()


def _schema(db: pw.Database) -> list[tuple[Any, ...]]:
    return list(db.execute_sql("SELECT type, name, sql FROM sqlite_master ORDER BY name"))


def _count(db: pw.Database, table: str) -> int:
    return int(db.execute_sql(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def test_indexes_and_triggers_set_aside_come_back_as_the_migrations_wrote_them(
    db: pw.Database,
) -> None:
    before = _schema(db)
    with write_transaction(db), set_aside(db, ("people_name", "people_noted", "no_such")):
        assert _schema(db) != before  # gone while the rows go in
        db.execute_sql("INSERT INTO people (name) VALUES ('Олена'), ('Іван')")
    assert _schema(db) == before
    assert _count(db, "noted") == 0  # the trigger did not run: the caller's to do
    plan = db.execute_sql("EXPLAIN QUERY PLAN SELECT id FROM people WHERE name = 'Іван'")
    assert "people_name" in " ".join(str(row) for row in plan)
    db.execute_sql("INSERT INTO people (name) VALUES ('Петро')")
    assert _count(db, "noted") == 1  # and runs again for the rows after


def test_a_failed_import_puts_the_indexes_back_with_its_rows(db: pw.Database) -> None:
    before = _schema(db)
    with (
        pytest.raises(RuntimeError, match="disk full"),
        write_transaction(db),
        set_aside(db, ("people_name", "people_noted")),
    ):
        db.execute_sql("INSERT INTO people (name) VALUES ('Олена')")
        raise RuntimeError("disk full")
    assert _schema(db) == before
    assert _count(db, "people") == 0


def test_only_an_import_at_least_as_big_as_the_table_is_worth_it(db: pw.Database) -> None:
    assert not worth_setting_aside(db, "people", 0)
    assert worth_setting_aside(db, "people", 1)  # an empty table
    db.execute_sql("INSERT INTO people (name) VALUES ('a'), ('b'), ('c'), ('d')")
    assert not worth_setting_aside(db, "people", 3)
    assert worth_setting_aside(db, "people", 4)


@pytest.mark.postgres
def test_postgresql_keeps_its_indexes(pg_url: str) -> None:
    pg = open_database(pg_url)
    try:
        pg.execute_sql("CREATE TABLE people (id SERIAL PRIMARY KEY, name TEXT)")
        pg.execute_sql("CREATE INDEX people_name ON people (name)")
        assert not worth_setting_aside(pg, "people", 1000)
        with write_transaction(pg), set_aside(pg, ("people_name",)):
            indexes = pg.execute_sql("SELECT indexname FROM pg_indexes WHERE tablename = 'people'")
            assert "people_name" in {row[0] for row in indexes}
    finally:
        pg.close()


def test_a_bulk_writes_page_cache_is_widened_then_put_back(db: pw.Database) -> None:
    def cache() -> int:
        return int(db.execute_sql("PRAGMA cache_size").fetchone()[0])

    before = cache()
    previous = widen_page_cache(db, 8192)
    assert previous == before and cache() == -8192
    assert widen_page_cache(db, 4096) is None  # big enough already: left as it is
    restore_page_cache(db, previous)
    assert cache() == before
    restore_page_cache(db, None)  # nothing was widened: nothing to put back
    assert cache() == before
