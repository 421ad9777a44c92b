"""Leases and run records on SQLite and PostgreSQL: one run per period, renewals, take-over
of a dead holder's period, clean stops and failures (B5; issue 6 item 1).

The only fake is time: the agents' clock (:class:`~tests.jobs.support.LeaseTime`). On
PostgreSQL the database's clock judges the leases; time "passes" there by moving the
leases' expiries back (tests/jobs/test_lease_clock.py holds agents with wrong clocks)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agent.core.errors import PbxUnreachable
from agent.core.schedule import Verdict
from agent.jobs.identity import AgentIdentity
from agent.jobs.runner import JobRunner, Progress
from agent.storage.database import Storage
from agent.storage.jobs_repository import Claim, JobsRepository
from tests.jobs.support import LeaseTime
from tests.scenarios.conftest import wait_until

T = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)


class Clock:
    """The only fake: time."""

    def __init__(self, now: datetime = T) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def runner(
    storage: Storage,
    name: str,
    clock: Callable[[], datetime],
    lease_s: float = 60.0,
    published: list[dict[str, Any]] | None = None,
) -> JobRunner:
    return JobRunner(
        storage,
        AgentIdentity(name, f"host-{name}", 1),
        lease_s=lambda: lease_s,
        clock=clock,
        publish=published.append if published is not None else None,
    )


async def ok_body(run_id: int, progress: Progress) -> dict[str, Any]:
    progress({"pages": 1})
    return {"pages": 1, "imported": 3}


async def test_two_agents_asking_for_one_period_get_one_run(storage: Storage) -> None:
    clock = Clock()
    a, b = runner(storage, "a", clock), runner(storage, "b", clock)

    first = await a.claim("history", period=T, trigger="schedule", manual=False)
    second = await b.claim("history", period=T, trigger="schedule", manual=False)

    assert first.verdict is Verdict.CLAIM and first.run_id is not None
    assert (second.verdict, second.holder, second.holder_host) == (Verdict.BUSY, "a", "host-a")
    assert first.judged_at is not None
    assert second.expires_at == first.judged_at + timedelta(seconds=60)


async def test_agents_racing_for_a_period_on_their_own_connections_never_both_win(
    storage: Storage, db_url: str
) -> None:
    clock = Clock()
    storages = [Storage(db_url) for _ in range(6)]
    await asyncio.gather(*(s.start() for s in storages))
    try:
        runners = [runner(s, f"agent{i}", clock) for i, s in enumerate(storages)]
        for period in (T, T + timedelta(minutes=15), T + timedelta(minutes=30)):
            clock.now = period
            claims = await asyncio.gather(
                *(
                    r.claim("history", period=period, trigger="schedule", manual=False)
                    for r in runners
                )
            )
            winners = [c for c in claims if c.granted]
            assert len(winners) == 1
            await storage.run(
                JobsRepository(storage.db).finish,
                "history",
                winners[0].run_id,  # type: ignore[arg-type]
                now=period,
                state="ok",
                counts={},
            )
    finally:
        await asyncio.gather(*(s.close() for s in storages))


async def test_a_finished_period_is_done_for_everyone_and_the_next_is_free(
    storage: Storage,
) -> None:
    clock = Clock()
    a, b = runner(storage, "a", clock), runner(storage, "b", clock)
    claim = await a.claim("history", period=T, trigger="schedule", manual=False)
    result = await a.execute("history", claim, ok_body)

    assert result.state == "ok"
    assert (await b.claim("history", period=T, trigger="schedule", manual=False)).verdict is (
        Verdict.DONE
    )
    later = T + timedelta(minutes=15)
    clock.now = later
    assert (await b.claim("history", period=later, trigger="schedule", manual=False)).granted


async def test_each_run_is_recorded_with_its_start_end_counts_and_agent(storage: Storage) -> None:
    clock = Clock()
    published: list[dict[str, Any]] = []
    a = runner(storage, "a", clock, published=published)
    claim = await a.claim("history", period=T, trigger="manual", manual=True)
    await a.execute("history", claim, ok_body)

    (run,) = await storage.run(JobsRepository(storage.db).runs, "history")
    assert (run.state, run.trigger, run.agent_id, run.host) == ("ok", "manual", "a", "host-a")
    assert (run.started_at, run.period_at) == (claim.judged_at, T)  # dated by the lease's clock
    assert run.ended_at is not None and run.ended_at >= run.started_at
    assert run.counts == {"pages": 1, "imported": 3}
    assert [p["state"] for p in published] == ["running", "running", "ok"]


async def test_a_dead_holders_period_is_taken_over_once_its_lease_expires(
    storage: Storage,
) -> None:
    clock = LeaseTime(storage, T)
    a, b = runner(storage, "a", clock, lease_s=60), runner(storage, "b", clock, lease_s=60)
    dead = await a.claim("history", period=T, trigger="schedule", manual=False)  # then dies

    await clock.advance(timedelta(seconds=30))
    assert (await b.claim("history", period=T, trigger="schedule", manual=False)).verdict is (
        Verdict.BUSY
    )
    await clock.advance(timedelta(seconds=31))
    taken = await b.claim("history", period=T, trigger="schedule", manual=False)
    await b.execute("history", taken, ok_body)

    assert (taken.verdict, taken.taken_over, taken.period_at) == (Verdict.TAKE_OVER, dead.run_id, T)
    runs = {r.id: r for r in await storage.run(JobsRepository(storage.db).runs, "history")}
    assert runs[dead.run_id].state == "lost"  # type: ignore[index]
    assert runs[taken.run_id].state == "ok"  # type: ignore[index]


async def test_a_running_holder_keeps_its_lease_by_renewing_it(storage: Storage) -> None:
    clock = LeaseTime(storage, T)
    a, b = runner(storage, "a", clock, lease_s=3), runner(storage, "b", clock, lease_s=3)
    release = asyncio.Event()
    repo = JobsRepository(storage.db)

    async def long_body(run_id: int, progress: Progress) -> dict[str, Any]:
        await release.wait()
        return {}

    claim = await a.claim("history", period=T, trigger="schedule", manual=False)
    running = asyncio.ensure_future(a.execute("history", claim, long_body))
    await clock.advance(timedelta(seconds=10))  # far past the first expiry

    async def renewed() -> bool:
        lease = await storage.run(repo.lease, "history")
        expires = lease.expires_at if lease is not None else None
        return expires is not None and expires > await clock.current()

    await wait_until(renewed, what="a renewal")
    assert (await b.claim("history", period=T, trigger="schedule", manual=False)).verdict is (
        Verdict.BUSY
    )
    release.set()
    assert (await running).state == "ok"


async def test_a_holder_whose_lease_was_taken_stops_its_work(storage: Storage) -> None:
    clock = LeaseTime(storage, T)
    a = runner(storage, "a", clock, lease_s=0.3)
    repo = JobsRepository(storage.db)
    started, stopped = asyncio.Event(), asyncio.Event()

    async def endless(run_id: int, progress: Progress) -> dict[str, Any]:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            stopped.set()
        return {}

    claim = await a.claim("history", period=T, trigger="schedule", manual=False)
    running = asyncio.ensure_future(a.execute("history", claim, endless))
    await started.wait()
    # a lost the database for longer than its lease: b took the period over meanwhile
    # (time passes and b asks in one storage job: no renewal of a's comes between).

    def b_takes_over() -> Claim:
        clock.advance_now(timedelta(seconds=5))
        return repo.claim(
            "history",
            holder="b",
            host="host-b",
            period=T,
            now=clock(),
            ttl=timedelta(seconds=60),
            trigger="schedule",
        )

    assert (await storage.run(b_takes_over)).verdict is Verdict.TAKE_OVER

    result = await running
    assert result.state == "lost"
    assert stopped.is_set()


async def test_an_agent_that_stops_releases_its_lease_for_an_immediate_take_over(
    storage: Storage,
) -> None:
    clock = Clock()
    a, b = runner(storage, "a", clock), runner(storage, "b", clock)
    started = asyncio.Event()

    async def endless(run_id: int, progress: Progress) -> dict[str, Any]:
        progress({"pages": 2})
        started.set()
        await asyncio.Event().wait()
        return {}

    claim = await a.claim("history", period=T, trigger="schedule", manual=False)
    running = asyncio.ensure_future(a.execute("history", claim, endless))
    await started.wait()
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running

    taken = await b.claim("history", period=T, trigger="schedule", manual=False)
    assert taken.verdict is Verdict.TAKE_OVER
    run = await storage.run(JobsRepository(storage.db).run, claim.run_id)  # type: ignore[arg-type]
    assert run is not None
    assert (run.state, run.counts) == ("stopped", {"pages": 2})


async def test_a_failed_run_is_recorded_with_its_error_and_its_period_is_done(
    storage: Storage,
) -> None:
    clock = Clock()
    a = runner(storage, "a", clock)

    async def failing(run_id: int, progress: Progress) -> dict[str, Any]:
        raise PbxUnreachable("pbx.example: connection refused")

    claim = await a.claim("history", period=T, trigger="schedule", manual=False)
    result = await a.execute("history", claim, failing)

    assert (result.state, result.error) == ("failed", "pbx.example: connection refused")
    (run,) = await storage.run(JobsRepository(storage.db).runs, "history")
    assert (run.state, run.error) == ("failed", "pbx.example: connection refused")
    assert (await a.claim("history", period=T, trigger="schedule", manual=False)).verdict is (
        Verdict.DONE
    )
