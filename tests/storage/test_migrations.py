"""Versioned migrations, applied once even when several agents start together (B5)."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import peewee as pw
import pytest

import agent.storage.migrations as migrations_package
from agent.core.errors import StorageError
from agent.storage import open_database
from agent.storage.migrations import MIGRATIONS
from agent.storage.migrations.base import Migration, execute, run_sql, types_for
from agent.storage.models import MODELS
from agent.storage.schema import migrate, schema_version

ROOT = Path(__file__).resolve().parents[2]


def test_a_fresh_database_gets_every_migration_and_a_second_run_does_nothing(
    db_url: str,
) -> None:
    db = open_database(db_url)
    try:
        assert schema_version(db) == 0
        assert migrate(db) == [m.version for m in MIGRATIONS]
        assert migrate(db) == []
        assert schema_version(db) == MIGRATIONS[-1].version
        names = [row[0] for row in run_sql(db, "SELECT name FROM schema_version ORDER BY version")]
    finally:
        db.close()

    assert names == [m.name for m in MIGRATIONS]


def test_every_model_matches_the_table_the_migrations_made(db_url: str) -> None:
    db = open_database(db_url)
    try:
        migrate(db)
        for model in MODELS:
            table = model._meta.table_name
            columns = {column.name: column.null for column in db.get_columns(table)}
            fields = {f.column_name: f.null for f in model._meta.sorted_fields}
            assert columns == fields, table
    finally:
        db.close()


def test_every_migration_file_is_listed_so_a_frozen_build_carries_it() -> None:
    folder = Path(migrations_package.__file__).parent
    files = sorted(path.stem for path in folder.glob("m[0-9][0-9][0-9][0-9]_*.py"))

    assert files == [f"m{m.version:04d}_{m.name}" for m in MIGRATIONS]


def counting_migrations() -> tuple[Migration, ...]:
    """Two migrations that leave a row each time they run: a second run shows."""

    def first(db: pw.Database) -> None:
        run_sql(db, "CREATE TABLE applied (version INTEGER NOT NULL)")
        run_sql(db, "INSERT INTO applied VALUES (1)")

    def second(db: pw.Database) -> None:
        run_sql(db, "INSERT INTO applied VALUES (2)")

    return (Migration(1, "first", first), Migration(2, "second", second))


def test_agents_migrating_one_database_at_once_apply_each_migration_once(db_url: str) -> None:
    agents = 8
    barrier = threading.Barrier(agents)
    results: list[list[int] | BaseException] = []

    def start_agent() -> None:
        try:
            db = open_database(db_url)
            try:
                barrier.wait(timeout=30)
                results.append(migrate(db, counting_migrations()))
            finally:
                db.close()
        except BaseException as exc:
            results.append(exc)

    threads = [threading.Thread(target=start_agent) for _ in range(agents)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert sorted(map(str, results)) == sorted(["[1, 2]"] + ["[]"] * (agents - 1))
    db = open_database(db_url)
    try:
        applied = [row[0] for row in run_sql(db, "SELECT version FROM applied ORDER BY version")]
        versions = [row[0] for row in run_sql(db, "SELECT version FROM schema_version")]
    finally:
        db.close()
    assert applied == [1, 2]
    assert sorted(versions) == [1, 2]


def test_agent_processes_starting_at_once_on_one_database_all_start(db_url: str) -> None:
    # Each process imports, then waits on stdin, so all of them migrate at the same moment.
    code = (
        "import sys\n"
        "from agent.storage import Storage\n"
        "sys.stdin.readline()\n"
        "Storage.open_sync(sys.argv[1]).close_sync()\n"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code, db_url],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(5)
    ]
    try:
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        errors = [process.communicate(timeout=120)[1] for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()

    assert [process.returncode for process in processes] == [0] * 5, errors
    db = open_database(db_url)
    try:
        versions = sorted(row[0] for row in run_sql(db, "SELECT version FROM schema_version"))
    finally:
        db.close()
    assert versions == [m.version for m in MIGRATIONS]


def test_a_failed_migration_leaves_the_database_as_it_was(db_url: str) -> None:
    def broken(db: pw.Database) -> None:
        run_sql(db, "CREATE TABLE half (n INTEGER)")
        run_sql(db, "INSERT INTO no_such_table VALUES (1)")

    db = open_database(db_url)
    try:
        with pytest.raises(StorageError, match="migration 0002_broken failed"):
            migrate(db, (*counting_migrations()[:1], Migration(2, "broken", broken)))

        assert schema_version(db) == 0
        assert not db.table_exists("applied")
        assert not db.table_exists("half")
    finally:
        db.close()


def test_a_database_newer_than_the_agent_is_refused(db_url: str) -> None:
    db = open_database(db_url)
    try:
        migrate(db, counting_migrations())

        with pytest.raises(StorageError, match="version 2, newer than this agent knows \\(1\\)"):
            migrate(db, counting_migrations()[:1])
    finally:
        db.close()


def test_the_column_types_given_to_migrations_work_on_both_engines(db_url: str) -> None:
    def contacts(db: pw.Database) -> None:
        t = types_for(db)
        execute(
            db,
            f"""
            CREATE TABLE contacts (
                id          {t.id_primary_key},
                name        TEXT NOT NULL,
                attributes  {t.json} NOT NULL DEFAULT '{{}}',
                vip         {t.boolean} NOT NULL DEFAULT {t.false},
                external_id {t.bigint},
                created_at  {t.timestamp} NOT NULL
            )
            """,
            "CREATE INDEX contacts_name ON contacts (name)",
        )

    db = open_database(db_url)
    try:
        migrate(db, (Migration(1, "contacts", contacts),))
        p = db.param
        for name in ("a", "b"):
            run_sql(
                db,
                f"INSERT INTO contacts (name, created_at, external_id) VALUES ({p}, {p}, {p})",
                (name, "2025-03-01T09:00:00.000000+00:00", 2**40),
            )
        rows = list(run_sql(db, "SELECT id, name, attributes, vip FROM contacts ORDER BY id"))
    finally:
        db.close()

    assert [(id_, name, attributes, bool(vip)) for id_, name, attributes, vip in rows] == [
        (1, "a", "{}", False),
        (2, "b", "{}", False),
    ]


def test_a_migration_of_a_lower_block_that_landed_later_is_still_applied(db_url: str) -> None:
    """Feature areas own blocks of numbers (0010…, 0020…): a database that already
    has 0020 must still get 0010 when it arrives."""
    made: list[str] = []

    def table(name: str) -> Migration:
        version = int(name[1:])
        return Migration(version, name, lambda db: made.append(name))

    db = open_database(db_url)
    try:
        assert migrate(db, (table("m20"),)) == [20]
        assert migrate(db, (table("m10"), table("m20"))) == [10]
        assert made == ["m20", "m10"]
        assert migrate(db, (table("m10"), table("m20"))) == []
    finally:
        db.close()
