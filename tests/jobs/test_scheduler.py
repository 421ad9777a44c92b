"""The scheduler's "Run now" tells the truth: a run started, or the job is busy, and where
(issue 6; the audit found "busy" answered while this agent was only asking for the lease).
Real storage (SQLite and PostgreSQL), a real runner; the only fake is the clock."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agent.core.schedule import Verdict, parse_schedule
from agent.jobs.identity import AgentIdentity
from agent.jobs.runner import Body, JobRunner, Progress
from agent.jobs.scheduler import JobScheduler, JobSpec
from agent.storage.database import Storage
from agent.storage.jobs_repository import JobsRepository
from tests.scenarios.conftest import wait_until

T = datetime(2025, 3, 3, 10, 0, 30, tzinfo=UTC)
ME = AgentIdentity("agent-a", "desk-a", 1)


class Clock:
    def __init__(self, now: datetime = T) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Harness:
    """A scheduler with one job, ``history``, whose body runs until released."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.clock = Clock()
        self.release = asyncio.Event()
        self.started: list[int] = []
        self.tasks: set[asyncio.Task[Any]] = set()
        runner = JobRunner(storage, ME, lease_s=lambda: 60.0, clock=self.clock)
        self.scheduler = JobScheduler(
            runner=runner, spawn=self.spawn, poke=lambda: None, clock=self.clock
        )
        spec = JobSpec("history", True, "every 1 min", parse_schedule("every 1 min"))
        self.scheduler.configure([(spec, self.body)], UTC)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        return task

    def body(self) -> Body:
        async def run(run_id: int, progress: Progress) -> dict[str, Any]:
            self.started.append(run_id)
            await self.release.wait()
            return {"pages": 1}

        return run

    async def wake_when_due(self) -> None:
        due = self.scheduler.jobs["history"].due
        assert due is not None
        self.clock.now = due
        await self.scheduler.wake(due)

    async def close(self) -> None:
        self.release.set()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


@pytest.fixture
async def harness(storage: Storage) -> AsyncIterator[Harness]:
    made = Harness(storage)
    yield made
    await made.close()


class WorkerHeld:
    """Holds the storage worker (one thread, calls in order) until released, so a lease
    claim asked meanwhile is still being asked."""

    def __init__(self, storage: Storage) -> None:
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.done = asyncio.ensure_future(storage.run(self._hold))

    def _hold(self) -> None:
        self.entered.set()
        self.gate.wait(timeout=30)

    async def release(self) -> None:
        self.gate.set()
        await self.done


async def test_run_now_while_this_agent_asks_for_the_lease_answers_with_the_run_it_starts(
    storage: Storage, harness: Harness
) -> None:
    held = WorkerHeld(storage)
    await asyncio.to_thread(held.entered.wait, 10)
    await harness.wake_when_due()  # the period is due: this agent asks for the lease

    answer = asyncio.ensure_future(harness.scheduler.run_now("history"))
    await asyncio.sleep(0)
    await held.release()
    claim = await answer

    assert claim.granted and claim.run_id is not None
    await wait_until(lambda: harness.started == [claim.run_id], what="the run started")
    runs = await storage.run(JobsRepository(storage.db).runs, "history")
    assert [(r.id, r.trigger) for r in runs] == [(claim.run_id, "schedule")]  # one run, not two


async def test_run_now_while_this_agent_runs_the_job_is_busy_here_with_this_host(
    storage: Storage, harness: Harness
) -> None:
    first = await harness.scheduler.run_now("history")
    await wait_until(lambda: harness.started == [first.run_id], what="the first run")

    again = await harness.scheduler.run_now("history")

    assert (again.verdict, again.holder, again.holder_host) == (Verdict.BUSY, "agent-a", "desk-a")
    harness.release.set()
    await wait_until(lambda: not harness.scheduler.jobs["history"].in_flight, what="the run's end")
    assert (await harness.scheduler.run_now("history")).granted  # free again: it runs


async def test_run_now_while_a_scheduled_ask_finds_another_agent_running_names_that_agent(
    storage: Storage, harness: Harness
) -> None:
    other = JobRunner(
        storage, AgentIdentity("agent-b", "desk-b", 2), lease_s=lambda: 60.0, clock=harness.clock
    )
    due = harness.scheduler.jobs["history"].due
    assert due is not None
    await other.claim("history", period=due - timedelta(seconds=1), trigger="cli", manual=True)
    held = WorkerHeld(storage)
    await asyncio.to_thread(held.entered.wait, 10)
    await harness.wake_when_due()

    answer = asyncio.ensure_future(harness.scheduler.run_now("history"))
    await asyncio.sleep(0)
    await held.release()
    claim = await answer

    assert (claim.verdict, claim.holder, claim.holder_host) == (Verdict.BUSY, "agent-b", "desk-b")
    assert harness.started == []
