"""The live-update channel: a WebSocket at ``/api/live?token=…`` (contracts.md §4).

Every message the hub publishes (``status``, ``popup``, ``dialer``, ``job``, ``open``,
``settings``…) goes to every open page as one JSON text frame
``{"topic": str, "data": …}``. The first frame is ``hello``, with the current status,
so a page (re)connecting never misses the state it missed while away. The token is
a query parameter because browsers cannot set headers on a WebSocket; the Guard
middleware (server.py) checks it, the Host and the Origin before we get here.

A plain HTTP ``GET /api/live`` answers 426 (Upgrade Required) in the documented
error shape, so the OpenAPI document can describe the channel and a client that
forgot to upgrade learns why.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from agent.api.registry import Registry
from agent.api.server import error_response
from agent.hub import Hub, Message

log = logging.getLogger(__name__)

LIVE_PATH = "/api/live"
PING_S = 25.0  # a text ping keeps idle proxies and WebView timers honest


def frame(topic: str, data: Any) -> str:
    return json.dumps({"topic": topic, "data": data}, separators=(",", ":"), default=str)


async def live_socket(websocket: WebSocket) -> None:
    services = websocket.app.state.services
    hub: Hub = services.hub
    await websocket.accept()
    async with hub.subscribe() as queue:
        await websocket.send_text(frame("hello", _hello(services)))
        sender = asyncio.ensure_future(_forward(websocket, queue))
        try:
            await _read_until_closed(websocket)
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender


def _hello(services: Any) -> dict[str, Any]:
    hello: dict[str, Any] = {"status": services.runtime.status()}
    language = getattr(services, "language", None)
    if callable(language):
        hello["language"] = language()
    return hello


async def _forward(websocket: WebSocket, queue: asyncio.Queue[Message]) -> None:
    while True:
        try:
            async with asyncio.timeout(PING_S):  # not wait_for: see agent/journal.py
                message = await queue.get()
        except TimeoutError:
            message = Message("ping", None)
        try:
            await websocket.send_text(frame(message.topic, message.data))
        except (WebSocketDisconnect, RuntimeError, OSError):
            return  # the page went away; the reader ends the handler


async def _read_until_closed(websocket: WebSocket) -> None:
    """The page may send ``ping``; we answer ``pong``. Anything else is ignored."""
    while True:
        try:
            text = await websocket.receive_text()
        except (WebSocketDisconnect, RuntimeError, KeyError):
            return
        if text == "ping":
            with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
                await websocket.send_text(frame("pong", None))


def routes() -> list[WebSocketRoute]:
    return [WebSocketRoute(LIVE_PATH, live_socket)]


def register(api: Registry) -> None:
    @api.endpoint(
        "GET",
        LIVE_PATH,
        summary=(
            "Live updates over a WebSocket (connect with ws://…/api/live?token=TOKEN): "
            'JSON frames {"topic", "data"}; topics hello, status, popup, dialer, job, '
            "open, settings, ping"
        ),
        tag="live",
        query=(("token", {"type": "string"}, True),),
        status=101,
        errors=(401, 403, 426),
        public=True,  # the token travels as ?token=, not as a bearer header
    )
    async def live_http(request: Request) -> Response:
        return error_response(
            426, "upgrade_required", "the live channel is a WebSocket: connect with ws://"
        )
