"""``phonet-agent import-history`` and ``import-robot``: J1 and J2 once, now (contracts.md §2).

Safe beside a running agent: the command takes the job's lease like any agent of
the team (waiting while another holds it), so a scheduled run and this one never
import at once; SQLite's busy timeout and WAL let both write the same file.
Progress goes to stdout, one line about every half second, then the counts.
Exit codes (contracts.md §2): 0 ok; 2 bad input; 3 PBX or database unreachable, or
not configured; 4 the PBX refused the API key.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from agent.core.errors import AgentError, ConfigError, InvalidInput, SecretMissing

if TYPE_CHECKING:
    from agent.core.settings import OperatorSettings, TeamSettings
    from agent.jobs.runner import JobRunner, RunResult
    from agent.storage.database import Storage

Common = Callable[..., None]
PRINT_EVERY_S = 0.5
WAIT_POLL_S = 1.0


def add_parsers(sub: Any, common: Common) -> None:
    history = sub.add_parser("import-history", help="J1 once, now: calls no agent recorded")
    common(history)
    history.add_argument(
        "--since",
        help="import from this ISO time (naive = UTC); default: the last checkpoint, "
        "else the last team.history_lookback_days days. It reaches back, never skips: "
        "calls after the checkpoint (or a stopped run's rest) are imported too",
    )
    robot = sub.add_parser("import-robot", help="J2 once, now: the robot's DTMF answers")
    common(robot)
    robot.add_argument(
        "--robot-url",
        help="run the robot query on this database instead of G6's MS SQL "
        "(sqlite:///PATH or postgresql://…; to try a query on a copy)",
    )


def parse_since(text: str | None) -> datetime | None:
    """``--since``: ISO 8601; a naive time is UTC (contracts.md §2)."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidInput(f"--since {text!r} is not an ISO 8601 time", field="since") from exc
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def cmd_import_history(args: argparse.Namespace) -> int:
    since = parse_since(args.since)
    setting = _Setting.from_args(args)
    import asyncio

    return asyncio.run(_import_history(setting, since))


def cmd_import_robot(args: argparse.Namespace) -> int:
    setting = _Setting.from_args(args)
    import asyncio

    return asyncio.run(_import_robot(setting, args.robot_url))


# ------------------------------------------------------------------ shared set-up


@dataclass(frozen=True)
class _Setting:
    data_root: Any
    db_url: str
    domain: str
    ext: str
    base_url: str | None
    ca_file: str | None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> _Setting:
        from agent.logs import setup_logging
        from agent.paths import DataDir
        from agent.profile import load_profile

        data_dir = DataDir.resolve(args.data_dir).ensure()
        setup_logging(data_dir.log_file, verbose=args.verbose)
        profile = load_profile(data_dir.config).merged(
            domain=args.domain,
            ext=args.ext,
            base_url=args.base_url,
            ca_file=args.ca_file,
            db=args.db,
        )
        if not profile.domain:
            raise ConfigError(
                "not configured: run `phonet-agent configure --domain D --ext E` or give --domain"
            )
        return cls(
            data_dir.root,
            profile.db or data_dir.database_url,
            profile.domain,
            profile.ext,
            profile.base_url or None,
            profile.ca_file or None,
        )


class _Settings:
    """The settings source the contacts area reads (``.team``, ``.operator``)."""

    def __init__(self, team: TeamSettings, operator: OperatorSettings) -> None:
        self.team = team
        self.operator = operator


async def _settings(storage: Storage, setting: _Setting) -> _Settings:
    from agent.core.settings import OperatorSettings, TeamSettings, parse_settings
    from agent.storage.repositories import operator_scope

    team_raw = await storage.run(storage.settings.load, "team")
    op_raw = (
        await storage.run(storage.settings.load, operator_scope(setting.domain, setting.ext))
        if setting.ext
        else {}
    )
    team, _ = parse_settings(TeamSettings, team_raw)
    operator, _ = parse_settings(OperatorSettings, op_raw)
    return _Settings(team, operator)


def _api_key(domain: str, ext: str) -> str:
    from agent.secrets import ENV_API_KEY, SecretName, Secrets

    secrets = Secrets()
    if ext or os.environ.get(ENV_API_KEY):
        return secrets.api_key(domain, ext)
    key = secrets.get(SecretName.team_api_key(domain))
    if not key:
        raise SecretMissing(
            f"no API key for {domain}: set {ENV_API_KEY}, give --ext, "
            "or run `phonet-agent secret set team-api-key`"
        )
    return key


def _events(storage: Storage, settings: _Settings, ext: str) -> Any:
    from agent.contacts.event_service import EventService
    from agent.contacts.service import ContactService
    from agent.jobs.events import ContactsEvents

    contacts = ContactService(storage, settings, own_ext=ext)
    events = EventService(storage, contacts, settings, own_ext=ext, publish=lambda t, d: None)
    return ContactsEvents(contacts, events)


class _Printer:
    """Progress lines on stdout, at most every half second."""

    def __init__(self, job: str, describe: Callable[[dict[str, Any]], str]) -> None:
        self.job = job
        self.describe = describe
        self._printed = 0.0

    def __call__(self, data: dict[str, Any]) -> None:
        if data.get("state") != "running" or not data.get("counts"):
            return
        now = time.monotonic()
        if now - self._printed >= PRINT_EVERY_S:
            self._printed = now
            print(f"{self.job}: {self.describe(data['counts'])}", flush=True)


