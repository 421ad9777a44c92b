"""The control API under ``/_sim/`` (contracts.md §3): JSON in and out, no faults.

Tests, the demo and the bench drive the simulated PBX through it. Extensions to the
contract's table (docs/architecture/simulator.md): ``GET /_sim/users``,
``GET /_sim/history``, ``GET/POST /_sim/config``, ``GET /_sim/faults``, optional
``name``/``company`` on ``POST /_sim/calls``, and 409 for answering a call whose
far end is not ringing yet. Errors are ``{"error", "field"?}`` with 400/404/409.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agent.simulator.engine import Engine, UnknownCall, UnknownExtension, plain_uuid
from agent.simulator.history import check_record
from agent.simulator.model import (
    Call,
    Disposition,
    InvalidTransition,
    Kind,
    Plan,
    Trigger,
    public_state,
)
from agent.simulator.state import digits


class BadInput(ValueError):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _error(status: int, message: str, field: str | None = None) -> Response:
    body: dict[str, Any] = {"error": message}
    if field is not None:
        body["field"] = field
    return JSONResponse(body, status_code=status)


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise BadInput("the body is not JSON") from None
    if not isinstance(body, dict):
        raise BadInput("the body must be a JSON object")
    return body


def _text(body: dict[str, Any], key: str, *, required: bool = True) -> str | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise BadInput(f"{key} must be a non-empty string", key)
    return value


def _required_text(body: dict[str, Any], key: str) -> str:
    value = _text(body, key)
    assert value is not None
    return value


def _seconds(body: dict[str, Any], key: str, default: float | None) -> float | None:
    value = body.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise BadInput(f"{key} must be a number of seconds >= 0, or null", key)
    return float(value)


def _flag(body: dict[str, Any], key: str, default: bool) -> bool:
    value = body.get(key, default)
    if not isinstance(value, bool):
        raise BadInput(f"{key} must be true or false", key)
    return value


def _count(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadInput(f"{key} must be an integer >= 0", key)
    return value


def _disposition(body: dict[str, Any]) -> int | None:
    value = body.get("disposition")
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value not in set(Disposition):
        raise BadInput("disposition must be 0..4 or null (phonet-api.md §2.9)", "disposition")
    return int(value)


def _plan(body: dict[str, Any], ring_s: float, talk_s: float) -> Plan:
    return Plan(
        ring_s=_seconds(body, "ring_s", ring_s),
        answer=_flag(body, "answer", True),
        talk_s=_seconds(body, "talk_s", talk_s),
        disposition=_disposition(body),
    )


def call_item(call: Call, now: float) -> dict[str, Any]:
    return {
        "uuid": call.uuid,
        "state": public_state(call.phase),
        "phase": call.phase.value,  # an extension: tells the operator's ring from the far end's
        "direction": call.kind.value,
        "ext": call.leg.ext,
        "number": call.number,
        "disposition": call.disposition,
        "talk_s": call.talk_s(now),
        "dial_at": call.dial_at,
        "answer_at": call.bridge_at,
        "end_at": call.end_at,
        "made_by_api": call.made_by_api,
    }


class ControlApi:
    """The endpoints of ``/_sim/``, one method each."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.state = engine.state

    async def add_user(self, request: Request) -> Response:
        body = await _body(request)
        user = self.state.add_user(
            _required_text(body, "ext"),
            _required_text(body, "displayName"),
            _text(body, "email", required=False),
            _text(body, "dnd_code", required=False),
        )
        return JSONResponse({"ext": user.ext, "id": user.id})

    async def list_users(self, request: Request) -> Response:
        items = [
            {
                "id": u.id,
                "ext": u.ext,
                "displayName": u.display_name,
                "email": u.email,
                "dnd_code": u.dnd_code,
                "paused": u.paused,
            }
            for u in self.state.users.values()
        ]
        return JSONResponse({"items": items})

    async def play_call(self, request: Request) -> Response:
        body = await _body(request)
        direction = body.get("direction")
        if not isinstance(direction, str) or direction not in set(Kind):
            raise BadInput("direction must be in, out or internal", "direction")
        kind = Kind(direction)
        try:
            call = self.engine.start_call(
                kind,
                _required_text(body, "ext"),
                _required_text(body, "number"),
                _plan(body, 1.0, 2.0),
                name=_text(body, "name", required=False),
                company=_text(body, "company", required=False),
            )
        except UnknownExtension as exc:
            raise BadInput(str(exc), "ext") from None
        await self.engine.hub.drain()  # 201 once call.dial is sent (contracts.md §3)
        return JSONResponse({"uuid": call.uuid}, status_code=201)

    async def drive(self, request: Request) -> Response:
        action = request.path_params["action"]
        if action not in (Trigger.ANSWER, Trigger.HANGUP):
            return _error(404, f"no action {action!r}: answer or hangup")
        trigger = Trigger(action)
        disposition = _disposition(await _body(request)) if trigger is Trigger.HANGUP else None
        try:
            call = self.engine.trigger(request.path_params["uuid"], trigger, disposition)
        except UnknownCall as exc:
            return _error(404, str(exc))
        except InvalidTransition as exc:
            return _error(409, str(exc))
        await self.engine.hub.drain()
        return JSONResponse(call_item(call, time.time()))

    async def list_calls(self, request: Request) -> Response:
        now = time.time()
        return JSONResponse({"items": [call_item(c, now) for c in self.state.calls.values()]})

    async def one_call(self, request: Request) -> Response:
        call = self.state.calls.get(plain_uuid(request.path_params["uuid"]))
        if call is None:
            return _error(404, "no such call")
        return JSONResponse({"items": [call_item(call, time.time())]})

    async def script(self, request: Request) -> Response:
        body = await _body(request)
        number = _required_text(body, "number")
        self.state.scripts[digits(number)] = _plan(body, 2.0, 5.0)
        return JSONResponse({"number": number})

    async def push(self, request: Request) -> Response:
        body = await _body(request)
        subscriber = _required_text(body, "subscriber")
        if "frame" not in body:
            raise BadInput("frame is required", "frame")
        frame = body["frame"]
        text = frame if isinstance(frame, str) else json.dumps(frame, ensure_ascii=False)
        delivered = self.engine.push(subscriber, text)
        await self.engine.hub.drain()
        return JSONResponse({"delivered": delivered})

    async def add_history(self, request: Request) -> Response:
        records = (await _body(request)).get("records")
        if not isinstance(records, list):
            raise BadInput("records must be a list", "records")
        for index, record in enumerate(records):
            problem = check_record(record)
            if problem is not None:
                raise BadInput(f"records[{index}]: {problem}", "records")
        added = self.state.history.add(records)
        for record in records:
            if isinstance(record.get("uuid"), str) and record.get("audioRecUrl"):
                self.state.recordings.add(plain_uuid(record["uuid"]))
        return JSONResponse({"added": added})

    async def list_history(self, request: Request) -> Response:
        return JSONResponse({"items": self.state.history.all()})

    async def drop(self, request: Request) -> Response:
        return JSONResponse({"dropped": self.engine.drop()})

    async def expire(self, request: Request) -> Response:
        return JSONResponse({"expired": self.state.expire_sessions()})

    async def faults(self, request: Request) -> Response:
        if request.method == "POST":
            body = await _body(request)
            unknown = set(body) - set(self.state.faults.as_json())
            if unknown:
                raise BadInput(f"unknown fault {sorted(unknown)[0]!r}", sorted(unknown)[0])
            for key in ("rest_5xx", "rest_delay_ms", "ws_refuse", "history_lag_ms"):
                value = _count(body, key)
                if value is not None:
                    setattr(self.state.faults, key, value)
            if "rest_delay_n" in body:
                self.state.faults.rest_delay_n = _count(body, "rest_delay_n")
            if "duplicate_events" in body:
                self.state.faults.duplicate_events = _flag(body, "duplicate_events", False)
        return JSONResponse(self.state.faults.as_json())

    async def connections(self, request: Request) -> Response:
        return JSONResponse({"items": self.engine.hub.listing()})

    async def requests_log(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.state.requests.clear()
        return JSONResponse({"items": self.state.requests})

    async def reset(self, request: Request) -> Response:
        self.engine.reset()
        return JSONResponse({})

    async def config(self, request: Request) -> Response:
        if request.method == "POST":
            body = await _body(request)
            answer_s = _seconds(body, "operator_answer_s", self.state.config.operator_answer_s)
            if answer_s is None:
                raise BadInput("operator_answer_s must be a number", "operator_answer_s")
            self.state.config.operator_answer_s = answer_s
            if "session_ttl_s" in body:
                self.state.config.session_ttl_s = _seconds(body, "session_ttl_s", None)
        return JSONResponse(self.state.config.as_json())

    def routes(self) -> list[Route]:
        return [
            _route("/_sim/users", self.add_user, methods=["POST"]),
            _route("/_sim/users", self.list_users, methods=["GET"]),
            _route("/_sim/calls", self.play_call, methods=["POST"]),
            _route("/_sim/calls", self.list_calls, methods=["GET"]),
            _route("/_sim/calls/{uuid}", self.one_call, methods=["GET"]),
            _route("/_sim/calls/{uuid}/{action:str}", self.drive, methods=["POST"]),
            _route("/_sim/script", self.script, methods=["POST"]),
            _route("/_sim/push", self.push, methods=["POST"]),
            _route("/_sim/history", self.add_history, methods=["POST"]),
            _route("/_sim/history", self.list_history, methods=["GET"]),
            _route("/_sim/drop", self.drop, methods=["POST"]),
            _route("/_sim/expire", self.expire, methods=["POST"]),
            _route("/_sim/faults", self.faults, methods=["GET", "POST"]),
            _route("/_sim/connections", self.connections, methods=["GET"]),
            _route("/_sim/requests", self.requests_log, methods=["GET", "DELETE"]),
            _route("/_sim/reset", self.reset, methods=["POST"]),
            _route("/_sim/config", self.config, methods=["GET", "POST"]),
        ]


Endpoint = Callable[[Request], Awaitable[Response]]


def _route(path: str, endpoint: Endpoint, methods: list[str]) -> Route:
    """A route whose :class:`BadInput` becomes a 400 naming the field."""

    async def wrapped(request: Request) -> Response:
        try:
            return await endpoint(request)
        except BadInput as exc:
            return _error(400, str(exc), exc.field)

    return Route(path, wrapped, methods=methods)
