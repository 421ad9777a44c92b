"""The local API and web UI server: Starlette served by uvicorn inside the agent's
loop, on 127.0.0.1 at a free port (contracts.md §4, B9).

Security: every ``/api/`` request needs the bearer token, except the OpenAPI
document and the live channel (``?token=``: browsers cannot set headers on a
WebSocket or EventSource). A foreign ``Origin`` or a ``Host`` other than
127.0.0.1/localhost gets 403, which defeats DNS rebinding.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

import agent
from agent.api.registry import Registry
from agent.core.errors import AgentError, InvalidInput, PbxError
from agent.profile import write_atomically

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Paths under /api/ that take no bearer token.
PUBLIC_PATHS = {"/api/openapi.json"}
QUERY_TOKEN_PATHS = {"/api/live"}


def error_response(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if field:
        body["field"] = field
    return JSONResponse({"error": body}, status_code=status)


class Guard:
    """ASGI middleware: Host and Origin checks for everything, the token for /api/."""

    def __init__(self, app: ASGIApp, token: str, port_getter: Callable[[], int]) -> None:
        self.app = app
        self.token = token
        self.port = port_getter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        problem = self._check(scope, headers)
        if problem is None:
            await self._serve(scope, receive, send)
            return
        status, code, message = problem
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": message[:100]})
            return
        await error_response(status, code, message)(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The app; a request it fails on is logged here, once, with its traceback.

        Starlette has already answered such a request with the error body
        (:func:`_on_unexpected`) and raises on; uvicorn would log the traceback again
        and drop the connection, so it ends here. WebSocket failures go on to uvicorn,
        whose loggers write to the agent's log too (:func:`route_uvicorn_logs`)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        except Exception:
            log.exception("the local API failed on %s %s", scope.get("method"), scope["path"])

    def _check(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str, str] | None:
        port = self.port()
        allowed = {f"127.0.0.1:{port}", f"localhost:{port}"}
        host = headers.get("host", "")
        if host not in allowed:
            return 403, "forbidden_host", "requests must address 127.0.0.1 or localhost"
        origin = headers.get("origin")
        if origin is not None and origin not in {f"http://{h}" for h in allowed}:
            return 403, "forbidden_origin", "requests from other origins are refused"
        path: str = scope["path"]
        if not path.startswith("/api/") or path in PUBLIC_PATHS:
            return None
        if path in QUERY_TOKEN_PATHS:
            given = _query_token(scope.get("query_string", b""))
        else:
            auth = headers.get("authorization", "")
            given = auth[7:] if auth.lower().startswith("bearer ") else ""
        # bytes: compare_digest refuses non-ASCII str (a 500 found by schemathesis)
        if not given or not hmac.compare_digest(given.encode(), self.token.encode()):
            return 401, "unauthorized", "a valid bearer token is required"
        return None


def _query_token(query: bytes) -> str:
    from urllib.parse import parse_qs

    values = parse_qs(query.decode("latin-1")).get("token", [])
    return values[0] if values else ""


def webui_dir() -> Path:
    """webui/ of a source checkout, else the copy inside the installed package."""
    source = Path(agent.__file__).resolve().parent.parent / "webui"
    if source.is_dir():
        return source
    return Path(agent.__file__).resolve().parent / "webui"


async def _on_agent_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AgentError)
    if isinstance(exc, InvalidInput):
        return error_response(422, exc.message_key.removeprefix("error."), str(exc), exc.field)
    if isinstance(exc, PbxError):
        return error_response(503, exc.message_key.removeprefix("error."), str(exc))
    return error_response(400, exc.message_key.removeprefix("error."), str(exc))


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail))


async def _on_value_error(request: Request, exc: Exception) -> Response:
    return error_response(400, "bad_request", str(exc))


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    """A bug: the documented error shape, with no detail (the exception's text may
    carry anything); the traceback goes to the agent's log (:meth:`Guard._serve`)."""
    return error_response(
        500, "internal", "something went wrong inside the agent; its log (agent.log) says what"
    )


def build_app(
    registry: Registry, state: Any, token: str, port_getter: Callable[[], int]
) -> ASGIApp:
    routes: list[BaseRoute] = []

    async def openapi(request: Request) -> Response:
        return JSONResponse(registry.openapi(agent.__version__))

    routes.append(Route("/api/openapi.json", openapi, methods=["GET"]))
    routes += [Route(ep.path, ep.handler, methods=[ep.method]) for ep in registry.endpoints]
    routes += list(getattr(state, "extra_routes", ()))
    static = webui_dir()
    if static.is_dir():
        routes.append(Mount("/", StaticFiles(directory=static, html=True), name="webui"))
    app = Starlette(
        routes=routes,
        exception_handlers={
            AgentError: _on_agent_error,
            HTTPException: _on_http_error,
            ValueError: _on_value_error,
            Exception: _on_unexpected,  # Starlette's 500 handler (ServerErrorMiddleware)
        },
    )
    app.state.services = state
    return Guard(app, token, port_getter)


