"""Team mode (B5): several agents on one database run each scheduled job once per
period, and when the agent running a job dies another one takes its period over."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agent import secrets as secrets_module
from agent.jobs import wiring
from agent.jobs.identity import FILE_NAME
from agent.jobs.robot_source import database_from_url
from agent.simulator import SimControl, SimulatorInfo
from agent.storage.database import Storage
from agent.storage.jobs_repository import JobRun, JobsRepository
from tests.jobs.support import raw_record
from tests.scenarios.conftest import AgentFactory, wait_until

ROOT = Path(__file__).resolve().parents[2]
EVERY_SECOND = {
    "history_import": True,
    "history_schedule": "every 1 s",
    "job_lease_s": 1.5,
    "heartbeat_s": 0.5,
    "presence_stale_beats": 20,
}


def calls(count: int) -> list[dict[str, Any]]:
    """Calls of other operators (ext 005): the agents' own B4 reconcile leaves them alone."""
    now = datetime.now(UTC)
    return [
        raw_record(i, end_at=now - timedelta(seconds=60 * i), ext="005")
        for i in range(1, count + 1)
    ]


@pytest.fixture
async def observer(db_url: str) -> AsyncIterator[Storage]:
    """The test's own connection to the team's database."""
    storage = Storage(db_url)
    await storage.start()
    yield storage
    await storage.close()


async def history_runs(storage: Storage) -> list[JobRun]:
    return await storage.run(JobsRepository(storage.db).runs, "history", limit=500)


async def test_two_agents_on_one_database_run_each_period_once(
    db_url: str,
    observer: Storage,
    agent_factory: AgentFactory,
    simulator: SimulatorInfo,
    sim: SimControl,
) -> None:
    sim.add_history(calls(200))
    first = await agent_factory(simulator, db_url=db_url, team=EVERY_SECOND)
    second = await agent_factory(simulator, db_url=db_url, team=EVERY_SECOND)
    ids = {
        first.agent.services.jobs.context.identity.agent_id,
        second.agent.services.jobs.context.identity.agent_id,
    }

    async def four_periods() -> bool:
        return len([r for r in await history_runs(observer) if r.state == "ok"]) >= 4

    await wait_until(four_periods, timeout=60, what="four periods run")
    done = [r for r in await history_runs(observer) if r.state == "ok"]
    periods = [r.period_at for r in done]
    assert len(periods) == len(set(periods)), "a period ran twice"
    assert {r.agent_id for r in done} <= ids
    assert sum(r.counts["imported"] for r in done) == 200  # every call imported once
    assert await observer.run(observer.journal.count) == 200


@pytest.fixture
def agent_process(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


async def test_when_the_agent_running_a_job_is_killed_another_takes_its_period_over(
    pg_url: str,
    agent_factory: AgentFactory,
    agent_process: list[subprocess.Popen[bytes]],
    simulator: SimulatorInfo,
    sim: SimControl,
    tmp_path: Path,
) -> None:
    storage = Storage(pg_url)
    await storage.start()
    try:
        await storage.run(storage.settings.save, "team", EVERY_SECOND)
        sim.add_history(calls(1500))  # 30 pages
        sim.faults(rest_delay_ms=150)  # slow pages: the first agent is killed mid-run
        data_dir = tmp_path / "killed-agent"
        agent_process.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "agent",
                    "run",
                    "--headless",
                    "--data-dir",
                    str(data_dir),
                    "--db",
                    pg_url,
                    "--base-url",
                    simulator.base_url,
                    "--domain",
                    simulator.domain,
                    "--ext",
                    "001",
                ],
                cwd=ROOT,
                env={**os.environ, "PHONET_API_KEY": simulator.api_key},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        await wait_until(lambda: (data_dir / FILE_NAME).exists(), timeout=60, what="agent id")
        killed_id = (data_dir / FILE_NAME).read_text().strip()

        async def running_mid_way() -> bool:
            runs = await history_runs(storage)
            return any(
                r.agent_id == killed_id and r.state == "running" and r.counts.get("pages", 0) >= 3
                for r in runs
            )

        await wait_until(running_mid_way, timeout=90, what="the first agent mid-run")
        survivor = await agent_factory(simulator, db_url=pg_url)
        agent_process[0].send_signal(signal.SIGKILL)  # no clean-up: the lease just expires
        agent_process[0].wait(timeout=30)
        sim.faults(rest_delay_ms=0)
        (dead,) = [r for r in await history_runs(storage) if r.agent_id == killed_id]

        async def taken_over() -> bool:
            return any(
                r.taken_over == dead.id and r.state == "ok" for r in await history_runs(storage)
            )

        await wait_until(taken_over, timeout=60, what="the take-over")
        runs = {r.id: r for r in await history_runs(storage)}
        (resumed,) = [r for r in runs.values() if r.taken_over == dead.id]
        assert runs[dead.id].state == "lost"
        assert resumed.agent_id == survivor.agent.services.jobs.context.identity.agent_id
        assert resumed.counts["resumed"] is True
        assert resumed.counts["pages"] < 30  # it went on from the dead run's checkpoint
        assert await storage.run(storage.journal.count) == 1500
        events, _ = await survivor.agent.services.events.page(limit=500)
        assert len({e.call_uuid for e in events}) == len(events)  # no call got two events
    finally:
        await storage.close()