async def _run_once(
    runner: JobRunner, job: str, body: Any, *, describe: Callable[[dict[str, Any]], str]
) -> int:
    import asyncio

    from agent.core.schedule import Verdict

    while True:
        claim = await runner.claim(job, period=runner.clock(), trigger="cli", manual=True)
        if claim.granted:
            break
        if claim.verdict is Verdict.BUSY:
            where = claim.holder_host or claim.holder or "another agent"
            print(f"{job}: running on {where} now; waiting for it to finish…", flush=True)
        await asyncio.sleep(WAIT_POLL_S)
    result: RunResult = await runner.execute(job, claim, body)
    counts = {k: v for k, v in result.counts.items() if isinstance(v, int | float | str)}
    print(f"{job}: {result.state}: {describe(result.counts)}", flush=True)
    print(" ".join(f"{k}={v}" for k, v in sorted(counts.items())), flush=True)
    if result.error is not None:
        if isinstance(result.exception, AgentError):
            raise result.exception
        print(f"phonet-agent: {result.error}", file=sys.stderr)
        return 1
    return 0


# ------------------------------------------------------------------ import-history


def _describe_history(counts: dict[str, Any]) -> str:
    done = counts.get("done")
    percent = f" ({float(done) * 100:.0f}%)" if isinstance(done, int | float) else ""
    unreadable = counts.get("skipped_unreadable") or 0
    bad = f", {unreadable} unreadable records skipped (see the log)" if unreadable else ""
    return (
        f"{counts.get('pages', 0)} pages, {counts.get('records', 0)} calls, "
        f"{counts.get('imported', 0)} imported, {counts.get('events', 0)} events{bad}{percent}"
    )


async def _import_history(setting: _Setting, since: datetime | None) -> int:
    from agent.jobs.history_import import HistoryImport
    from agent.jobs.identity import agent_identity
    from agent.jobs.runner import JobRunner
    from agent.jobs.service import HISTORY, history_config
    from agent.journal import Journal
    from agent.phonet.rest import PhonetRest
    from agent.storage.database import Storage

    api_key = _api_key(setting.domain, setting.ext)
    storage = Storage(setting.db_url)
    await storage.start()
    try:
        settings = await _settings(storage, setting)
        team = settings.team
        identity = agent_identity(setting.data_root).for_command("import-history")
        runner = JobRunner(
            storage,
            identity,
            lease_s=lambda: float(team.job_lease_s),
            publish=_Printer(HISTORY, _describe_history),
        )
        async with PhonetRest(
            domain=setting.domain,
            api_key=api_key,
            base_url=setting.base_url,
            ca_file=setting.ca_file,
        ) as rest:
            job = HistoryImport(
                storage=storage,
                journal=Journal(
                    storage, own_ext=setting.ext, completed_talk_s=team.completed_talk_s
                ),
                source=rest,
                events=_events(storage, settings, setting.ext),
                config=history_config(team),
            )

            async def body(run_id: int, progress: Any) -> dict[str, Any]:
                return await job.run(since=since, progress=progress)

            return await _run_once(runner, HISTORY, body, describe=_describe_history)
    finally:
        await storage.close()


# ------------------------------------------------------------------ import-robot


def _describe_robot(counts: dict[str, Any]) -> str:
    return (
        f"{counts.get('rows', 0)} rows, {counts.get('events', 0)} planned events, "
        f"{counts.get('skipped_unmapped', 0)} unmapped, "
        f"{counts.get('skipped_repeated', 0)} already imported, "
        f"{counts.get('invalid', 0)} invalid"
    )


async def _import_robot(setting: _Setting, robot_url: str | None) -> int:
    import asyncio

    from agent.jobs.identity import agent_identity
    from agent.jobs.robot_import import RobotImport
    from agent.jobs.robot_source import database_from_url
    from agent.jobs.runner import JobRunner
    from agent.jobs.service import ROBOT, default_robot_database, robot_config
    from agent.secrets import SecretName, Secrets
    from agent.storage.database import Storage

    storage = Storage(setting.db_url)
    await storage.start()
    try:
        settings = await _settings(storage, setting)
        team = settings.team
        if robot_url:
            database = database_from_url(robot_url)
        else:
            if not (team.robot_server and team.robot_user):
                raise ConfigError("the robot's server and user are not set (team settings, G6)")
            name = SecretName.robot_password(team.robot_server, team.robot_user)
            password = await asyncio.to_thread(Secrets().get, name)
            if not password:
                raise SecretMissing(
                    f"no robot password for {name.user}: run `phonet-agent secret set "
                    f"robot-password --server {team.robot_server} --user {team.robot_user}`"
                )
            database = default_robot_database(team, password)
        identity = agent_identity(setting.data_root).for_command("import-robot")
        runner = JobRunner(
            storage,
            identity,
            lease_s=lambda: float(team.job_lease_s),
            publish=_Printer(ROBOT, _describe_robot),
        )
        job = RobotImport(
            storage=storage,
            database=database,
            events=_events(storage, settings, setting.ext),
            config=robot_config(team),
        )

        async def body(run_id: int, progress: Any) -> dict[str, Any]:
            return await job.run(run_id=run_id, progress=progress)

        return await _run_once(runner, ROBOT, body, describe=_describe_robot)
    finally:
        await storage.close()
