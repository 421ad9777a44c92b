"""On PostgreSQL the job leases are dated and judged by the database's clock (B5; issue 6):
agents on machines whose clocks run 5 minutes ahead or behind still run each period
once, take over a dead holder's period in time, and wait for a busy lease without
asking for it again and again.

Before, a claimant whose clock ran ahead of a live lease's remaining time took it over
(the job ran twice), a holder whose clock ran behind wrote expiries already past for
the others, one whose clock ran ahead held a dead period for as long, and a scheduler
whose clock ran ahead re-asked for a busy lease in a tight loop. SQLite is one machine
and keeps the agent's clock (tests/jobs/test_runner.py). The only fake is the agents'
clocks: the real one, shifted.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agent.core.schedule import Verdict, parse_schedule
from agent.jobs.identity import AgentIdentity
from agent.jobs.runner import Body, JobRunner, Progress
from agent.jobs.scheduler import JobScheduler, JobSpec
from agent.storage.database import Storage
from agent.storage.jobs_repository import Claim, JobsRepository
from tests.scenarios.conftest import wait_until

pytestmark = pytest.mark.postgres

SKEW = timedelta(minutes=5)
LEASE_S = 60.0
TAKE_OVER_WAIT_S = 30.0  # far less than the 5 minutes a wrong clock would make it


@pytest.fixture
async def pg(pg_url: str) -> AsyncIterator[Storage]:
    store = Storage(pg_url)
    await store.start()
    yield store
    await store.close()


def skewed(by: timedelta) -> Callable[[], datetime]:
    """A machine's clock that runs ``by`` ahead of the true time (behind when negative)."""
    return lambda: datetime.now(UTC) + by


def agent(storage: Storage, name: str, skew: timedelta, lease_s: float = LEASE_S) -> JobRunner:
    return JobRunner(
        storage,
        AgentIdentity(name, f"desk-{name}", 1),
        lease_s=lambda: lease_s,
        clock=skewed(skew),
    )


async def ask(runner: JobRunner, *, manual: bool = False) -> Claim:
    """The agent asks for the job's lease for the period its clock says is now."""
    return await runner.claim(
        "history", period=runner.clock(), trigger="manual" if manual else "schedule", manual=manual
    )


async def database_now(storage: Storage) -> datetime:
    return await storage.run(JobsRepository(storage.db).current_time, datetime.now(UTC))


@pytest.mark.parametrize(
    ("holder_skew", "claimant_skew"),
    [
        pytest.param(timedelta(0), SKEW, id="claimant-ahead"),
        pytest.param(-SKEW, timedelta(0), id="holder-behind"),
    ],
)
async def test_a_live_lease_is_busy_for_an_agent_whatever_either_clock_says(
    pg: Storage, holder_skew: timedelta, claimant_skew: timedelta
) -> None:
    holder, claimant = agent(pg, "a", holder_skew), agent(pg, "b", claimant_skew)
    held = await ask(holder, manual=True)
    assert held.granted

    answer = await ask(claimant, manual=True)

    assert (answer.verdict, answer.holder, answer.holder_host) == (Verdict.BUSY, "a", "desk-a")
    assert answer.expires_at is not None and answer.judged_at is not None
    assert timedelta(0) < answer.expires_at - answer.judged_at <= timedelta(seconds=LEASE_S)
    runs = await pg.run(JobsRepository(pg.db).runs, "history")
    assert [r.agent_id for r in runs] == ["a"]  # one run, not two


@pytest.mark.parametrize(
    ("holder_skew", "claimant_skew"),
    [
        pytest.param(timedelta(0), -SKEW, id="claimant-behind"),
        pytest.param(SKEW, timedelta(0), id="holder-ahead"),
    ],
)
async def test_a_dead_holders_lease_is_taken_over_once_it_expires_whatever_either_clock_says(
    pg: Storage, holder_skew: timedelta, claimant_skew: timedelta
) -> None:
    holder = agent(pg, "a", holder_skew, lease_s=0.2)
    claimant = agent(pg, "b", claimant_skew)
    dead = await ask(holder, manual=True)  # and it never renews: the agent died
    taken: list[Claim] = []

    async def taken_over() -> bool:
        answer = await ask(claimant, manual=True)
        if answer.granted:
            taken.append(answer)
        return answer.granted

    await wait_until(taken_over, timeout=TAKE_OVER_WAIT_S, what="the dead holder's lease")
    assert (taken[0].verdict, taken[0].taken_over) == (Verdict.TAKE_OVER, dead.run_id)


