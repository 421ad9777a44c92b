"""``attach_jobs(agent)``: the jobs area's block of the composition root (agent/app.py).

Adds ``services.jobs`` (:class:`JobService`) and ``services.presence``, the routes
of ``agent/api/routes_jobs.py``, the scheduler and the heartbeats as runtime
participants, and one task that stops the area's background work when the agent
stops (runs release their leases, the agent leaves the presence list).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent.api import routes_jobs
from agent.core.settings import TeamSettings, parse_settings
from agent.jobs.identity import agent_identity
from agent.jobs.robot_source import RobotDatabase
from agent.jobs.service import JobContext, JobService, SecretSource, default_robot_database

if TYPE_CHECKING:
    from agent.app import Agent
    from agent.jobs.events import JobEvents


async def attach_jobs(agent: Agent, *, secrets: SecretSource | None = None) -> JobService:
    assert agent.runtime is not None
    opts = agent.options
    services = agent.services
    runtime = agent.runtime
    storage = agent.storage

    async def load_team() -> TeamSettings:
        stored = await storage.run(lambda: storage.settings.load("team"))
        team, _ = parse_settings(TeamSettings, {**stored, **opts.team_overrides})
        return team

    context = JobContext(
        storage=storage,
        identity=agent_identity(opts.data_dir.root),
        domain=opts.domain,
        ext=opts.ext,
        journal=services.journal,
        history_source=agent.rest,
        events=job_events(services),
        secrets=secrets or getattr(services, "secrets", None) or keyring_secrets(),
        robot_database=robot_database,
        clock=runtime.clock,
    )
    service = JobService(
        context,
        team=agent.team,
        load_team=load_team,
        publish=agent.hub.publish,
        poke=runtime.poke,
        link_state=lambda: str(runtime.status()["link"]),
    )
    services.jobs = service
    services.presence = service.presence
    routes_jobs.register(agent.registry)
    await service.start()
    runtime.participants.extend(service.participants)
    runtime.state_listeners.append(service.presence.nudge)  # link up/down: beat at once
    agent.add_task(service.run_forever(), name="jobs")
    runtime.poke()
    return service


def job_events(services: Any) -> JobEvents | None:
    """The contacts area's events for the jobs (issue 4), when that area is wired:
    ``services.job_events`` as given, else ``services.contacts`` + ``services.events``."""
    given = getattr(services, "job_events", None)
    if given is not None:
        return given  # type: ignore[no-any-return]
    contacts = getattr(services, "contacts", None)
    events = getattr(services, "events", None)
    if contacts is None or events is None:
        return None
    from agent.jobs.events import ContactsEvents

    return ContactsEvents(contacts, events)


def keyring_secrets() -> SecretSource:
    from agent.secrets import Secrets

    return Secrets()


def robot_database(team: TeamSettings, password: str) -> RobotDatabase:
    """SpRobot's MS SQL (G6); the tests put a robot-shaped SQLite table here."""
    return default_robot_database(team, password)
