"""Connection health and the diagnostics bundle (B15).

``GET /api/health``: the live link (state, since when, last event, reconnects,
re-authentications, the last failure), REST (latency, requests, errors,
re-authorisations), the runtime (frames, bad frames, last error), job runs when the
jobs feature reports them, and the agent itself (version, uptime, database kind).

``GET /api/health/diagnostics``: a zip for support — health, status, settings
(secrets only as set / not set), versions, and the recent logs. Every text in it
goes through :func:`agent.logs.redact` (known secrets and secret-shaped text
masked), and nothing from the keyring or ``api.json`` is ever read into it.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import platform
import sys
import time
import zipfile
from dataclasses import asdict, is_dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

import agent
from agent.api.registry import Registry
from agent.logs import redact
from agent.runtime import iso

LOG_BYTES = 4_000_000  # at most this much of the newest logs goes into a bundle
LIBRARIES = (
    "starlette",
    "uvicorn",
    "websockets",
    "httpx",
    "peewee",
    "psycopg2-binary",
    "pywebview",
    "pystray",
    "desktop-notifier",
    "keyring",
    "openpyxl",
    "python-calamine",
    "phonenumbers",
    "cronsim",
)


class JobsView(Protocol):
    """What the jobs feature (issue 6, agent/jobs/service.py) offers: one dict per job
    (name, schedule, next run, the run in progress, the last run) as ``GET /api/jobs``."""

    async def jobs_view(self) -> list[dict[str, Any]]: ...


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in asdict(value).items()}
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "value") and isinstance(value.value, str):  # enums
        return value.value
    return value


def health_body(services: Any) -> dict[str, Any]:
    """Everything the health page shows, as JSON-able values (read on the loop)."""
    agent_ = services.agent
    runtime = services.runtime
    live = getattr(agent_, "live", None)
    rest = getattr(agent_, "rest", None)
    started = getattr(services, "started_at", None)
    stats = runtime.stats
    body: dict[str, Any] = {
        "now": iso(datetime.now(UTC)),
        "agent": {
            "version": agent.__version__,
            "pid": os.getpid(),
            "started_at": iso(started),
            "uptime_s": round(time.monotonic() - services.started_monotonic, 1)
            if hasattr(services, "started_monotonic")
            else None,
            "database": services.storage.dialect,
            "extension": agent_.options.ext,
            "domain": agent_.options.domain,
            "live_subscribers": services.hub.subscribers,
            "python": platform.python_version(),
            "platform": platform.platform(terse=True),
        },
        "link": _plain(live.stats) if live is not None else None,
        "rest": _plain(rest.stats) if rest is not None else None,
        "runtime": {
            "frames": stats.frames,
            "bad_frames": stats.bad_frames,
            "connected_at": iso(stats.connected_at),
            "last_error": stats.last_error,
            "link_up": runtime.phone.link_up,
            "last_event_at": iso(runtime.phone.last_event_at),
        },
        "jobs": [],
    }
    return body


async def with_jobs(services: Any, body: dict[str, Any]) -> dict[str, Any]:
    """The health figures with the job runs, when the jobs feature is wired."""
    jobs: JobsView | None = getattr(services, "jobs", None)
    view = getattr(jobs, "jobs_view", None)
    if callable(view):
        try:
            body["jobs"] = list(_plain(await view()))
        except Exception as exc:  # the page still shows the rest
            body["jobs"] = [{"name": "jobs", "error": f"{type(exc).__name__}: {exc}"}]
    return body


def versions() -> dict[str, Any]:
    found: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return {
        "agent": agent.__version__,
        "python": sys.version,
        "platform": platform.platform(),
        "frozen": bool(getattr(sys, "frozen", False)),
        "libraries": found,
    }


def recent_logs(log_dir: Path, budget: int = LOG_BYTES) -> list[tuple[str, str]]:
    """(name, text) of the newest log files, newest first, within ``budget`` bytes."""
    if not log_dir.is_dir():
        return []
    files = sorted(
        (p for p in log_dir.iterdir() if p.is_file() and p.name.startswith("agent.log")),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    out: list[tuple[str, str]] = []
    for path in files:
        if budget <= 0:
            break
        data = path.read_bytes()
        if len(data) > budget:
            data = data[-budget:]  # the newest part of the file
        budget -= len(data)
        out.append((path.name, data.decode("utf-8", errors="replace")))
    return out


def build_bundle(parts: dict[str, Any], log_dir: Path | None) -> bytes:
    """The zip, with every text redacted. ``parts``: name -> JSON-able value."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(
            "README.txt",
            "Phonet Agent diagnostics bundle. Secrets (API keys, passwords, session ids,\n"
            "the local API token) are masked as *** everywhere in it; settings that are\n"
            "secrets appear only as set / not set.\n",
        )
        for name, value in parts.items():
            text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
            zf.writestr(f"{name}.json", redact(text))
        for name, text in recent_logs(log_dir) if log_dir is not None else []:
            zf.writestr(f"logs/{name}", redact(text))
    return buffer.getvalue()


HEALTH = {
    "type": "object",
    "required": ["agent", "link", "rest", "runtime", "jobs"],
    "properties": {
        "now": {"type": "string"},
        "agent": {"type": "object"},
        "link": {"type": "object", "nullable": True},
        "rest": {"type": "object", "nullable": True},
        "runtime": {"type": "object"},
        "jobs": {"type": "array", "items": {"type": "object"}},
    },
}


def register(api: Registry) -> None:
    @api.endpoint(
        "GET",
        "/api/health",
        summary="Live link, REST latency, re-authorisations, runtime and job health",
        tag="health",
        response=HEALTH,
    )
    async def health(request: Request) -> Response:
        services = request.app.state.services
        return JSONResponse(await with_jobs(services, health_body(services)))

    @api.endpoint(
        "GET",
        "/api/health/diagnostics",
        summary="A zip of redacted logs, settings, versions and health figures",
        tag="health",
    )
    async def diagnostics(request: Request) -> Response:
        from agent.api.routes_settings import settings_body

        services = request.app.state.services
        parts = {
            "health": await with_jobs(services, health_body(services)),
            "status": services.runtime.status(),
            "versions": versions(),
        }
        log_dir = services.agent.options.data_dir.logs

        def build() -> bytes:
            parts["settings"] = settings_body(services)  # asks the keyring: off the loop
            return build_bundle(parts, log_dir)

        data = await asyncio.to_thread(build)
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        name = f"phonet-agent-diagnostics-{stamp}.zip"
        return Response(
            data,
            media_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
