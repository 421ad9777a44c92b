"""The jobs area wired together: definitions of J1 and J2, the scheduler, presence.

:class:`JobService` owns the background work of the area (job runs, heartbeats,
settings refresh) and stops it cleanly: a run in progress releases its lease so
another agent takes the period over at once, and the agent leaves the presence
list. :func:`attach_jobs` is the composition root's one call (agent/app.py).

Settings are re-read from the database every ``REFRESH`` (another operator may
change the team's schedules in a shared database), and at once after a change
through :meth:`JobService.settings_changed`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agent.core.errors import ConfigError, InvalidInput
from agent.core.schedule import parse_schedule
from agent.core.settings import TeamSettings
from agent.jobs.history_import import HistoryImport, HistoryImportConfig
from agent.jobs.presence import OperatorPresence, Presence
from agent.jobs.robot_import import RobotImport, RobotImportConfig
from agent.jobs.robot_source import RobotDatabase, mssql_database
from agent.jobs.runner import Body, JobRunner, Progress
from agent.jobs.scheduler import JobScheduler, JobSpec
from agent.secrets import SecretName
from agent.storage.jobs_repository import Claim, Heartbeat, JobRun, JobsRepository, Lease

if TYPE_CHECKING:
    from agent.jobs.events import JobEvents
    from agent.jobs.history_sync import HistorySource
    from agent.jobs.identity import AgentIdentity
    from agent.journal import Journal
    from agent.storage.database import Storage

log = logging.getLogger(__name__)

HISTORY = "history"
ROBOT = "robot"
JOBS = (HISTORY, ROBOT)
REFRESH = timedelta(seconds=30)
SECRET_RECHECK = timedelta(minutes=5)


class SecretSource(Protocol):
    def get(self, name: SecretName) -> str | None: ...


RobotDatabaseFactory = Callable[[TeamSettings, str], RobotDatabase]


def default_robot_database(team: TeamSettings, password: str) -> RobotDatabase:
    return mssql_database(
        server=team.robot_server,
        database=team.robot_database,
        user=team.robot_user,
        password=password,
    )


def secret_label(name: SecretName) -> str:
    """How a secret is named in the database: kind and keyring user, never the value."""
    return f"{name.kind}:{name.user}"


def time_zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown time zone %r: job schedules use UTC", name)
        return UTC


@dataclass
class JobContext:
    """What the job definitions need from the agent."""

    storage: Storage
    identity: AgentIdentity
    domain: str
    ext: str
    journal: Journal | None
    history_source: HistorySource | None
    events: JobEvents | None
    secrets: SecretSource
    robot_database: RobotDatabaseFactory = default_robot_database
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


class JobService:
    def __init__(
        self,
        context: JobContext,
        *,
        team: TeamSettings,
        load_team: Callable[[], Awaitable[TeamSettings]] | None = None,
        publish: Callable[[str, Any], None] | None = None,
        poke: Callable[[], None] | None = None,
        link_state: Callable[[], str] = lambda: "offline",
    ) -> None:
        self.context = context
        self.team = team
        self._load_team = load_team
        self._publish = publish
        self._poke_runtime = poke
        self._tasks: set[asyncio.Task[Any]] = set()
        self._secrets_seen: dict[str, tuple[bool, datetime]] = {}
        self._changes = 0  # settings_changed() calls, so a read under way sees one came
        self._holds_written: dict[str, bool] = {}
        self._next_refresh: datetime | None = None
        self._refreshing = False
        self._stopped = False
        self.repo = JobsRepository(context.storage.db)
        self.runner = JobRunner(
            context.storage,
            context.identity,
            lease_s=lambda: float(self.team.job_lease_s),
            clock=context.clock,
            publish=lambda data: self._emit("job", data),
        )
        self.scheduler = JobScheduler(
            runner=self.runner, spawn=self.spawn, poke=self.poke, clock=context.clock
        )
        self.presence = Presence(
            storage=context.storage,
            identity=context.identity,
            domain=context.domain,
            ext=context.ext,
            spawn=self.spawn,
            poke=self.poke,
            operator=lambda: self.team.extension_users.get(context.ext, ""),
            link_state=link_state,
            every_s=lambda: float(self.team.heartbeat_s),
            stale_beats=lambda: int(self.team.presence_stale_beats),
            clock=context.clock,
            started_at=context.clock(),
        )

    # ------------------------------------------------------------ lifecycle

    @property
    def participants(self) -> list[Any]:
        return [self.scheduler, self.presence, self]

    async def start(self) -> None:
        await self._configure(self.team)
        self._next_refresh = self.context.clock() + REFRESH

    async def stop(self) -> None:
        """Stop every run (each releases its lease) and leave the presence list."""
        self._stopped = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        with contextlib.suppress(Exception):
            await self.presence.leave()

    async def run_forever(self) -> None:
        """The service's own task: on cancellation (the agent stops) it stops the rest."""
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.shield(self.stop())

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any] | None:
        """Background work of the area, stopped with it; none once it has stopped."""
        if self._stopped:
            coro.close()
            return None
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("jobs: background work failed", exc_info=task.exception())

    def poke(self) -> None:
        if self._poke_runtime is not None:
            self._poke_runtime()

    def _emit(self, topic: str, data: Any) -> None:
        if self._publish is not None:
            self._publish(topic, data)

    # ------------------------------------------------------------ settings refresh

    def next_wakeup(self) -> datetime | None:
        return None if self._refreshing else self._next_refresh

    async def wake(self, now: datetime) -> None:
        if self._refreshing or self._next_refresh is None or self._next_refresh > now:
            return
        self._refreshing = True
        self.spawn(self._refresh())

    async def _refresh(self) -> None:
        asked = self._changes
        try:
            if self._load_team is not None:
                await self._configure(await self._load_team())
        except Exception:
            log.exception("jobs: the team settings could not be re-read")
        finally:
            now = self.context.clock()
            # Told of a change while reading: what was read may predate it, read again.
            self._next_refresh = now + REFRESH if self._changes == asked else now
            self._refreshing = False
            self.poke()

    def settings_changed(self) -> None:
        """The settings or a secret were saved (PUT /api/settings): re-read the team
        settings now, and ask the keyring again whether it holds the jobs' secrets, so
        a robot password saved from the window counts at once, not after
        SECRET_RECHECK. Call on the agent's loop."""
        self._changes += 1
        self._secrets_seen.clear()
        self._next_refresh = self.context.clock()
        self.poke()

    async def _configure(self, team: TeamSettings) -> None:
        self.team = team
        holds = await self._secret_flags(team)
        specs = [
            (self._history_spec(team), lambda: self._history_body()),
            (self._robot_spec(team, holds), lambda: self._robot_body()),
        ]
        self.scheduler.configure(specs, time_zone(team.time_zone))
        if holds != self._holds_written:
            await self.context.storage.run(
                self.repo.set_holders,
                self.context.identity.agent_id,
                holds,
                now=self.context.clock(),
            )
            self._holds_written = dict(holds)

    async def _secret_flags(self, team: TeamSettings) -> dict[str, bool]:
        """Which job secrets this machine's keyring holds: booleans only. J2 needs the
        robot's password (G6); J1 pages with this agent's own key, which it has. The
        keyring is asked only once the robot job is configured (the demo never is)."""
        names = []
        if team.robot_server and team.robot_user:
            names.append(SecretName.robot_password(team.robot_server, team.robot_user))
        now = self.context.clock()
        asked = self._changes
        flags: dict[str, bool] = {}
        for name in names:
            label = secret_label(name)
            seen = self._secrets_seen.get(label)
            if seen is None or now - seen[1] > SECRET_RECHECK:
                held = bool(await asyncio.to_thread(self.context.secrets.get, name))
                seen = (held, now)
                if self._changes == asked:  # else it may predate a save: not remembered
                    self._secrets_seen[label] = seen
            flags[label] = seen[0]
        return flags

    # ------------------------------------------------------------ the jobs

    def _history_spec(self, team: TeamSettings) -> JobSpec:
        schedule, problems = _schedule(team.history_schedule)
        if self.context.journal is None or self.context.history_source is None:
            problems.append(
                Problem("jobs.problem.no_pbx", "this agent has no PBX connection to import from")
            )
        return _spec(HISTORY, team.history_import, team.history_schedule, schedule, None, problems)

    def _robot_spec(self, team: TeamSettings, holds: dict[str, bool]) -> JobSpec:
        schedule, problems = _schedule(team.robot_schedule)
        secret = None
        if not (team.robot_server and team.robot_user):
            problems.append(
                Problem(
                    "jobs.problem.robot_not_set", "the robot's server and user are not set (G6)"
                )
            )
        else:
            secret = secret_label(SecretName.robot_password(team.robot_server, team.robot_user))
            if not holds.get(secret):
                problems.append(
                    Problem(
                        "jobs.problem.no_robot_password",
                        "this machine's keyring holds no robot password for "
                        f"{team.robot_user}@{team.robot_server} (`phonet-agent secret set "
                        "robot-password`)",
                        {"user": team.robot_user, "server": team.robot_server},
                    )
                )
        if self.context.events is None:
            problems.append(
                Problem(
                    "jobs.problem.no_events", "the contacts and events service is not available"
                )
            )
        return _spec(ROBOT, team.robot_import, team.robot_schedule, schedule, secret, problems)

    def history_import(self) -> HistoryImport:
        ctx, team = self.context, self.team
        if ctx.journal is None or ctx.history_source is None:
            raise ConfigError("this agent has no PBX connection to import history from")
        return HistoryImport(
            storage=ctx.storage,
            journal=ctx.journal,
            source=ctx.history_source,
            events=ctx.events,
            config=history_config(team),
            clock=ctx.clock,
        )

    def robot_import(self) -> RobotImport:
        ctx, team = self.context, self.team
        if not (team.robot_server and team.robot_user):
            raise ConfigError("the robot's server and user are not set (G6)")
        password = ctx.secrets.get(SecretName.robot_password(team.robot_server, team.robot_user))
        if not password:
            raise ConfigError(
                f"no robot password for {team.robot_user}@{team.robot_server} in the keyring"
            )
        return RobotImport(
            storage=ctx.storage,
            database=ctx.robot_database(team, password),
            events=ctx.events,
            config=robot_config(team),
            clock=ctx.clock,
        )

    def _history_body(self) -> Body:
        async def body(run_id: int, progress: Progress) -> dict[str, Any]:
            return await self.history_import().run(progress=progress)

        return body

    def _robot_body(self) -> Body:
        async def body(run_id: int, progress: Progress) -> dict[str, Any]:
            job = await asyncio.to_thread(self.robot_import)  # the keyring may block
            return await job.run(run_id=run_id, progress=progress)

        return body

    # ------------------------------------------------------------ for the API and the tray

    def job_names(self) -> tuple[str, ...]:
        return JOBS

    async def run_now(self, name: str) -> Claim:
        if name not in JOBS:
            raise InvalidInput(f"there is no job {name!r}", field="job")
        return await self.scheduler.run_now(name)

    def request_run(self, name: str) -> None:
        self.scheduler.request_run(name)

    async def runs(self, name: str | None, *, limit: int, offset: int) -> tuple[list[JobRun], int]:
        def read() -> tuple[list[JobRun], int]:
            return (
                self.repo.runs(name, limit=limit, offset=offset),
                self.repo.count_runs(name),
            )

        return await self.context.storage.run(read)

    async def jobs_view(self) -> list[dict[str, Any]]:
        agent_now = self.context.clock()

        def read() -> _Read:
            return _Read(
                leases=self.repo.leases(),
                last_runs={name: self.repo.runs(name, limit=1) for name in JOBS},
                holders=self.repo.holders(),
                beats={beat.agent_id: beat for beat in self.repo.heartbeats()},
                # A lease is alive by the clock that dates it (the database's on PostgreSQL).
                now=self.repo.current_time(agent_now),
            )

        found = await self.context.storage.run(read)
        leases, last_runs, now = found.leases, found.last_runs, found.now
        views = []
        for name in JOBS:
            view = self.scheduler.view(name)
            lease = leases.get(name)
            running = None
            if lease is not None and lease.state == "running":
                alive = lease.expires_at is not None and lease.expires_at > now
                run = last_runs[name][0] if last_runs[name] else None
                running = {
                    "agent_id": lease.holder,
                    "host": lease.holder_host,
                    "run_id": lease.run_id,
                    "period_at": _iso(lease.period_at),
                    "alive": alive,
                    "counts": run.counts if run is not None and run.id == lease.run_id else {},
                }
            spec = self.scheduler.jobs[name].spec
            view["running"] = running
            view["last_run"] = run_json(last_runs[name][0]) if last_runs[name] else None
            view["holders"] = [
                self._holder(agent, found.beats.get(agent))
                for agent, held in sorted(found.holders.get(spec.secret or "", {}).items())
                if held
            ]
            views.append(view)
        return views

    def _holder(self, agent_id: str, beat: Heartbeat | None) -> dict[str, Any]:
        """An agent whose keyring holds a job's secret, as operators know it: the
        computer and the operator (its heartbeat's, while it has one; this agent's own
        host always)."""
        me = self.context.identity
        host = beat.host if beat is not None else me.host if agent_id == me.agent_id else None
        operator = (beat.operator or None) if beat is not None else None
        return {"agent_id": agent_id, "host": host, "operator": operator}

    async def presence_view(self) -> list[dict[str, Any]]:
        me = self.context.identity.agent_id
        return [
            {
                "agent_id": beat.agent_id,
                "domain": beat.domain,
                "ext": beat.ext,
                "operator": beat.operator,
                "host": beat.host,
                "pid": beat.pid,
                "version": beat.version,
                "link": beat.link_state,
                "started_at": _iso(beat.started_at),
                "seen_at": _iso(beat.seen_at),
                "self": beat.agent_id == me,
            }
            for beat in await self.presence.heartbeats()
        ]

    async def active_operators(self, exclude_agent_id: str | None = None) -> list[OperatorPresence]:
        """For the licence (U10): operators online now, the given agent left out."""
        return await self.presence.active_operators(exclude_agent_id)


