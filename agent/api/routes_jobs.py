"""Jobs and team presence (G2, G6, J1, J2, B5; issue 6).

``GET /api/jobs`` lists the jobs with their switch, schedule, next run, the run in
progress (on any agent of the team, with its counts) and the last run;
``GET /api/jobs/{job}/runs`` pages the recorded runs; ``POST /api/jobs/{job}/run``
is "Run now" (409 while another agent runs it); ``GET /api/team/presence`` lists
the agents online. Live progress comes on the live channel, topic ``job``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from agent.api.registry import Registry, list_of
from agent.core.errors import InvalidInput

if TYPE_CHECKING:
    from agent.jobs.service import JobService
    from agent.storage.jobs_repository import Claim

# Why a job cannot run on this agent (agent/jobs/service.py ``Problem``).
PROBLEM_KEYS = (
    "jobs.problem.bad_schedule",
    "jobs.problem.no_pbx",
    "jobs.problem.robot_not_set",
    "jobs.problem.no_robot_password",
    "jobs.problem.no_events",
)
RUN = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "job": {"type": "string", "enum": ["history", "robot"]},
        "period_at": {"type": "string", "format": "date-time"},
        "trigger": {"type": "string", "enum": ["schedule", "manual", "cli"]},
        "agent_id": {"type": "string"},
        "host": {"type": "string"},
        "started_at": {"type": "string", "format": "date-time"},
        "ended_at": {"type": "string", "format": "date-time", "nullable": True},
        "state": {"type": "string", "enum": ["running", "ok", "failed", "lost", "stopped"]},
        "counts": {"type": "object"},
        "error": {"type": "string", "nullable": True},
        "taken_over": {"type": "integer", "nullable": True},
    },
}
JOB = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "enum": ["history", "robot"]},
        "enabled": {"type": "boolean"},
        "schedule": {"type": "string"},
        "runnable_here": {"type": "boolean"},
        "problem": {"type": "string", "nullable": True},
        "problem_key": {
            "type": "string",
            "nullable": True,
            "enum": [*PROBLEM_KEYS, None],
            "description": "the problem as a message key of agent/i18n, for the window",
        },
        "problem_params": {
            "type": "object",
            "nullable": True,
            "additionalProperties": {"type": "string"},
            "description": "the values the problem's message names (e.g. user, server)",
        },
        "next_run_at": {"type": "string", "format": "date-time", "nullable": True},
        "running_here": {"type": "boolean"},
        "running": {
            "type": "object",
            "nullable": True,
            "properties": {
                "agent_id": {"type": "string"},
                "host": {"type": "string"},
                "run_id": {"type": "integer"},
                "period_at": {"type": "string", "format": "date-time"},
                "alive": {"type": "boolean"},
                "counts": {"type": "object"},
            },
        },
        "last_run": {**RUN, "nullable": True},
        "holders": {
            "type": "array",
            "description": "the agents whose keyring holds the job's secret (G6)",
            "items": {
                "type": "object",
                "required": ["agent_id", "host", "operator"],
                "properties": {
                    "agent_id": {"type": "string"},
                    "host": {"type": "string", "nullable": True},
                    "operator": {"type": "string", "nullable": True},
                },
            },
        },
    },
}
PRESENCE = {
    "type": "object",
    "properties": {
        "agent_id": {"type": "string"},
        "domain": {"type": "string"},
        "ext": {"type": "string"},
        "operator": {"type": "string"},
        "host": {"type": "string"},
        "pid": {"type": "integer"},
        "version": {"type": "string"},
        "link": {"type": "string", "enum": ["offline", "connecting", "online"]},
        "started_at": {"type": "string", "format": "date-time"},
        "seen_at": {"type": "string", "format": "date-time"},
        "self": {"type": "boolean"},
    },
}
_JOB_PARAM = ("job", {"type": "string", "enum": ["history", "robot"]}, True)


def _service(request: Request) -> JobService:
    service: JobService = request.app.state.services.jobs
    return service


def _job(request: Request) -> str:
    name = str(request.path_params["job"])
    if name not in _service(request).job_names():
        raise InvalidInput(f"there is no job {name!r}", field="job")
    return name


def register(api: Registry) -> None:
    from agent.jobs.service import run_json

    @api.endpoint(
        "GET",
        "/api/jobs",
        summary="The jobs: switch, schedule, next run, the run in progress, the last run",
        tag="jobs",
        response=list_of(JOB),
    )
    async def jobs(request: Request) -> Response:
        items = await _service(request).jobs_view()
        return JSONResponse({"items": items, "total": len(items), "next_offset": None})

    @api.endpoint(
        "GET",
        "/api/jobs/{job}/runs",
        summary="A job's recorded runs, newest first",
        tag="jobs",
        query=(
            ("limit", {"type": "integer", "minimum": 1, "maximum": 200}, False),
            ("offset", {"type": "integer", "minimum": 0}, False),
        ),
        response=list_of(RUN),
        errors=(422,),
    )
    async def runs(request: Request) -> Response:
        name = _job(request)
        limit = _int(request.query_params.get("limit"), "limit", 20, 1, 200)
        offset = _int(request.query_params.get("offset"), "offset", 0, 0, 10**9)
        found, total = await _service(request).runs(name, limit=limit, offset=offset)
        next_offset = offset + len(found) if offset + len(found) < total else None
        return JSONResponse(
            {"items": [run_json(r) for r in found], "total": total, "next_offset": next_offset}
        )

    @api.endpoint(
        "POST",
        "/api/jobs/{job}/run",
        summary="Run now (on this agent); 409 while another agent runs the job",
        tag="jobs",
        status=202,
        response={
            "type": "object",
            "properties": {
                "run_id": {"type": "integer"},
                "period_at": {"type": "string", "format": "date-time"},
            },
        },
        errors=(400, 409, 422),
    )
    async def run_now(request: Request) -> Response:
        name = _job(request)
        claim = await _service(request).run_now(name)
        if not claim.granted:
            message = busy_message(name, claim, _service(request).context.identity.agent_id)
            return JSONResponse(
                {"error": {"code": "job_busy", "message": message}}, status_code=409
            )
        return JSONResponse(
            {"run_id": claim.run_id, "period_at": claim.period_at.isoformat()}, status_code=202
        )

    @api.endpoint(
        "GET",
        "/api/team/presence",
        summary="The agents online now (fresh heartbeats; B5, U10)",
        tag="team",
        response=list_of(PRESENCE),
    )
    async def presence(request: Request) -> Response:
        items: list[dict[str, Any]] = await _service(request).presence_view()
        return JSONResponse({"items": items, "total": len(items), "next_offset": None})


def busy_message(name: str, claim: Claim, me: str) -> str:
    """The 409's sentence: where the job runs, by the computer's name (the lease's
    host; the agent's id only when an old lease row has none)."""
    if claim.holder_host:
        where = claim.holder_host
    elif claim.holder:
        where = f"agent {claim.holder}"
    else:
        where = "another agent"
    here = " (this computer)" if claim.holder == me else ""
    return f"the {name} job is running on {where}{here}"


def _int(raw: str | None, name: str, default: int, lo: int, hi: int) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise InvalidInput(f"{name} must be a whole number", field=name) from exc
    if not lo <= value <= hi:
        raise InvalidInput(f"{name} must be between {lo} and {hi}", field=name)
    return value
