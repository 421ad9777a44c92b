"""The database adapter: a peewee database per URL, and :class:`Storage`, its async facade.

peewee work runs on one worker thread behind an async facade (architecture.md,
"Processes and threads"): the thread owns the connection (peewee keeps connections
per thread, sqlite3 refuses to share one), the event loop never blocks on a query,
and queries run one at a time in the order they were asked for.

Driver errors become :class:`StorageError` at this boundary (rule 6); a bad URL is a
:class:`ConfigError`. Neither message ever holds the password.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import replace
from types import TracebackType
from typing import Any, Final, ParamSpec, TypeVar

import peewee as pw

from agent.core.errors import StorageError
from agent.pg_driver import enable_postgresql
from agent.storage.repositories import JournalRepository, KeyValueRepository, SettingsRepository
from agent.storage.schema import migrate, schema_version, write_transaction
from agent.storage.urls import DatabaseUrl, parse_database_url

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_S: Final = 15.0
"""How long a writer waits for another (an import, a second agent) before failing."""
PG_CONNECT_TIMEOUT_S: Final = 10


def _driver_errors() -> tuple[type[BaseException], ...]:
    """The errors a driver raises; psycopg2's only once it is loaded (agent/pg_driver.py)."""
    pg = sys.modules.get("psycopg2")
    return (pw.PeeweeException, sqlite3.Error, *((pg.Error,) if pg is not None else ()))


def _bind_none_at_once() -> None:
    """sqlite3 binds None as NULL only after looking for an adapter, and finding none
    costs an AttributeError raised and dropped (``None.__conform__``): ~0.3 µs a value,
    paid for every None of an import's rows on the storage worker, holding the GIL (J1:
    ~4 a call row, 2 an event). An adapter that gives None back finds it at once:
    binding a row of six values, four of them None, costs half as much. NULL is written
    as before. sqlite3's adapters are the process's: registering again changes nothing."""
    sqlite3.register_adapter(type(None), _NONE_ADAPTED.get)  # C, no Python frame


_NONE_ADAPTED: Final[dict[None, None]] = {}


class _PostgresqlDatabase(pw.PostgresqlDatabase):
    def _initialize_connection(self, conn: Any) -> None:
        # The session speaks UTC, so ad-hoc SQL (date_trunc, reports) sees what we stored.
        with conn.cursor() as cursor:
            cursor.execute("SET TIME ZONE 'UTC'")


def create_database(url: str | DatabaseUrl) -> pw.Database:
    """A peewee database for ``url``, not connected yet (``db.connect()`` connects
    the calling thread). ``autoconnect`` is off: a query from a thread that holds no
    connection fails loudly instead of quietly opening a second one."""
    parsed = url if isinstance(url, DatabaseUrl) else parse_database_url(url)
    if parsed.dialect == "sqlite":
        assert parsed.path is not None
        _bind_none_at_once()
        return pw.SqliteDatabase(
            parsed.path,
            # sqlite3's timeout is SQLite's busy_timeout: set at connect, before the pragmas.
            timeout=SQLITE_BUSY_TIMEOUT_S,
            pragmas=[
                ("journal_mode", "wal"),  # readers never wait for the writer
                ("synchronous", "normal"),  # durable at checkpoints; safe with WAL
                ("foreign_keys", 1),
            ],
            autoconnect=False,
        )
    enable_postgresql()
    params: dict[str, Any] = {
        "connect_timeout": PG_CONNECT_TIMEOUT_S,
        "application_name": "phonet-agent",
    }
    params.update(
        (key, value)
        for key, value in (
            ("host", parsed.host),
            ("port", parsed.port),
            ("user", parsed.user),
            ("password", parsed.password),
        )
        if value is not None
    )
    params.update(parsed.options)
    return _PostgresqlDatabase(parsed.dbname, autoconnect=False, **params)


def open_database(url: str | DatabaseUrl) -> pw.Database:
    """``create_database(url)`` connected in the calling thread.

    For one-off use (a doctor check, a test); the agent uses :class:`Storage`.
    Raises :class:`ConfigError` for a bad URL, :class:`StorageError` when the
    database cannot be reached or opened.
    """
    parsed = url if isinstance(url, DatabaseUrl) else parse_database_url(url)
    db = create_database(parsed)
    _connect(db, parsed)
    return db


