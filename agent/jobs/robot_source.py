"""The robot's database on any DB-API connection (J2; PEP 249).

Production connects to SpRobot's MS SQL with pymssql (server, database and user
from G6, the password from the keyring). No MS SQL server can run on our machines,
so everything above the ``connect()`` factory is plain DB-API: the tests run this
same code against SQLite and PostgreSQL tables shaped like the robot's
(docs/robot-import.md says so).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agent.core.errors import AgentError, ConfigError, StorageError
from agent.core.robot_plan import bind_query, column_positions

log = logging.getLogger(__name__)

LOGIN_TIMEOUT_S = 15
QUERY_TIMEOUT_S = 300
# Drivers whose pyformat substitution leaves ``%%`` as two characters: pymssql's
# ``_mssql.substitute_params`` replaces only ``%(name)s`` and ``%s`` (checked against
# pymssql 2.4). The others we meet (psycopg2, MySQLdb) read ``%%`` as ``%``.
_PERCENT_AS_WRITTEN = frozenset({"pymssql", "_mssql"})


def percent_doubled(connection: object) -> bool:
    """Whether ``connection``'s driver wants a literal ``%`` doubled when the query has
    parameters; decided by the module the connection's class comes from."""
    root = type(connection).__module__.partition(".")[0]
    return root not in _PERCENT_AS_WRITTEN


@dataclass(frozen=True)
class RobotDatabase:
    """How to reach the robot's results: a DB-API ``connect()`` and the driver's
    ``paramstyle``. ``text_times``: the driver wants times as text (sqlite3)."""

    connect: Callable[[], Any]
    paramstyle: str
    name: str = "robot database"
    text_times: bool = False
    secret: str | None = None  # never shown: masked out of error messages

    def fetch(self, query: str, *, since: datetime) -> tuple[dict[str, int], list[Sequence[Any]]]:
        """Run the query (blocking: call it in a thread); the expected columns'
        positions and the rows. Driver errors become :class:`StorageError` without
        the password; a missing column is a :class:`ConfigError` naming it."""
        value: Any = since.strftime("%Y-%m-%d %H:%M:%S") if self.text_times else since
        bind_query(query, self.paramstyle, {"since": value})  # a bad query: before connecting
        try:
            connection = self.connect()
        except Exception as exc:
            raise StorageError(self._say("cannot connect to", exc)) from exc
        try:
            sql, params = bind_query(
                query,
                self.paramstyle,
                {"since": value},
                percent_doubled=percent_doubled(connection),
            )
            cursor = connection.cursor()
            if params is None:
                cursor.execute(sql)
            else:
                cursor.execute(sql, params)
            positions = column_positions(cursor.description)
            rows = list(cursor.fetchall())
        except AgentError:
            raise
        except Exception as exc:
            raise StorageError(self._say("the query failed on", exc)) from exc
        finally:
            with contextlib.suppress(Exception):
                connection.close()
        return positions, rows

    def _say(self, what: str, exc: BaseException) -> str:
        detail = " ".join(str(exc).split())[:300] or type(exc).__name__
        if self.secret and len(self.secret) >= 3:
            detail = detail.replace(self.secret, "***")
        return f"{what} the {self.name}: {detail}"


def mssql_database(*, server: str, database: str, user: str, password: str) -> RobotDatabase:
    """SpRobot's MS SQL through pymssql (imported only when a robot import runs)."""

    def connect() -> Any:
        import pymssql

        return pymssql.connect(
            server=server,
            user=user,
            password=password,
            database=database or "",
            login_timeout=LOGIN_TIMEOUT_S,
            timeout=QUERY_TIMEOUT_S,
            appname="phonet-agent",
            charset="UTF-8",
        )

    return RobotDatabase(
        connect, "pyformat", name=f"robot database {server}/{database}", secret=password
    )


def database_from_url(url: str) -> RobotDatabase:
    """A robot-shaped database given by URL (``sqlite:///PATH``, ``postgresql://…``):
    to try the query on a copy, and what the tests use (no MS SQL runs here)."""
    if url.startswith("sqlite:///"):
        import sqlite3

        path = url.removeprefix("sqlite:///")
        if not path.startswith("/") and ":" not in path[:3]:
            path = "/" + path  # sqlite:////abs and sqlite:///abs both mean /abs
        return RobotDatabase(
            lambda: sqlite3.connect(path), "qmark", name=f"robot database {path}", text_times=True
        )
    if url.startswith(("postgresql://", "postgres://")):
        from agent.storage.urls import redact_url

        def connect() -> Any:
            import psycopg2

            return psycopg2.connect(url)

        return RobotDatabase(connect, "pyformat", name=f"robot database {redact_url(url)}")
    raise ConfigError("the robot URL must be sqlite:///PATH or postgresql://…")