class Keyring:
    """One machine's keyring, as the agent reads it (the OS keyring is per machine;
    two agents in one test process need one each)."""

    def __init__(self, secrets: dict[str, str]) -> None:
        self.secrets = secrets

    def get(self, name: Any) -> str | None:
        return self.secrets.get(name.user)

    def has(self, name: Any) -> bool:
        return name.user in self.secrets


async def test_only_an_agent_whose_keyring_holds_the_robot_password_takes_the_robot_job(
    db_url: str,
    observer: Storage,
    agent_factory: AgentFactory,
    simulator: SimulatorInfo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    robot_db = tmp_path / "sprobot.db"
    with sqlite3.connect(robot_db) as connection:
        connection.execute("CREATE TABLE robot_results (call_id, phone, dtmf, called_at)")
        at = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
        connection.executemany(
            "INSERT INTO robot_results VALUES (?, ?, ?, ?)",
            [(i, f"067{i:07d}", "1", at) for i in range(1, 21)],
        )
    keyrings = iter([Keyring({}), Keyring({"robot/sql.office/sprobot": "pw-of-the-robot"})])
    monkeypatch.setattr(secrets_module, "Secrets", lambda: next(keyrings))  # one per agent
    monkeypatch.setattr(
        wiring, "robot_database", lambda team, password: database_from_url(f"sqlite:///{robot_db}")
    )
    team = {
        **EVERY_SECOND,
        "history_import": False,
        "robot_import": True,
        "robot_schedule": "every 1 s",
        "robot_server": "sql.office",
        "robot_user": "sprobot",
        "robot_dtmf": {"1": "high"},
        "robot_query": "SELECT call_id, phone, dtmf, called_at FROM robot_results",
        "time_zone": "UTC",
    }
    without = await agent_factory(simulator, db_url=db_url, team=team)
    holder = await agent_factory(simulator, db_url=db_url, team=team)
    holder_id = holder.agent.services.jobs.context.identity.agent_id
    without_id = without.agent.services.jobs.context.identity.agent_id

    async def two_runs() -> bool:
        runs = await observer.run(JobsRepository(observer.db).runs, "robot")
        return len([r for r in runs if r.state == "ok"]) >= 2

    await wait_until(two_runs, timeout=60, what="two robot runs")
    runs = await observer.run(JobsRepository(observer.db).runs, "robot")
    assert {r.agent_id for r in runs} == {holder_id}
    assert sum(r.counts.get("events", 0) for r in runs) == 20
    holders = await observer.run(JobsRepository(observer.db).holders)
    assert holders["robot-password:robot/sql.office/sprobot"] == {
        holder_id: True,
        without_id: False,
    }
    cells = await observer.run(
        lambda: list(observer.db.execute_sql("SELECT * FROM secret_holders"))
    )
    assert "pw-of-the-robot" not in str(cells)