async def test_a_holder_whose_clock_runs_ahead_renews_and_releases_by_the_databases_clock(
    pg: Storage,
) -> None:
    holder, other = agent(pg, "a", SKEW), agent(pg, "b", timedelta(0))
    repo = JobsRepository(pg.db)
    claim = await ask(holder, manual=True)
    assert claim.run_id is not None

    renewed = await pg.run(
        repo.renew, "history", claim.run_id, now=holder.clock(), ttl=timedelta(seconds=LEASE_S)
    )
    lease = await pg.run(repo.lease, "history")
    assert renewed and lease is not None and lease.expires_at is not None
    left = lease.expires_at - await database_now(pg)
    assert timedelta(0) < left <= timedelta(seconds=LEASE_S)  # not 5 minutes more

    # The agent quits mid-run: the lease expires now for everyone, not in 5 minutes.
    await pg.run(repo.release, "history", claim.run_id, now=holder.clock(), counts={})
    answer = await ask(other, manual=True)
    assert (answer.verdict, answer.taken_over) == (Verdict.TAKE_OVER, claim.run_id)
    run = await pg.run(repo.run, claim.run_id)
    assert run is not None and run.state == "stopped"  # not "lost": it stopped cleanly
    assert run.ended_at is not None and run.ended_at >= run.started_at  # one clock


async def test_a_run_is_dated_by_the_databases_clock_so_it_never_ends_before_it_starts(
    pg: Storage,
) -> None:
    slow = agent(pg, "a", -SKEW)

    async def body(run_id: int, progress: Progress) -> dict[str, Any]:
        return {"pages": 1}

    claim = await ask(slow, manual=True)
    await slow.execute("history", claim, body)

    (run,) = await pg.run(JobsRepository(pg.db).runs, "history")
    assert run.ended_at is not None and run.ended_at >= run.started_at
    assert abs(await database_now(pg) - run.started_at) < SKEW / 2  # not 5 minutes behind


# ------------------------------------------------------------ the scheduler


class CountingRunner(JobRunner):
    """The real runner, counting how often it asks for the lease."""

    asked = 0

    async def claim(self, job: str, *, period: datetime, trigger: str, manual: bool) -> Claim:
        self.asked += 1
        return await super().claim(job, period=period, trigger=trigger, manual=manual)


class Runtime:
    """Wakes the scheduler as the agent's runtime does (agent/runtime.py): when its next
    wakeup comes by the scheduler's own clock, and when it is poked."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self.poked = asyncio.Event()
        self.tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        return task

    async def run(self, scheduler: JobScheduler) -> None:
        while True:
            self.poked.clear()
            wake = scheduler.next_wakeup()
            delay = None if wake is None else (wake - self.clock()).total_seconds()
            if delay is None or delay > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self.poked.wait()
            await scheduler.wake(self.clock())


async def test_a_scheduler_whose_clock_runs_ahead_waits_for_a_busy_lease_without_spinning(
    pg: Storage,
) -> None:
    clock = skewed(SKEW)
    runtime = Runtime(clock)
    runner = CountingRunner(
        pg, AgentIdentity("fast", "desk-fast", 1), lease_s=lambda: LEASE_S, clock=clock
    )
    scheduler = JobScheduler(
        runner=runner, spawn=runtime.spawn, poke=runtime.poked.set, clock=clock
    )

    def body() -> Body:
        async def run(run_id: int, progress: Progress) -> dict[str, Any]:
            return {}

        return run

    spec = JobSpec("history", True, "every 1 s", parse_schedule("every 1 s"))
    scheduler.configure([(spec, body)], UTC)
    holder = agent(pg, "a", timedelta(0))
    assert (await ask(holder, manual=True)).granted  # another agent runs the job, alive
    driving = asyncio.ensure_future(runtime.run(scheduler))
    try:
        await wait_until(lambda: scheduler.jobs["history"].busy_with is not None, what="busy")
        await asyncio.sleep(0.5)  # a window to count in (a spinning scheduler asks 100s of times)

        assert runner.asked == 1
        wake = scheduler.next_wakeup()
        assert wake is not None and wake - clock() > timedelta(seconds=LEASE_S / 2)
    finally:
        driving.cancel()
        for task in (driving, *runtime.tasks):
            task.cancel()
        await asyncio.gather(driving, *runtime.tasks, return_exceptions=True)