@dataclass
class ApiServer:
    """uvicorn on the agent's loop, bound by us so the port is known at once."""

    app_factory: Callable[[str, Callable[[], int]], ASGIApp]
    api_file: Path | None = None
    token: str = ""
    port: int = 0
    _server: uvicorn.Server | None = None
    _task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.token = self.token or secrets.token_urlsafe(24)
        # IPPROTO_TCP: without it asyncio never sets TCP_NODELAY (~40 ms per keep-alive reply).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        app = self.app_factory(self.token, lambda: self.port)
        config = uvicorn.Config(
            app,
            lifespan="off",
            http="h11",
            ws="websockets-sansio",
            log_config=None,  # uvicorn's default config writes to stderr, past agent.log
            log_level="warning",
            access_log=False,
            server_header=False,
        )
        route_uvicorn_logs()
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                await self._task  # raises what went wrong
            await asyncio.sleep(0.005)
        if self.api_file is not None:
            write_atomically(
                self.api_file,
                json.dumps({"url": self.url, "token": self.token, "pid": os.getpid()}),
            )

    async def stop(self) -> None:
        if self.api_file is not None:
            self.api_file.unlink(missing_ok=True)
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=5)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()


UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.asgi")


def route_uvicorn_logs() -> None:
    """uvicorn's loggers through the agent's handlers: the rotated agent.log and the
    redacting formatter (agent/logs.py). Its default logging config gives them a
    handler of their own on stderr and stops propagation, so what a server error
    logged never reached the agent's log, unmasked; ``log_config=None`` leaves them
    alone, and this undoes such a config made earlier in the process."""
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True


def json_body_fields(body: Any, allowed: Iterable[str]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object")
    return {k: v for k, v in body.items() if k in set(allowed)}


# The largest file an import takes: a million-row csv is ~40 MB, a 100k-row xlsx ~5 MB.
UPLOAD_LIMIT: Final = 64 * 1024 * 1024
# A multipart form's own bytes around the file (boundaries, headers, the mapping).
FORM_OVERHEAD: Final = 1024 * 1024


class _TooLarge(Exception):
    """The body grew past the limit while it was read."""


def _too_large(limit: int) -> InvalidInput:
    return InvalidInput(
        f"the file is larger than {limit // (1024 * 1024)} MB: split it into several files",
        field="file",
        message_key="file.too_large",
    )


async def read_upload(
    request: Request, max_bytes: int = UPLOAD_LIMIT
) -> tuple[bytes, str, dict[str, str] | None]:
    """Every import's multipart ``file`` and optional ``mapping`` JSON (contracts.md §4).

    A file over ``max_bytes`` is refused before it is read when the request says its
    length, else as soon as the body passes it: Starlette's ``max_part_size`` bounds only
    the form's text fields and spools a file part of any size to disk."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise InvalidInput("send the file as multipart/form-data, field 'file'", field="file")
    limit = max_bytes + FORM_OVERHEAD
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(max_bytes)
    received = 0
    receive = request.receive

    async def counted() -> Message:
        nonlocal received
        message = await receive()
        received += len(message.get("body", b""))
        if received > limit:
            raise _TooLarge
        return message

    try:
        form = await Request(request.scope, counted).form(max_part_size=FORM_OVERHEAD)
    except _TooLarge:
        raise _too_large(max_bytes) from None
    except HTTPException as exc:
        # Starlette answers 400 for a body that is not multipart; the contract's answer
        # to bad input is 422 with the field (contracts.md §4; found by schemathesis).
        raise InvalidInput(
            f"the upload is not a readable multipart form: {exc.detail}",
            field="file",
            message_key="error.upload_unreadable",
        ) from exc
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput("the form has no file in the field 'file'", field="file")
        data = await upload.read()
        filename = upload.filename or "upload.csv"
        raw_mapping = form.get("mapping")
    finally:
        await form.close()
    mapping: dict[str, str] | None = None
    if isinstance(raw_mapping, str) and raw_mapping.strip():
        try:
            parsed = json.loads(raw_mapping)
        except json.JSONDecodeError as exc:
            raise InvalidInput("mapping is not valid JSON", field="mapping") from exc
        if not isinstance(parsed, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in parsed.items()
        ):
            raise InvalidInput('mapping must be {"field": "column"}', field="mapping")
        mapping = parsed
    return data, filename, mapping


def progress_to_hub(request: Request, kind: str) -> Callable[[dict[str, Any]], None]:
    """Every import's progress to the web UI (hub topic ``import``), from any thread."""
    loop = asyncio.get_running_loop()
    hub = request.app.state.services.hub

    def publish(data: dict[str, Any]) -> None:
        loop.call_soon_threadsafe(hub.publish, "import", {"kind": kind, **data})

    return publish


async def read_json(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput("the body is not valid JSON") from exc
