"""Running one job once: take the lease, run the body while renewing it, record the run.

Team mode (B5): the lease row names the period and the agent running it, and its
``expires_at`` is pushed on every ``ttl / 3`` while the body runs. An agent that
dies stops renewing; once the lease has expired another agent takes the period
over (``Verdict.TAKE_OVER``), marks the dead run ``lost``, and the job's
checkpoint resumes the work. An agent that finds the lease taken from it (its
renewals failed for longer than the TTL) stops its body at once.

Each run is recorded (issue 6, item 1): start, end, state, counts, error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from agent.core.errors import AgentError, StorageError
from agent.logs import redact
from agent.storage.jobs_repository import Claim, JobsRepository

if TYPE_CHECKING:
    from agent.jobs.identity import AgentIdentity
    from agent.storage.database import Storage

log = logging.getLogger(__name__)

Progress = Callable[[dict[str, Any]], None]
Body = Callable[[int, Progress], Awaitable[dict[str, Any]]]
Publish = Callable[[dict[str, Any]], None]

PROGRESS_EVERY_S = 1.0  # at most one progress write to the run record per second


@dataclass
class RunResult:
    job: str
    run_id: int
    state: str  # "ok" | "failed" | "stopped" | "lost"
    counts: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    exception: BaseException | None = field(default=None, repr=False)  # not recorded


class JobRunner:
    def __init__(
        self,
        storage: Storage,
        identity: AgentIdentity,
        *,
        lease_s: Callable[[], float],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        publish: Publish | None = None,
    ) -> None:
        self.storage = storage
        self.repo = JobsRepository(storage.db)
        self.identity = identity
        self.lease_s = lease_s
        self.clock = clock
        self.publish = publish

    async def claim(self, job: str, *, period: datetime, trigger: str, manual: bool) -> Claim:
        """Ask for the job's lease for ``period`` (raises :class:`StorageError`)."""
        return await self.storage.run(
            self.repo.claim,
            job,
            holder=self.identity.agent_id,
            host=self.identity.host,
            period=period,
            now=self.clock(),
            ttl=timedelta(seconds=self.lease_s()),
            trigger=trigger,
            manual=manual,
        )

    async def execute(self, job: str, claim: Claim, body: Body) -> RunResult:
        """Run ``body`` under a granted claim until it ends, the lease is lost, or we are
        cancelled (the agent quits: the lease is released for another to take over)."""
        assert claim.run_id is not None, "execute() needs a granted claim"
        run_id = claim.run_id
        if claim.taken_over is not None:
            log.info("job %s: took over period %s from a stopped agent", job, claim.period_at)
        tracker = _Progress(self, job, run_id)
        self._announce(job, run_id, "running", {})
        task = asyncio.ensure_future(body(run_id, tracker.update))
        try:
            lost = await self._renew_until_done(job, run_id, task)
        except asyncio.CancelledError:
            await _cancel(task)
            await tracker.flush()
            with contextlib.suppress(Exception):
                await self.storage.run(
                    self.repo.release, job, run_id, now=self.clock(), counts=tracker.counts
                )
            self._announce(job, run_id, "stopped", tracker.counts)
            raise
        if lost:
            log.warning("job %s: the lease was taken over by another agent; stopped", job)
            result = RunResult(job, run_id, "lost", tracker.counts, "the lease expired")
            self._announce(job, run_id, "lost", tracker.counts)
            return result
        result = _result(job, run_id, task, tracker.counts)
        await tracker.flush()
        await self.storage.run(
            self.repo.finish,
            job,
            run_id,
            now=self.clock(),
            state=result.state,
            counts=result.counts,
            error=result.error,
        )
        self._announce(job, run_id, result.state, result.counts, result.error)
        return result

    async def _renew_until_done(self, job: str, run_id: int, task: asyncio.Future[Any]) -> bool:
        """Renew the lease every third of its TTL while ``task`` runs; True when lost."""
        while True:
            done, _ = await asyncio.wait({task}, timeout=max(self.lease_s() / 3, 0.05))
            if done:
                return False
            ttl = timedelta(seconds=self.lease_s())
            try:
                ours = await self.storage.run(
                    self.repo.renew, job, run_id, now=self.clock(), ttl=ttl
                )
            except StorageError as exc:
                log.warning("job %s: cannot renew the lease: %s", job, exc)
                continue
            if not ours:
                await _cancel(task)
                return True

    def _announce(
        self,
        job: str,
        run_id: int,
        state: str,
        counts: dict[str, Any],
        error: str | None = None,
    ) -> None:
        if self.publish is None:
            return
        self.publish(
            {
                "job": job,
                "run_id": run_id,
                "state": state,
                "agent_id": self.identity.agent_id,
                "host": self.identity.host,
                "counts": counts,
                "error": error,
            }
        )


class _Progress:
    """The body's progress: published at once, written to the run record at most
    once a second (one write in flight at a time)."""

    def __init__(self, runner: JobRunner, job: str, run_id: int) -> None:
        self.runner = runner
        self.job = job
        self.run_id = run_id
        self.counts: dict[str, Any] = {}
        self._written_at = 0.0
        self._writing: asyncio.Future[None] | None = None

    def update(self, counts: dict[str, Any]) -> None:
        self.counts = counts
        self.runner._announce(self.job, self.run_id, "running", counts)
        now = time.monotonic()
        if now - self._written_at < PROGRESS_EVERY_S:
            return
        if self._writing is not None and not self._writing.done():
            return
        self._written_at = now
        self._writing = asyncio.ensure_future(self._write(dict(counts)))

    async def _write(self, counts: dict[str, Any]) -> None:
        try:
            await self.runner.storage.run(self.runner.repo.progress, self.run_id, counts)
        except StorageError as exc:
            log.info("job %s: progress not saved: %s", self.job, exc)

    async def flush(self) -> None:
        if self._writing is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self._writing


def _result(job: str, run_id: int, task: asyncio.Future[Any], counts: dict[str, Any]) -> RunResult:
    exc = task.exception()
    if exc is None:
        found = task.result()
        return RunResult(job, run_id, "ok", dict(found) if isinstance(found, dict) else counts)
    if isinstance(exc, AgentError):
        message = str(exc)
        log.warning("job %s failed: %s", job, message)
    else:
        message = redact(f"{type(exc).__name__}: {exc}")[:500]
        log.error("job %s failed", job, exc_info=exc)
    return RunResult(job, run_id, "failed", counts, message, exc)


async def _cancel(task: asyncio.Future[Any]) -> None:
    task.cancel()
    with contextlib.suppress(BaseException):
        await task
