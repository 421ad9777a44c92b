"""The job scheduler: a runtime participant that wakes each job on its schedule (G2, G6).

The runtime owns the waking (``next_wakeup()`` / ``wake(now)`` on its task); the
schedule is pure (agent/core/schedule.py). ``wake`` only spawns: taking the lease
and running the job happen in the background, because imports are long and the
runtime's task carries the operator's calls.

Per job: the period it runs next (``due``) and when to look again (``check_at``):
the period itself, or — when another agent holds the lease — the moment that
lease expires, so a dead holder's period is taken over (B5). That moment is the
lease's time left (by the database's clock, which dates it) from this agent's now:
never its expiry read against this machine's clock, which may run ahead or behind.
A job whose secret this machine's keyring lacks (G6's robot password) is never
taken here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from agent.core.errors import ConfigError, InvalidInput, StorageError
from agent.core.schedule import Schedule, Verdict, next_period, next_run
from agent.jobs.runner import Body, JobRunner, RunResult
from agent.storage.jobs_repository import Claim

log = logging.getLogger(__name__)

RETRY_AFTER = timedelta(seconds=30)  # the database failed while asking for the lease
EXPIRY_MARGIN = timedelta(milliseconds=50)


@dataclass(frozen=True)
class JobSpec:
    """A job as the settings describe it now, and whether it can run on this agent."""

    name: str
    enabled: bool
    schedule_text: str
    schedule: Schedule | None
    secret: str | None = None  # the keyring entry it needs, e.g. "robot-password:robot/srv/sa"
    problem: str | None = None  # why it cannot run here (bad schedule, missing secret…)
    # The same reason as a message key of agent/i18n (``jobs.problem.*``) and the
    # values its text names, for the window to say it in the operator's language.
    problem_key: str | None = None
    problem_params: Mapping[str, str] = field(default_factory=dict)

    @property
    def runnable(self) -> bool:
        return self.problem is None


@dataclass
class JobState:
    spec: JobSpec
    body: Callable[[], Body]
    due: datetime | None = None
    check_at: datetime | None = None
    in_flight: bool = False
    manual: bool = False
    last: RunResult | None = None
    busy_with: Claim | None = None  # the other agent's lease, when it held the job
    # While in flight, exactly one of these is set: this agent is asking for the lease
    # (the answer comes in the future: the claim, or None when the database failed),
    # or it runs the job under this claim. "Run now" answers from them (issue 6 audit).
    asking: asyncio.Future[Claim | None] | None = None
    running: Claim | None = None


@dataclass
class JobScheduler:
    runner: JobRunner
    spawn: Callable[[Coroutine[Any, Any, Any]], Any]
    poke: Callable[[], None]
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    tz: tzinfo = UTC
    jobs: dict[str, JobState] = field(default_factory=dict)

    # ------------------------------------------------------------ settings

    def configure(self, specs: list[tuple[JobSpec, Callable[[], Body]]], tz: tzinfo) -> None:
        """Take the jobs as the settings describe them now; a changed schedule is
        planned again from now, an unchanged one keeps its period."""
        now = self.clock()
        changed_tz = tz != self.tz
        self.tz = tz
        for spec, body in specs:
            state = self.jobs.get(spec.name)
            if state is None:
                state = self.jobs[spec.name] = JobState(spec, body)
                replan = True
            else:
                replan = changed_tz or state.spec.schedule != spec.schedule
                replan = replan or (spec.enabled and not state.spec.enabled)
                state.spec, state.body = spec, body
            if replan:
                state.due = self._first(spec, now)
                state.check_at = state.due
        self.poke()

    def _first(self, spec: JobSpec, now: datetime) -> datetime | None:
        if spec.schedule is None:
            return None
        return next_run(spec.schedule, now, self.tz)

    # ------------------------------------------------------------ the participant

    def next_wakeup(self) -> datetime | None:
        times = [t for state in self.jobs.values() if (t := self._wants(state)) is not None]
        return min(times, default=None)

    def _wants(self, state: JobState) -> datetime | None:
        if state.in_flight:
            return None
        if state.manual:
            return datetime.min.replace(tzinfo=UTC)
        if not (state.spec.enabled and state.spec.runnable):
            return None
        return state.check_at

    async def wake(self, now: datetime) -> None:
        for name, state in self.jobs.items():
            wanted = self._wants(state)
            if wanted is None or wanted > now:
                continue
            if state.manual:
                state.manual = False
                self._spawn_attempt(name, state, now, manual=True)
            elif state.due is not None:
                self._spawn_attempt(name, state, state.due, manual=False)

    def _spawn_attempt(self, name: str, state: JobState, period: datetime, *, manual: bool) -> None:
        asking = self._ask(state)
        task = self.spawn(self._attempt(name, state, asking, period, manual=manual))
        if isinstance(task, asyncio.Future):
            task.add_done_callback(lambda _: self._abandoned(state, asking))
        else:  # the area has stopped: nothing runs
            self._abandoned(state, asking)

    def _abandoned(self, state: JobState, asking: asyncio.Future[Claim | None]) -> None:
        """An attempt that never ran (cancelled before it started) answers nothing."""
        if not asking.done():
            self._answer(state, asking, None)
            self._settled(state)

    # ------------------------------------------------------------ run now

    def request_run(self, name: str) -> None:
        """Run the job soon, on the runtime's next wake (the tray's "Run now"); call on
        the agent's loop. Another agent running it now makes this a no-op."""
        self.check_runnable(name).manual = True
        self.poke()

    def check_runnable(self, name: str) -> JobState:
        state = self.jobs.get(name)
        if state is None:
            raise InvalidInput(f"there is no job {name!r}", field="job")
        if state.spec.problem is not None:
            raise ConfigError(state.spec.problem, message_key="error.job_not_runnable")
        return state

    async def run_now(self, name: str) -> Claim:
        """ "Run now" (window, tray): take the lease at once and run in the background.

        The claim says what happened: granted, a run started (its id); busy, the job
        runs now, on another agent or on this one (the holder and its host). When this
        agent is itself asking for the lease at that moment (a period falling due), the
        answer waits for that claim: the run it starts is the one asked for, and a
        period another agent already ran does not stop a manual run.
        """
        state = self.check_runnable(name)
        while state.asking is not None or state.running is not None:
            if state.running is not None:
                return self._running_here(state.running)
            assert state.asking is not None
            answer = await asyncio.shield(state.asking)
            if answer is not None and (answer.granted or answer.verdict is Verdict.BUSY):
                return answer
            # DONE (for a scheduled period only), or the database failed: ask ourselves.
        asking = self._ask(state)
        try:
            claim = await self.runner.claim(
                name, period=self.clock(), trigger="manual", manual=True
            )
        except BaseException:
            self._answer(state, asking, None)
            self._settled(state)
            raise
        self._answer(state, asking, claim)
        if not claim.granted:
            state.busy_with = claim
            self._settled(state)
            return claim
        if not isinstance(self.spawn(self._execute(name, state, claim)), asyncio.Future):
            state.running = None  # the area has stopped: nothing runs
            self._settled(state)
        return claim

    def _running_here(self, claim: Claim) -> Claim:
        """The answer while this agent runs the job: busy, here."""
        identity = self.runner.identity
        return Claim(
            Verdict.BUSY, claim.period_at, holder=identity.agent_id, holder_host=identity.host
        )

    def _ask(self, state: JobState) -> asyncio.Future[Claim | None]:
        """This agent asks for the job's lease now (on the loop, before any await)."""
        state.in_flight = True
        state.asking = asyncio.get_running_loop().create_future()
        return state.asking

    def _answer(
        self, state: JobState, asking: asyncio.Future[Claim | None], claim: Claim | None
    ) -> None:
        """The lease's answer came: a granted claim is a run here from now on."""
        if state.asking is asking:
            state.asking = None
        if claim is not None and claim.granted:
            state.running = claim
        if not asking.done():
            asking.set_result(claim)

    # ------------------------------------------------------------ in the background

    async def _attempt(
        self,
        name: str,
        state: JobState,
        asking: asyncio.Future[Claim | None],
        period: datetime,
        *,
        manual: bool,
    ) -> None:
        try:
            claim = await self.runner.claim(
                name, period=period, trigger="manual" if manual else "schedule", manual=manual
            )
        except StorageError as exc:
            log.warning("job %s: cannot ask for the lease: %s", name, exc)
            self._answer(state, asking, None)
            state.check_at = self.clock() + RETRY_AFTER
            self._settled(state)
            return
        except BaseException:
            self._answer(state, asking, None)
            self._settled(state)
            raise
        self._answer(state, asking, claim)
        if claim.granted:
            await self._execute(name, state, claim)
            return
        if claim.verdict is Verdict.BUSY:
            state.busy_with = claim
            # Look again when the holder's lease runs out: it renews while alive.
            if not manual:
                state.check_at = self.clock() + lease_left(claim) + EXPIRY_MARGIN
        elif not manual:  # DONE: another agent ran this period
            state.busy_with = None
            self._advance(state, claim.period_at)
        self._settled(state)

    async def _execute(self, name: str, state: JobState, claim: Claim) -> None:
        try:
            state.busy_with = None
            state.running = claim
            state.last = await self.runner.execute(name, claim, state.body())
        except StorageError as exc:
            log.warning("job %s: the run could not be recorded: %s", name, exc)
        finally:
            state.running = None
            if claim.period_at >= (state.due or claim.period_at):
                self._advance(state, claim.period_at)
            self._settled(state)

    def _advance(self, state: JobState, done: datetime) -> None:
        schedule = state.spec.schedule
        state.due = next_period(schedule, done, self.clock(), self.tz) if schedule else None
        state.check_at = state.due

    def _settled(self, state: JobState) -> None:
        state.in_flight = False
        self.poke()

    # ------------------------------------------------------------ views

    def view(self, name: str) -> dict[str, Any]:
        state = self.jobs[name]
        spec = state.spec
        last = state.last
        return {
            "name": name,
            "enabled": spec.enabled,
            "schedule": spec.schedule_text,
            "runnable_here": spec.runnable,
            "problem": spec.problem,
            "problem_key": spec.problem_key if spec.problem is not None else None,
            "problem_params": dict(spec.problem_params) if spec.problem is not None else None,
            "next_run_at": _iso(state.due) if spec.enabled and spec.runnable else None,
            "running_here": state.in_flight,
            "last_result_here": None
            if last is None
            else {"run_id": last.run_id, "state": last.state, "error": last.error},
        }


def lease_left(claim: Claim) -> timedelta:
    """How long the holder's lease has left, measured on the clock that dates it (the
    database's on PostgreSQL): the agent adds it to its own clock. Its expiry read
    against this machine's clock would already be past on a machine whose clock runs
    ahead, and the job would be asked for again and again (issue 6)."""
    if claim.expires_at is None or claim.judged_at is None:
        return RETRY_AFTER
    return max(claim.expires_at - claim.judged_at, timedelta(0))


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None
