"""The async facade: peewee work on one worker thread (architecture.md, "Processes and threads")."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import peewee as pw
import psycopg2
import pytest

from agent.core.errors import ConfigError, StorageError
from agent.storage import Storage, open_database
from agent.storage.migrations.base import run_sql
from tests.storage.calls import finished, uuid_of

PASSWORD = "Sup3r-Secret-pw"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens once the socket is closed


async def test_work_given_to_run_happens_on_one_worker_thread_not_the_loops(db_url: str) -> None:
    async with Storage(db_url) as storage:
        one_by_one = {await storage.run(threading.get_ident) for _ in range(5)}
        at_once = set(await asyncio.gather(*(storage.run(threading.get_ident) for _ in range(20))))

    assert len(one_by_one | at_once) == 1
    assert one_by_one != {threading.get_ident()}


async def test_the_loop_keeps_running_while_the_worker_waits(db_url: str) -> None:
    started, released = threading.Event(), threading.Event()

    def hold_the_worker() -> bool:
        started.set()
        return released.wait(timeout=30)

    async with Storage(db_url) as storage:
        waiting = asyncio.ensure_future(storage.run(hold_the_worker))
        # Only a free loop can see this helper thread finish while the worker is held.
        assert await asyncio.to_thread(started.wait, 30)
        released.set()
        assert await asyncio.wait_for(waiting, timeout=30) is True


async def test_repository_calls_run_through_the_facade_in_the_order_made(db_url: str) -> None:
    async with Storage(db_url) as storage:
        writes = [storage.run(storage.journal.upsert, finished(i)) for i in range(1, 6)]
        counted = storage.run(storage.journal.count)
        await asyncio.gather(*writes)

        assert await counted == 5  # queued after the writes, so it saw them all
        assert await storage.run(storage.journal.get, uuid_of(3)) == finished(3)


def test_the_facade_works_without_an_event_loop_for_cli_commands(db_url: str) -> None:
    with Storage.open_sync(db_url) as storage:
        storage.call(storage.journal.upsert, finished(1))
        worker = storage.call(threading.get_ident)

    assert worker != threading.get_ident()
    with Storage.open_sync(db_url) as again:
        assert again.call(again.journal.get, uuid_of(1)) == finished(1)


def test_call_from_inside_the_worker_runs_inline_instead_of_deadlocking(db_url: str) -> None:
    with Storage.open_sync(db_url) as storage:

        def nested() -> int:
            return storage.call(storage.journal.count) + 1

        assert storage.call(nested) == 1


def test_a_database_error_becomes_a_storage_error_with_its_cause(db_url: str) -> None:
    with Storage.open_sync(db_url) as storage:
        with pytest.raises(StorageError, match="no_such_table") as caught:
            storage.call(run_sql, storage.db, "SELECT * FROM no_such_table")

        assert isinstance(caught.value.__cause__, pw.PeeweeException | psycopg2.Error)
        assert storage.call(storage.journal.count) == 0  # and the storage goes on


def test_atomic_rolls_back_every_write_of_a_failed_function(db_url: str) -> None:
    with Storage.open_sync(db_url) as storage:

        def half_done() -> None:
            with storage.atomic():
                storage.journal.upsert(finished(1))
                storage.kv.set("checkpoint", "2025-03-01")
                raise RuntimeError("the merge failed half-way")

        with pytest.raises(RuntimeError, match="half-way"):
            storage.call(half_done)

        assert storage.call(storage.journal.count) == 0
        assert storage.call(storage.kv.get, "checkpoint") is None


def test_a_repository_used_outside_the_worker_fails_loudly(db_url: str) -> None:
    with Storage.open_sync(db_url) as storage, pytest.raises(pw.InterfaceError):
        storage.journal.count()  # this thread holds no connection


async def test_run_before_start_or_after_close_is_a_storage_error(db_url: str) -> None:
    storage = Storage(db_url)
    with pytest.raises(StorageError, match="not started"):
        await storage.run(threading.get_ident)
    await storage.start()
    await storage.close()
    await storage.close()  # twice is harmless

    with pytest.raises(StorageError, match="not started"):
        await storage.run(threading.get_ident)


async def test_closing_stops_the_worker_thread(db_url: str) -> None:
    storage = Storage(db_url)
    await storage.start()
    worker_id = await storage.run(threading.get_ident)

    await storage.close()

    assert worker_id not in {thread.ident for thread in threading.enumerate()}


def test_a_bad_url_is_a_config_error_before_anything_starts() -> None:
    with pytest.raises(ConfigError, match="not supported") as caught:
        Storage(f"mysql://agent:{PASSWORD}@db/phonet")

    assert PASSWORD not in str(caught.value)


@pytest.mark.postgres
async def test_an_unreachable_postgresql_is_a_storage_error_without_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"postgresql://agent:{PASSWORD}@127.0.0.1:{closed_port()}/phonet?connect_timeout=5"
    storage = Storage(url)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(StorageError, match="cannot open the database") as caught:
        await storage.start()

    message = str(caught.value)
    assert "postgresql://agent:***@127.0.0.1" in message
    assert "refused" in message or "could not connect" in message
    assert caught.value.exit_code == 3  # contracts.md §2: database unreachable
    assert PASSWORD not in message + repr(caught.value.args) + caplog.text
    with pytest.raises(StorageError, match="not started"):
        await storage.run(threading.get_ident)  # the worker is stopped again


def with_password(url: str, password: str | None) -> str:
    parts = urlsplit(url)
    user = parts.username or "postgres"
    login = f"{user}:{quote(password, safe='')}" if password is not None else user
    return urlunsplit(parts._replace(netloc=f"{login}@{parts.hostname}:{parts.port}"))


@pytest.mark.postgres
def test_a_wrong_postgresql_password_is_a_storage_error_that_never_shows_it(pg_url: str) -> None:
    wrong = with_password(pg_url, PASSWORD)
    try:
        psycopg2.connect(wrong).close()
        pytest.skip("this PostgreSQL server lets anyone in (trust): no password to refuse")
    except psycopg2.OperationalError:
        pass

    with pytest.raises(StorageError, match="password authentication failed") as caught:
        Storage.open_sync(wrong)

    assert PASSWORD not in str(caught.value)
    assert "postgresql://postgres:***@127.0.0.1" in str(caught.value)


@pytest.mark.postgres
def test_the_password_may_come_from_the_keyring_apart_from_the_saved_url(pg_url: str) -> None:
    password = urlsplit(pg_url).password
    storage = Storage(with_password(pg_url, None), password=password)

    with storage:
        assert storage.call(storage.journal.count) == 0
    assert password is None or password not in repr(storage) + str(storage.url)


def test_a_sqlite_file_in_a_missing_folder_is_a_storage_error_naming_it(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path}/missing/agent.db"

    with pytest.raises(StorageError, match=r"cannot open the database .*missing"):
        open_database(url)


@pytest.mark.postgres
def test_a_lost_postgresql_connection_fails_one_call_and_the_next_reconnects(pg_url: str) -> None:
    with Storage.open_sync(pg_url) as storage:
        storage.call(storage.journal.upsert, finished(1))
        backend = storage.call(lambda: run_sql(storage.db, "SELECT pg_backend_pid()").fetchone()[0])
        admin = psycopg2.connect(pg_url)
        try:
            admin.autocommit = True
            with admin.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(%s)", (backend,))
        finally:
            admin.close()

        with pytest.raises(StorageError):
            storage.call(storage.journal.count)

        assert storage.call(storage.journal.get, uuid_of(1)) == finished(1)


def test_sqlite_is_opened_with_wal_foreign_keys_a_busy_timeout_and_normal_sync(
    tmp_path: Any,
) -> None:
    db = open_database(f"sqlite:///{tmp_path}/agent.db")
    try:
        pragmas = {
            name: run_sql(db, f"PRAGMA {name}").fetchone()[0]
            for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
        }
    finally:
        db.close()

    assert pragmas == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": 15000,
        "synchronous": 1,
    }


@pytest.mark.postgres
def test_a_postgresql_session_speaks_utc(pg_url: str) -> None:
    db = open_database(pg_url)
    try:
        assert run_sql(db, "SHOW TIME ZONE").fetchone()[0] == "UTC"
    finally:
        db.close()


async def test_a_lookup_reads_on_its_own_thread_and_does_not_queue_behind_writes(
    db_url: str,
) -> None:
    storage = Storage(db_url)
    await storage.start()
    try:
        release = threading.Event()
        writer_busy = asyncio.ensure_future(storage.run(release.wait, 10))
        await asyncio.sleep(0.05)
        assert not writer_busy.done(), "the writer is held"
        assert await asyncio.wait_for(storage.read(storage.journal.count), 5) == 0
        reader = await storage.read(threading.get_ident)
        assert reader != storage._worker_ident
        release.set()
        await writer_busy
    finally:
        await storage.close()


def test_none_is_stored_as_null_through_sqlite3s_none_adapter(tmp_path: Any) -> None:
    # agent/storage/database.py registers an adapter for None (it binds faster): what
    # is written and what is read back must not change.
    with Storage.open_sync(f"sqlite:///{tmp_path}/none.db") as storage:

        def write_and_read() -> list[tuple[Any, ...]]:
            storage.db.execute_sql("CREATE TABLE t (a, b TEXT, c INTEGER NOT NULL DEFAULT 7)")
            storage.db.execute_sql(
                "INSERT INTO t (a, b) VALUES (?, ?), (?, ?)", (None, "x", 1, None)
            )
            rows = storage.db.execute_sql("SELECT a IS NULL, b IS NULL, typeof(a), c FROM t")
            return [tuple(row) for row in rows]

        assert storage.call(write_and_read) == [(1, 0, "null", 7), (0, 1, "integer", 7)]
