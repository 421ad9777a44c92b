"""The web UI's wiring (issue 7): settings, health, reports, the live channel, the
i18n files, the window launcher. ``attach_web_ui`` is called from the composition
root's feature-wiring block (agent/app.py).

What it adds to ``services`` (for handlers and other features):

- ``secrets``: the keyring (agent/secrets.py) unless another block set one;
- ``language()``: the window's language now (the operator's setting, else the OS's);
- ``settings_listeners``: callables ``(team, operator, {"applied", "restart"})``
  called after every saved change (another feature may append to it);
- ``window``: the :class:`~agent.window.WindowLauncher` (``services.window.open(
  "call:UUID")`` from the tray or a popup click);
- ``started_at`` / ``started_monotonic``: for the health page.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import agent
from agent.api import live, routes_health, routes_reports, routes_settings
from agent.api.registry import Registry
from agent.api.server import error_response
from agent.i18n import LANGUAGES, messages, resolve_language
from agent.window import WindowLauncher


async def i18n_file(request: Request) -> Response:
    """``/i18n/{lang}.json``: the messages the page translates with (no secret: no token)."""
    lang = request.path_params["lang"]
    if lang not in LANGUAGES:
        return error_response(404, "not_found", f"no language {lang!r}")
    return JSONResponse(dict(messages(lang)), headers={"Cache-Control": "no-cache"})


def attach_web_ui(owner: Any, registry: Registry, services: Any) -> None:
    """Register the web UI's endpoints and services on an :class:`agent.app.Agent`."""
    if getattr(services, "secrets", None) is None:
        from agent.secrets import Secrets

        services.secrets = Secrets()
    services.language = lambda: resolve_language(owner.operator.language)
    services.started_at = datetime.now(UTC)
    services.started_monotonic = time.monotonic()
    if not hasattr(services, "settings_listeners"):
        services.settings_listeners = []

    live.register(registry)
    routes_settings.register(registry)
    routes_health.register(registry)
    routes_reports.register(registry)
    _register_ui(registry)
    services.extra_routes = [
        *getattr(services, "extra_routes", ()),
        *live.routes(),
        Route("/i18n/{lang}.json", i18n_file, methods=["GET"]),
    ]

    watch_journal(services)
    loop = asyncio.get_running_loop()

    def endpoint() -> tuple[str, str] | None:
        api = owner.api
        return (api.url, api.token) if api is not None and api.port else None

    def publish(topic: str, data: Any) -> None:
        loop.call_soon_threadsafe(services.hub.publish, topic, data)

    services.window = WindowLauncher(
        endpoint=endpoint,
        publish=publish,
        log_file=owner.options.data_dir.logs / "window.log",
    )


def watch_journal(services: Any) -> None:
    """Publish ``journal`` ``{"uuid"}`` once a finished call's row is in the database
    (M3 live): the journal tells its listeners after each batch it wrote."""
    hub = services.hub

    def written(entries: list[Any]) -> None:
        for entry in entries:
            if entry.end_at is not None:
                hub.publish("journal", {"uuid": entry.uuid})

    services.journal.written_listeners.append(written)


def _register_ui(api: Registry) -> None:
    @api.endpoint(
        "GET",
        "/api/ui",
        summary="What the page needs first: language, extension, version",
        tag="ui",
        response={
            "type": "object",
            "required": ["language", "languages", "version", "extension"],
            "properties": {
                "language": {"type": "string", "enum": list(LANGUAGES)},
                "languages": {"type": "array", "items": {"type": "string"}},
                "version": {"type": "string"},
                "extension": {"type": "string"},
                "domain": {"type": "string"},
                "window": {"type": "boolean"},
            },
        },
    )
    async def ui(request: Request) -> Response:
        services = request.app.state.services
        opts = services.agent.options
        return JSONResponse(
            {
                "language": services.language(),
                "languages": list(LANGUAGES),
                "version": agent.__version__,
                "extension": opts.ext,
                "domain": opts.domain,
                "window": not opts.headless,
            }
        )

    @api.endpoint(
        "POST",
        "/api/connect",
        summary="Connect the live link now, or cut its wait short (M3, U3)",
        tag="phone",
        status=202,
        response={"type": "object", "properties": {"link": {"type": "string"}}},
    )
    async def connect(request: Request) -> Response:
        owner = request.app.state.services.agent
        owner.connect()
        return JSONResponse({"link": owner.link_status()[0]}, status_code=202)

    @api.endpoint(
        "POST",
        "/api/disconnect",
        summary="Disconnect the live link until Connect (M3); calls are reconciled later (B4)",
        tag="phone",
        response={"type": "object", "properties": {"link": {"type": "string"}}},
    )
    async def disconnect(request: Request) -> Response:
        owner = request.app.state.services.agent
        await owner.disconnect()
        return JSONResponse({"link": owner.link_status()[0]})

    @api.endpoint(
        "POST",
        "/api/window",
        summary="Open the agent window (optionally at call:UUID, contact:ID, event:ID…)",
        tag="ui",
        request={"type": "object", "properties": {"open": {"type": "string"}}},
        response={"type": "object", "properties": {"opened": {"type": "boolean"}}},
        errors=(400, 409, 422),
    )
    async def open_window(request: Request) -> Response:
        from agent.api.server import read_json
        from agent.core.errors import InvalidInput

        body = await read_json(request)
        target = body.get("open") if isinstance(body, dict) else None
        if target is not None and not isinstance(target, str):
            raise InvalidInput("open must be text", field="open")
        services = request.app.state.services
        if services.agent.options.headless:
            return error_response(409, "headless", "a headless agent has no window")
        launcher: WindowLauncher = services.window
        opened = await asyncio.to_thread(launcher.open, target)
        return JSONResponse({"opened": opened})
