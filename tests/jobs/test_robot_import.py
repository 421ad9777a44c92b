"""J2 on a DB-API connection: the same code runs on SQLite and PostgreSQL tables shaped
like SpRobot's MS SQL results (no MS SQL server can run here; docs/robot-import.md)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg2
import pymssql
import pytest
from pymssql import _mssql

from agent.core.errors import ConfigError, StorageError
from agent.core.robot_plan import bind_query
from agent.jobs.robot_import import RobotImport, RobotImportConfig
from agent.jobs.robot_source import RobotDatabase, database_from_url, percent_doubled
from agent.storage.database import Storage
from agent.storage.jobs_repository import JobsRepository
from tests.fixtures.postgres import PgServer
from tests.jobs.support import Area, contacts_area

KYIV = ZoneInfo("Europe/Kyiv")
NOW = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
QUERY = (
    "SELECT call_id, phone, dtmf, called_at FROM robot_results "
    "WHERE called_at >= :since ORDER BY called_at"
)
TABLE = {"1": "high", "2": "low"}


class RobotTable:
    """A table shaped like the robot's results, on SQLite or PostgreSQL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.database = database_from_url(url)
        self._execute(
            "CREATE TABLE robot_results (call_id TEXT, phone TEXT, dtmf TEXT, "
            f"called_at {'TEXT' if url.startswith('sqlite') else 'TIMESTAMP'}, note TEXT)"
        )

    def _execute(self, sql: str, rows: list[tuple[Any, ...]] | None = None) -> None:
        connection = self.database.connect()
        try:
            cursor = connection.cursor()
            if rows is None:
                cursor.execute(sql)
            else:
                cursor.executemany(sql, rows)
            connection.commit()
        finally:
            connection.close()

    def add(self, *rows: tuple[int | str, str, str, datetime]) -> None:
        """Rows of (call id, phone, DTMF, Kyiv wall-clock time), as the robot writes them."""
        mark = "?" if self.url.startswith("sqlite") else "%s"
        values = [
            (str(cid), phone, dtmf, at.strftime("%Y-%m-%d %H:%M:%S") if mark == "?" else at, "")
            for cid, phone, dtmf, at in rows
        ]
        self._execute(f"INSERT INTO robot_results VALUES ({', '.join([mark] * 5)})", values)


