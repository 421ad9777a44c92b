"""The simulator's ASGI app: the PBX routes behind one gate.

The gate does, in order, what every non-control request shares:
trailing slashes are accepted on every path (phonet-api.md §0: some clients add
them, some don't); the request is logged for ``/_sim/requests`` with secrets
masked (WebSocket connects as method ``WS``); under ``/rest/`` the injected faults
apply (``rest_delay_ms``, then ``rest_5xx``, authorize included); and every
non-public ``/rest/`` path needs a live JSESSIONID or gets 403 (phonet-api.md §1.3,
§4.2). ``/_sim/`` passes straight through: faults never touch it (contracts.md §3).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from agent.simulator.control import ControlApi
from agent.simulator.engine import Engine
from agent.simulator.live import live_endpoint
from agent.simulator.masking import mask
from agent.simulator.rest import RestApi, forbidden

LIVE_PATH = "/live/connector/v3/easy"
PUBLIC_REST = ("/rest/security/authorize", "/rest/public/")
MAX_LOGGED_REQUESTS = 10_000  # the demo runs for hours; keep the newest


def build_app(engine: Engine) -> ASGIApp:
    async def live(websocket: WebSocket) -> None:
        await live_endpoint(websocket, engine.state, engine.hub)

    app = Starlette(
        routes=[
            *RestApi(engine).routes(),
            *ControlApi(engine).routes(),
            WebSocketRoute(LIVE_PATH, live),
        ]
    )
    app.router.redirect_slashes = False
    return Gate(app, engine)


class Gate:
    def __init__(self, app: ASGIApp, engine: Engine) -> None:
        self.app = app
        self.engine = engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        raw_path: str = scope["path"]
        path = raw_path.rstrip("/") or "/"
        scope = {**scope, "path": path}
        if path == "/_sim" or path.startswith("/_sim/"):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            entry = self._log(scope, "WS", raw_path, b"")
            await self.app(scope, receive, _recording_status(send, entry))
            return
        body, receive = await _buffer_body(receive)
        entry = self._log(scope, scope["method"], raw_path, body)
        send = _recording_status(send, entry)
        if path.startswith("/rest/"):
            refusal = await self._rest_gate(scope, path)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _rest_gate(self, scope: Scope, path: str) -> Response | None:
        state = self.engine.state
        delay = state.faults.take_rest_delay()
        if delay:
            await asyncio.sleep(delay)
        if state.faults.take_rest_5xx():
            return PlainTextResponse("Service Unavailable", status_code=503)
        public = path == PUBLIC_REST[0] or path.startswith(PUBLIC_REST[1])
        session = Request(scope).cookies.get("JSESSIONID")
        if not public and not state.session_valid(session, time.monotonic()):
            return forbidden()
        return None

    def _log(self, scope: Scope, method: str, path: str, body: bytes) -> dict[str, Any]:
        state = self.engine.state
        secrets = state.secret_values()
        entry: dict[str, Any] = {
            "at": time.time(),
            "method": method,
            "path": path,
            "query": mask(scope["query_string"].decode("latin-1"), secrets),
            "body": mask(body.decode("utf-8", errors="replace"), secrets),
            "status": None,
        }
        state.requests.append(entry)
        if len(state.requests) > MAX_LOGGED_REQUESTS:
            del state.requests[: len(state.requests) - MAX_LOGGED_REQUESTS]
        return entry


async def _buffer_body(receive: Receive) -> tuple[bytes, Receive]:
    """Read the whole request body, and a ``receive`` that replays it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


def _recording_status(send: Send, entry: dict[str, Any]) -> Send:
    """A ``send`` that notes the response status in the request-log entry."""

    async def recording(message: Message) -> None:
        kind = message["type"]
        if kind in ("http.response.start", "websocket.http.response.start"):
            entry["status"] = message["status"]
        elif kind == "websocket.accept":
            entry["status"] = 101
        elif kind == "websocket.close" and entry["status"] is None:
            entry["status"] = 403  # closed before accept: uvicorn refuses the handshake
        await send(message)

    return recording
