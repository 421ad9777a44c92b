"""The REST half of the simulated PBX (phonet-api.md §1, §2).

Session checks, trailing slashes, faults and the request log live in the gate
(``app.py``); these handlers only see requests that passed it. Where phonet-api.md
§8 says the real behaviour is unknown, the choice is named at the handler and in
docs/architecture/simulator.md.
"""

from __future__ import annotations

import io
import json
import logging
import time
import wave
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from agent.simulator.engine import Engine, UnknownCall, UnknownExtension, plain_uuid
from agent.simulator.history import QueryError, Scope, parse_query
from agent.simulator.model import Trigger
from agent.simulator.shapes import active_record, user_record

log = logging.getLogger(__name__)


def forbidden() -> Response:
    """phonet-api.md §4.2: a dead session is a 403 with no JSON error format."""
    return PlainTextResponse("Forbidden", status_code=403)


def _bad_request(message: str) -> Response:
    return PlainTextResponse(message, status_code=400)


async def _json_body(request: Request) -> dict[str, Any] | None:
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def silent_wav(seconds: float = 0.2, rate: int = 8000) -> bytes:
    """A tiny valid recording: mono 8 kHz 16-bit silence (the real format, wav or
    mp3, is unknown: phonet-api.md §2.6)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x00\x00" * int(seconds * rate))
    return buffer.getvalue()


class RestApi:
    """The Phonet REST endpoints, one method each."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.state = engine.state

    async def authorize(self, request: Request) -> Response:
        """phonet-api.md §1: domain is optional (phonet-sdk sends only apiKey). A wrong
        key or domain gets 403 (the real answer is unknown, §8); the session comes
        back only as the first Set-Cookie, Tomcat style (§1.2); the body is ``{}``."""
        body = await _json_body(request)
        if body is None:
            return _bad_request("Bad Request")
        key_ok = body.get("apiKey") == self.state.api_key
        domain_ok = body.get("domain") in (None, self.state.style.domain)
        if not (key_ok and domain_ok):
            log.info("authorize refused")
            return forbidden()
        session = self.state.open_session(time.monotonic())
        log.info("authorize ok")
        return Response(
            b"{}",
            media_type="application/json",
            headers={"set-cookie": f"JSESSIONID={session}; Path=/; HttpOnly"},
        )

    async def users(self, request: Request) -> Response:
        return JSONResponse([user_record(u) for u in self.state.users.values()])

    async def active(self, request: Request) -> Response:
        return JSONResponse(
            [active_record(c, self.state.style) for c in self.engine.active_calls()]
        )

    def history(self, scope: Scope) -> Route:
        async def endpoint(request: Request) -> Response:
            raw = request.scope["query_string"].decode("latin-1")
            try:
                query = parse_query(parse_qsl(raw, keep_blank_values=True))
            except QueryError as exc:
                # Bad parameters: 400 (unknown in the real PBX, phonet-api.md §8).
                return _bad_request(str(exc))
            return JSONResponse(self.state.history.query(scope, query))

        return Route(f"/rest/calls/{scope.value}.api", endpoint, methods=["GET"])

    async def make_call(self, request: Request) -> Response:
        """phonet-api.md §2.4. An unknown ``legExt`` or a missing field is a 400
        (unknown in the real PBX, §8); ``otherLegNum`` is taken as given."""
        body = await _json_body(request)
        leg_ext = body.get("legExt") if body else None
        number = body.get("otherLegNum") if body else None
        if not isinstance(leg_ext, str) or not isinstance(number, str) or not number.strip():
            return _bad_request("legExt and otherLegNum are required strings")
        try:
            uuid = self.engine.make_call(leg_ext, number.strip())
        except UnknownExtension:
            return _bad_request("unknown legExt")
        return JSONResponse({"uuid": uuid})

    async def hangup(self, request: Request) -> Response:
        """phonet-api.md §2.5: GET, 200 with an empty body. The disposition is 0 if
        the call was talking, else 1. An unknown or ended uuid gets 404 (unknown
        in the real PBX, §8)."""
        try:
            self.engine.trigger(request.path_params["uuid"], Trigger.HANGUP)
        except UnknownCall:
            return PlainTextResponse("Not Found", status_code=404)
        return Response(status_code=200)

    async def audio(self, request: Request) -> Response:
        """phonet-api.md §2.6: public (no session), after the call ended, answered
        calls only; the split channels ``{uuid}-rx``/``{uuid}-tx`` serve the same."""
        call_id = request.path_params["uuid"]
        for suffix in ("-rx", "-tx"):
            call_id = call_id.removesuffix(suffix)
        if plain_uuid(call_id) not in self.state.recordings:
            return PlainTextResponse("Not Found", status_code=404)
        return Response(silent_wav(), media_type="audio/wav")

    def routes(self) -> list[Route]:
        return [
            Route("/rest/security/authorize", self.authorize, methods=["POST"]),
            Route("/rest/users", self.users, methods=["GET"]),
            Route("/rest/calls/active/v3", self.active, methods=["GET"]),
            *(self.history(scope) for scope in Scope),
            Route("/rest/user/makeCall", self.make_call, methods=["POST"]),
            Route("/rest/calls/active/{uuid}/hangup", self.hangup, methods=["GET"]),
            Route("/rest/public/calls/{uuid}/audio", self.audio, methods=["GET"]),
        ]
