"""The jobs inside a running agent, through its local API: schedules, "Run now", the
runs list, live progress, secrets and presence (G2, G6, J1, J2, B5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from agent.core.schedule import parse_schedule
from agent.jobs.service import JobService
from agent.secrets import SecretName
from agent.simulator import SimControl, SimulatorInfo
from agent.storage.jobs_repository import Heartbeat, JobsRepository
from tests.jobs.support import raw_record
from tests.scenarios.conftest import AgentFactory, AgentHandle, wait_until

FAST = {
    "history_schedule": "every 1 s",
    "job_lease_s": 5.0,
    "heartbeat_s": 0.2,
    "presence_stale_beats": 50,  # 10 s: a loaded test machine must not look like a dead agent
}


def now() -> datetime:
    return datetime.now(UTC)


def add_calls(sim: SimControl, first: int, count: int) -> None:
    sim.add_history(
        [raw_record(i, end_at=now() - timedelta(minutes=i)) for i in range(first, first + count)]
    )


async def runs(handle: AgentHandle, job: str = "history") -> list[dict[str, Any]]:
    response = await handle.api("GET", f"/api/jobs/{job}/runs?limit=200")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def jobs(handle: AgentHandle) -> dict[str, dict[str, Any]]:
    response = await handle.api("GET", "/api/jobs")
    assert response.status_code == 200, response.text
    return {job["name"]: job for job in response.json()["items"]}


def service(handle: AgentHandle) -> JobService:
    jobs_service: JobService = handle.agent.services.jobs
    return jobs_service


async def test_an_enabled_job_runs_once_per_period_and_each_run_is_recorded_g2(
    db_url: str, agent_factory: AgentFactory, simulator: SimulatorInfo, sim: SimControl
) -> None:
    add_calls(sim, 1, 60)
    handle = await agent_factory(simulator, db_url=db_url, team={**FAST, "history_import": True})

    async def two_runs() -> bool:
        return len([r for r in await runs(handle) if r["state"] == "ok"]) >= 2

    await wait_until(two_runs, timeout=30, what="two scheduled runs")
    done = [r for r in await runs(handle) if r["state"] == "ok"]
    periods = [r["period_at"] for r in done]
    assert len(periods) == len(set(periods))
    assert all(r["trigger"] == "schedule" for r in done)
    first = done[-1]  # newest first
    assert (first["counts"]["imported"], first["counts"]["records"]) == (60, 60)
    assert all(r["counts"]["imported"] == 0 for r in done[:-1])
    journal = await handle.journal(scope="team")
    assert {row["source"] for row in journal} == {"import"}


async def test_a_job_switched_off_is_never_planned(
    agent_factory: AgentFactory, simulator: SimulatorInfo
) -> None:
    handle = await agent_factory(simulator, team=FAST)
    listed = await jobs(handle)
    assert (listed["history"]["enabled"], listed["history"]["next_run_at"]) == (False, None)
    assert service(handle).scheduler.next_wakeup() is None


async def test_run_now_from_the_window_runs_the_job_and_the_window_sees_its_progress(
    agent_factory: AgentFactory, simulator: SimulatorInfo, sim: SimControl
) -> None:
    add_calls(sim, 1, 120)
    handle = await agent_factory(simulator, team=FAST)
    async with handle.agent.hub.subscribe() as live:
        response = await handle.api("POST", "/api/jobs/history/run")
        assert response.status_code == 202, response.text
        run_id = response.json()["run_id"]

        async def finished() -> bool:
            return any(r["id"] == run_id and r["state"] == "ok" for r in await runs(handle))

        await wait_until(finished, what="the manual run")
        messages = []
        while not live.empty():
            message = live.get_nowait()
            if message.topic == "job":
                messages.append(message.data)
    (run,) = await runs(handle)
    assert (run["trigger"], run["counts"]["imported"], run["counts"]["pages"]) == ("manual", 120, 3)
    states = [m["state"] for m in messages if m["run_id"] == run_id]
    assert states[0] == "running" and states[-1] == "ok"
    progress = [m["counts"]["pages"] for m in messages if m["state"] == "running" and m["counts"]]
    assert progress and progress == sorted(progress)  # live progress, page by page
    listed = await jobs(handle)
    assert listed["history"]["last_run"]["id"] == run_id


async def test_run_now_while_another_agent_runs_the_job_is_refused_with_409(
    db_url: str, agent_factory: AgentFactory, simulator: SimulatorInfo
) -> None:
    handle = await agent_factory(simulator, db_url=db_url, team=FAST)
    storage = handle.agent.storage
    await storage.run(
        JobsRepository(storage.db).claim,
        "history",
        holder="other-agent",
        host="desk-7",
        period=now(),
        now=now(),
        ttl=timedelta(minutes=5),
        trigger="schedule",
    )

    response = await handle.api("POST", "/api/jobs/history/run")

    assert response.status_code == 409
    assert "desk-7" in response.json()["error"]["message"]
    running = (await jobs(handle))["history"]["running"]
    assert (running["agent_id"], running["host"], running["alive"]) == (
        "other-agent",
        "desk-7",
        True,
    )


async def test_an_unknown_job_is_422_and_the_jobs_are_in_the_openapi_document(
    agent_factory: AgentFactory, simulator: SimulatorInfo
) -> None:
    handle = await agent_factory(simulator, team=FAST)
    assert (await handle.api("POST", "/api/jobs/payroll/run")).status_code == 422
    document = (await handle.api("GET", "/api/openapi.json")).json()
    assert {
        "/api/jobs",
        "/api/jobs/{job}/runs",
        "/api/jobs/{job}/run",
        "/api/team/presence",
    } <= set(document["paths"])


async def test_the_robot_job_is_not_taken_by_an_agent_whose_keyring_lacks_its_password(
    db_url: str, agent_factory: AgentFactory, simulator: SimulatorInfo
) -> None:
    robot = {
        "robot_import": True,
        "robot_schedule": "every 1 s",
        "robot_server": "sql.example",
        "robot_user": "sa",
        "robot_dtmf": {"1": "high"},
    }
    handle = await agent_factory(simulator, db_url=db_url, team={**FAST, **robot})

    listed = (await jobs(handle))["robot"]
    response = await handle.api("POST", "/api/jobs/robot/run")

    assert (listed["enabled"], listed["runnable_here"], listed["next_run_at"]) == (
        True,
        False,
        None,
    )
    assert "keyring holds no robot password" in listed["problem"]
    assert response.status_code == 400
    storage = handle.agent.storage
    holders = await storage.run(JobsRepository(storage.db).holders)
    me = service(handle).context.identity.agent_id
    assert holders["robot-password:robot/sql.example/sa"] == {me: False}
    assert "sql.example" not in str(await storage.run(storage.settings.load, "team"))


class MemoryKeyring:
    """This machine's keyring, in memory: what the window's PUT writes and the jobs read."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, name: SecretName) -> str | None:
        return self.values.get(name.user)

    def set(self, name: SecretName, value: str) -> None:
        self.values[name.user] = value

    def delete(self, name: SecretName) -> None:
        self.values.pop(name.user, None)

    def has(self, name: SecretName) -> bool:
        return name.user in self.values