@dataclass(frozen=True)
class _Read:
    """What the jobs view reads in one go on the storage worker."""

    leases: dict[str, Lease]
    last_runs: dict[str, list[JobRun]]
    holders: dict[str, dict[str, bool]]
    beats: dict[str, Heartbeat]
    now: datetime


def history_config(team: TeamSettings) -> HistoryImportConfig:
    return HistoryImportConfig(
        completed_talk_s=team.completed_talk_s,
        extension_users=dict(team.extension_users),
        region=team.default_region,
        lookback=timedelta(days=team.history_lookback_days),
    )


def robot_config(team: TeamSettings) -> RobotImportConfig:
    return RobotImportConfig(
        query=team.robot_query,
        dtmf_table=dict(team.robot_dtmf),
        identity=team.robot_identity,
        region=team.default_region,
        time_zone=time_zone(team.time_zone),
        lookback=timedelta(days=team.history_lookback_days),
    )


def run_json(run: JobRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "job": run.job,
        "period_at": _iso(run.period_at),
        "trigger": run.trigger,
        "agent_id": run.agent_id,
        "host": run.host,
        "started_at": _iso(run.started_at),
        "ended_at": _iso(run.ended_at),
        "state": run.state,
        "counts": run.counts,
        "error": run.error,
        "taken_over": run.taken_over,
    }


@dataclass(frozen=True)
class Problem:
    """Why a job cannot run on this agent: a message key of agent/i18n (the window says
    it in the operator's language), the English sentence (logs, CLI, API), the values."""

    key: str
    text: str
    params: Mapping[str, str] = field(default_factory=dict)


def _schedule(text: str) -> tuple[Any, list[Problem]]:
    try:
        return parse_schedule(text), []
    except InvalidInput as exc:
        return None, [
            Problem("jobs.problem.bad_schedule", f"bad schedule: {exc}", {"schedule": text})
        ]


def _spec(
    name: str,
    enabled: bool,
    schedule_text: str,
    schedule: Any,
    secret: str | None,
    problems: list[Problem],
) -> JobSpec:
    """The job with the first of its problems (the one to fix first), if any."""
    first = problems[0] if problems else None
    return JobSpec(
        name,
        enabled,
        schedule_text,
        schedule,
        secret,
        first.text if first else None,
        first.key if first else None,
        dict(first.params) if first else {},
    )


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None