def _connect(db: pw.Database, url: DatabaseUrl) -> None:
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    while True:
        try:
            db.connect()
            return
        except pw.OperationalError as exc:
            # The first opening of a new SQLite file switches it to WAL, which needs the
            # file alone; SQLite then answers "locked" at once, without waiting in its
            # busy handler, to the others opening it at that moment. They try again.
            retry = isinstance(db, pw.SqliteDatabase) and "locked" in str(exc)
            if retry and time.monotonic() < deadline:
                time.sleep(0.02)
                continue
            raise StorageError(
                _message(f"cannot open the database {url.display}", exc, url)
            ) from exc
        except _driver_errors() as exc:
            raise StorageError(
                _message(f"cannot open the database {url.display}", exc, url)
            ) from exc


def _message(context: str, exc: BaseException, url: DatabaseUrl) -> str:
    detail = " ".join(str(exc).split()) or type(exc).__name__
    text = f"{context}: {detail}"
    # The driver never echoes the password we pass as a parameter; this is a second net.
    if url.password and len(url.password) >= 4:
        text = text.replace(url.password, "***")
    return text


class Storage:
    """The database of one agent: repositories plus the worker thread they run on.

    Async use (the agent)::

        storage = Storage(url)
        await storage.start()                     # connect + migrate, on the worker
        entry = await storage.run(storage.journal.get, uuid)
        await storage.close()

    Sync use (CLI commands, tests)::

        with Storage.open_sync(url) as storage:
            storage.call(storage.journal.upsert_many, entries)

    Repository methods must run on the worker, through :meth:`run` or :meth:`call`;
    one function given to either may make several calls and use :meth:`atomic`.
    """

    def __init__(self, url: str | DatabaseUrl, *, password: str | None = None) -> None:
        """``password`` (PostgreSQL), when given, replaces the URL's: the saved ``--db`` URL
        holds none (config.toml has no secrets), the keyring does. With neither, libpq
        still reads ``PGPASSWORD`` and ``~/.pgpass``."""
        parsed = url if isinstance(url, DatabaseUrl) else parse_database_url(url)
        self.url = parsed if password is None else replace(parsed, password=password)
        self.db = create_database(self.url)
        self.journal = JournalRepository(self.db)
        self.kv = KeyValueRepository(self.db)
        self.settings = SettingsRepository(self.db)
        self._executor: ThreadPoolExecutor | None = None
        self._worker_ident: int | None = None
        self._reader: ThreadPoolExecutor | None = None  # lookups: see read()

    def __repr__(self) -> str:
        return f"Storage({self.url.display!r})"

    @property
    def dialect(self) -> str:
        return self.url.dialect

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start the worker, connect and bring the schema up to date.

        Raises :class:`StorageError` (unreachable, locked past the busy timeout, a
        schema newer than this agent); the worker is stopped again then.
        """
        self._spawn()
        try:
            await self.run(self._open)
        except BaseException:
            self._stop_worker()
            raise

    def start_sync(self) -> None:
        """:meth:`start` for code without an event loop."""
        self._spawn()
        try:
            self.call(self._open)
        except BaseException:
            self._stop_worker()
            raise

    @classmethod
    def open_sync(cls, url: str | DatabaseUrl, *, password: str | None = None) -> Storage:
        storage = cls(url, password=password)
        storage.start_sync()
        return storage

    async def close(self) -> None:
        """Close the connection and stop the worker; calling it twice is harmless."""
        if self.url.dialect == "sqlite" and self._executor is not None:
            self._close_connection()  # this thread's own, opened by an inline read()
        reader, self._reader = self._reader, None
        if reader is not None:
            await asyncio.wrap_future(reader.submit(self._close_connection))
            reader.shutdown(wait=True)
        if self._executor is not None:
            try:
                await self.run(self._close_connection)
            finally:
                self._stop_worker()

    def close_sync(self) -> None:
        if self._executor is not None:
            try:
                self.call(self._close_connection)
            finally:
                self._stop_worker()

    def __enter__(self) -> Storage:
        if self._executor is None:
            self.start_sync()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close_sync()

    async def __aenter__(self) -> Storage:
        if self._executor is None:
            await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ------------------------------------------------------------------ running work

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(*args, **kwargs)`` on the worker thread and await its result.

        Calls run one at a time, in the order made. Cancelling the await cancels
        work not yet started; work already running finishes (a query cannot be
        interrupted half-way), and its result is dropped.
        """
        future = self._require_executor().submit(
            self._guarded, functools.partial(fn, *args, **kwargs)
        )
        return await asyncio.wrap_future(future)

    async def read(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a read-only ``fn`` on a connection of its own, never behind the writer.

        For lookups on the hot path (the contact of a ringing call, B13): they must
        not queue behind the writer's batch of journal rows. PostgreSQL reads go to
        a reader thread; SQLite reads run inline (below). SQLite in WAL mode and
        PostgreSQL both let a reader see every committed write without waiting.
        Never write from here.
        """
        if self._executor is None:
            raise StorageError(f"{self!r} is not started (or already closed)")
        if self.url.dialect == "sqlite":
            # A local SQLite read takes tens of microseconds: cheaper inline on the
            # caller's own connection than the hop to a thread (hundreds, and worse
            # on a busy machine). WAL readers never wait for the writer.
            return self._guarded_read(functools.partial(fn, *args, **kwargs))
        if self._reader is None:
            self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="storage-read")
        future = self._reader.submit(self._guarded_read, functools.partial(fn, *args, **kwargs))
        return await asyncio.wrap_future(future)

    def _guarded_read(self, work: Callable[[], T]) -> T:
        if self.db.is_closed():  # peewee keeps one connection per thread
            _connect(self.db, self.url)
        return self._guarded(work)

    def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn`` on the worker and wait for it, blocking (never from the event loop).
        From the worker itself (inside a function given to :meth:`run`) it runs inline."""
        work = functools.partial(fn, *args, **kwargs)
        if threading.get_ident() == self._worker_ident:
            return work()
        return self._require_executor().submit(self._guarded, work).result()

    def atomic(self) -> AbstractContextManager[Any]:
        """A write transaction for use on the worker, around several repository calls::

        def merge() -> None:
            with storage.atomic():
                found = storage.journal.get_many(uuids, lock=True)
                storage.journal.upsert_many(merged(found))
        await storage.run(merge)
        """
        return write_transaction(self.db)

    # ------------------------------------------------------------------ on the worker

    def _spawn(self) -> None:
        if self._executor is not None:
            raise StorageError(f"{self!r} is already started")
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="storage", initializer=self._on_worker_start
        )

    def _on_worker_start(self) -> None:
        self._worker_ident = threading.get_ident()

    def _require_executor(self) -> ThreadPoolExecutor:
        if self._executor is None:
            raise StorageError(f"{self!r} is not started (or already closed)")
        return self._executor

    def _stop_worker(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)  # the queue is empty: this only joins the thread
        self._worker_ident = None

    def _open(self) -> None:
        _connect(self.db, self.url)
        try:
            applied = migrate(self.db)
            version = schema_version(self.db)
        except BaseException:
            self.db.close()
            raise
        log.info(
            "database %s ready at schema version %d%s",
            self.url.display,
            version,
            f" (migrated {applied})" if applied else "",
        )

    def _close_connection(self) -> None:
        if not self.db.is_closed():
            self.db.close()

    def _guarded(self, work: Callable[[], T]) -> T:
        try:
            self._reconnect_if_lost()
            return work()
        except StorageError:
            raise
        except _driver_errors() as exc:
            raise StorageError(_message(f"database {self.url.display}", exc, self.url)) from exc

    def _reconnect_if_lost(self) -> None:
        """A PostgreSQL server that restarted breaks the connection: the query that
        finds out fails (a StorageError for its caller), the next one reconnects."""
        db = self.db
        if db.is_closed() or db.in_transaction() or db.is_connection_usable():
            return
        log.warning("database %s: connection lost, reconnecting", self.url.display)
        try:
            db.close()
        except _driver_errors():
            db.dispose()
        _connect(db, self.url)