async def test_a_robot_password_saved_from_the_window_counts_at_once_g6(
    agent_factory: AgentFactory, simulator: SimulatorInfo
) -> None:
    robot = {"robot_server": "sql.example", "robot_user": "sa", "robot_dtmf": {"1": "high"}}
    handle = await agent_factory(simulator, team={**FAST, **robot})
    keyring = MemoryKeyring()
    handle.agent.services.secrets = keyring
    service(handle).context.secrets = keyring
    listed = (await jobs(handle))["robot"]
    assert listed["problem_key"] == "jobs.problem.no_robot_password"
    assert listed["problem_params"] == {"user": "sa", "server": "sql.example"}
    assert listed["holders"] == []  # remembered for SECRET_RECHECK (5 min) as not held

    saved = await handle.api("PUT", "/api/settings", {"team": {"robot_password": "pw-42"}})
    assert saved.status_code == 200, saved.text

    async def held_here() -> bool:
        return (await jobs(handle))["robot"]["problem_key"] != "jobs.problem.no_robot_password"

    await wait_until(held_here, what="the saved password noticed (not after 5 minutes)")
    me = service(handle).context.identity
    holders = (await jobs(handle))["robot"]["holders"]
    assert [(h["agent_id"], h["host"]) for h in holders] == [(me.agent_id, me.host)]


async def test_presence_lists_the_agents_online_and_forgets_a_stale_one_b5(
    db_url: str, agent_factory: AgentFactory, simulator: SimulatorInfo
) -> None:
    first = await agent_factory(simulator, db_url=db_url, team=FAST)
    second = await agent_factory(simulator, db_url=db_url, team=FAST)
    await first.online()
    storage = first.agent.storage
    long_ago = now() - timedelta(hours=1)
    stale = Heartbeat(
        "gone", simulator.domain, "009", "", "old-pc", 1, "", "online", long_ago, long_ago
    )
    await storage.run(JobsRepository(storage.db).beat, stale)

    async def both_and_online() -> bool:
        items = (await first.api("GET", "/api/team/presence")).json()["items"]
        return len(items) == 2 and all(item["link"] == "online" for item in items)

    await second.online()
    await wait_until(both_and_online, what="two agents present and online")
    items = (await first.api("GET", "/api/team/presence")).json()["items"]
    mine = next(item for item in items if item["self"])
    assert (mine["ext"], mine["link"], mine["agent_id"]) == (
        "001",
        "online",
        service(first).context.identity.agent_id,
    )
    me = service(first).context.identity.agent_id
    others = await service(first).active_operators(exclude_agent_id=me)
    assert [o.agent_ids for o in others] == [(service(second).context.identity.agent_id,)]

    await second.agent.stop()  # a clean exit leaves the list at once
    assert [b.agent_id for b in await service(first).presence.heartbeats()] == [me]


async def test_the_schedule_shown_is_the_settings_and_the_next_run_follows_it(
    agent_factory: AgentFactory, simulator: SimulatorInfo
) -> None:
    handle = await agent_factory(
        simulator, team={"history_import": True, "history_schedule": "every 15 min 08:00-21:00"}
    )
    listed = (await jobs(handle))["history"]
    assert listed["schedule"] == "every 15 min 08:00-21:00"
    assert listed["next_run_at"] is not None
    job_state = service(handle).scheduler.jobs["history"]
    assert job_state.spec.schedule == parse_schedule("every 15 min 08:00-21:00")


async def test_run_now_from_the_tray_runs_the_job_on_the_next_wake(
    agent_factory: AgentFactory, simulator: SimulatorInfo, sim: SimControl
) -> None:
    add_calls(sim, 1, 10)
    handle = await agent_factory(simulator, team=FAST)

    service(handle).request_run("history")

    async def ran() -> bool:
        return [(r["trigger"], r["state"]) for r in await runs(handle)] == [("manual", "ok")]

    await wait_until(ran, what="the tray's run")