@pytest.fixture
def robot(db_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[RobotTable]:
    if db_url.startswith("sqlite"):
        yield RobotTable(f"sqlite:///{tmp_path / 'sprobot.db'}")
        return
    server: PgServer = request.getfixturevalue("pg_server")
    url = server.new_database()
    yield RobotTable(url)
    server.drop_database(url)


@pytest.fixture
def area(storage: Storage) -> Area:
    return contacts_area(storage)


def make_import(
    storage: Storage,
    database: RobotDatabase,
    area: Area,
    *,
    now: datetime = NOW,
    query: str = QUERY,
    table: dict[str, str] | None = None,
) -> RobotImport:
    return RobotImport(
        storage=storage,
        database=database,
        events=area.port,
        config=RobotImportConfig(
            query=query, dtmf_table=TABLE if table is None else table, time_zone=KYIV
        ),
        clock=lambda: now,
    )


def kyiv_wall(hours_ago: float) -> datetime:
    """A naive Kyiv wall-clock time, as MS SQL's datetime holds it."""
    return (NOW - timedelta(hours=hours_ago)).astimezone(KYIV).replace(tzinfo=None)


async def test_mapped_rows_become_planned_events_unmapped_and_repeated_are_counted_j2(
    storage: Storage, robot: RobotTable, area: Area
) -> None:
    known = await area.contacts.find_or_create_contact("+380671111111", "Known client")
    robot.add(
        (1, "0671111111", "1", kyiv_wall(5)),
        (2, "+380672222222", "2", kyiv_wall(4)),
        (3, "0673333333", "9", kyiv_wall(3)),  # no such code in the table: skipped
        (3, "0673333333", "9", kyiv_wall(3)),
        (2, "+380672222222", "2", kyiv_wall(4)),  # the same robot call twice
        (4, "no number", "1", kyiv_wall(2)),
    )

    counts = await make_import(storage, robot.database, area).run()

    assert {k: counts[k] for k in ("rows", "planned", "events", "invalid")} == {
        "rows": 6,
        "planned": 2,
        "events": 2,
        "invalid": 1,
    }
    assert (counts["skipped_unmapped"], counts["skipped_repeated"]) == (2, 1)
    assert counts["unmapped_codes"] == {"9": 2}
    events = {e.call_uuid: e for e in (await area.events.page(limit=50))[0]}
    first, second = events["robot:1"], events["robot:2"]
    assert (first.importance, first.operator_ext, first.contact_id) == ("high", "robot", known.id)
    assert first.planned_at == NOW - timedelta(hours=5)
    assert (second.importance, second.number) == ("low", "+380672222222")
    assert second.contact_id is not None and second.contact_id != known.id  # a new contact


async def test_a_rerun_adds_nothing_and_counts_the_rows_as_repeated(
    storage: Storage, robot: RobotTable, area: Area
) -> None:
    robot.add((1, "0671111111", "1", kyiv_wall(5)), (2, "0672222222", "2", kyiv_wall(4)))
    await make_import(storage, robot.database, area).run()

    again = await make_import(storage, robot.database, area, now=NOW + timedelta(minutes=30)).run()

    assert (again["events"], again["skipped_repeated"]) == (0, 2)
    assert len((await area.events.page(limit=50))[0]) == 2


async def test_later_runs_ask_only_for_calls_since_the_last_one(
    storage: Storage, robot: RobotTable, area: Area
) -> None:
    robot.add((1, "0671111111", "1", kyiv_wall(30)), (2, "0672222222", "1", kyiv_wall(5)))
    first = await make_import(storage, robot.database, area).run()
    robot.add((3, "0673333333", "2", kyiv_wall(-1)))

    second = await make_import(storage, robot.database, area, now=NOW + timedelta(hours=2)).run()

    assert first["rows"] == 2
    # Since the newest call seen less an hour: call 1 (30 h ago) is not asked for again,
    # call 2 is (inside the hour of overlap) and counts as repeated.
    assert (second["rows"], second["events"], second["skipped_repeated"]) == (2, 1, 1)


async def test_an_event_made_by_a_run_that_died_before_recording_it_is_not_made_twice(
    storage: Storage, robot: RobotTable, area: Area
) -> None:
    robot.add((1, "0671111111", "1", kyiv_wall(5)))
    await make_import(storage, robot.database, area).run()
    await storage.run(lambda: storage.db.execute_sql("DELETE FROM robot_calls"))
    await storage.run(storage.kv.delete, "jobs/robot/checkpoint")

    again = await make_import(storage, robot.database, area).run()

    assert (again["planned"], again["events"]) == (1, 0)
    assert len((await area.events.page(limit=50))[0]) == 1
    assert await storage.run(JobsRepository(storage.db).robot_seen, ["1"]) == {"1"}


async def test_a_query_without_the_expected_columns_names_the_missing_one(
    storage: Storage, robot: RobotTable, area: Area
) -> None:
    bad = "SELECT call_id, phone, called_at FROM robot_results"
    with pytest.raises(ConfigError, match="'dtmf'"):
        await make_import(storage, robot.database, area, query=bad).run()


async def test_a_failing_query_is_a_storage_error_that_never_shows_the_password(
    storage: Storage, area: Area, tmp_path: Path
) -> None:
    def connect() -> Any:
        return sqlite3.connect(tmp_path / "empty.db")

    database = RobotDatabase(connect, "qmark", text_times=True, secret="s3cr3t-pw")
    with pytest.raises(StorageError) as caught:
        await make_import(storage, database, area, query="SELECT s3cr3t-pw FROM nowhere").run()
    assert "s3cr3t-pw" not in str(caught.value)


async def test_an_unreachable_robot_server_is_a_storage_error(storage: Storage, area: Area) -> None:
    def connect() -> Any:
        return psycopg2.connect("postgresql://sa:hunter22@127.0.0.1:1/robot", connect_timeout=2)

    database = RobotDatabase(connect, "pyformat", secret="hunter22")
    with pytest.raises(StorageError, match="cannot connect") as caught:
        await make_import(storage, database, area).run()
    assert "hunter22" not in str(caught.value)


async def test_without_a_dtmf_table_the_run_says_what_is_missing(
    storage: Storage, robot: RobotTable, area: Area
) -> None:
    with pytest.raises(ConfigError, match="DTMF table"):
        await make_import(storage, robot.database, area, table={}).run()


async def test_robot_call_ids_sharing_a_long_prefix_each_get_their_event(
    storage: Storage, robot: RobotTable, area: Area
) -> None:
    prefix = "SPROBOT-CAMPAIGN-2025-03-03-" + "0" * 20
    robot.add(
        (prefix + "-1", "0671111111", "1", kyiv_wall(0.5)),
        (prefix + "-2", "0672222222", "1", kyiv_wall(0.4)),
        ("42", "0673333333", "2", kyiv_wall(0.3)),
    )

    counts = await make_import(storage, robot.database, area).run()
    again = await make_import(storage, robot.database, area, now=NOW + timedelta(minutes=5)).run()

    assert (counts["planned"], counts["events"]) == (3, 3)
    events = (await area.events.page(limit=50))[0]
    assert sorted(e.number or "" for e in events) == [
        "+380671111111",
        "+380672222222",
        "+380673333333",
    ]
    assert "robot:42" in {e.call_uuid for e in events}  # a short id keeps its old form
    assert all(len(e.call_uuid or "") <= 40 for e in events)
    assert (again["events"], again["skipped_repeated"]) == (0, 3)


async def test_a_query_with_a_literal_percent_and_since_runs_on_each_driver(
    storage: Storage, robot: RobotTable, area: Area
) -> None:
    robot.add(
        (1, "0671111111", "1", kyiv_wall(5)),
        (2, "0675555555", "1", kyiv_wall(4)),  # left out by the LIKE '%555%'
    )
    query = (
        "SELECT call_id, phone, dtmf, called_at FROM robot_results "
        "WHERE phone NOT LIKE '%555%' AND called_at >= :since ORDER BY called_at"
    )

    counts = await make_import(storage, robot.database, area, query=query).run()

    assert (counts["rows"], counts["events"]) == (1, 1)


def test_ms_sql_gets_a_literal_percent_as_written_beside_the_since_parameter() -> None:
    # No MS SQL server runs here: this is pymssql's own substitution, which pymssql
    # runs before it sends the text (it reads %(since)s, and leaves %% as two
    # characters: a doubled '50%%' would compare with another string).
    query = "SELECT call_id, phone, dtmf, called_at FROM r WHERE note = '50%' AND at >= :since"
    connection = pymssql.Connection.__new__(pymssql.Connection)  # its class is what counts

    sql, params = bind_query(
        query,
        "pyformat",
        {"since": datetime(2025, 3, 3, 9, 30)},
        percent_doubled=percent_doubled(connection),
    )
    assert isinstance(params, dict)
    sent = _mssql.substitute_params(sql, params)

    assert sent == (
        b"SELECT call_id, phone, dtmf, called_at FROM r WHERE note = '50%' "
        b"AND at >= '2025-03-03 09:30:00.000'"
    )
