"""Status, dial, hang-up and the journal (contracts.md §4; C1, M2, M3, B9)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from agent.api.registry import Registry, list_of
from agent.api.server import error_response, read_json
from agent.core.errors import InvalidInput, PbxProtocolError
from agent.core.journal import JournalEntry
from agent.core.numbers import DialTarget, parse_dial_target
from agent.runtime import Runtime, iso

log = logging.getLogger(__name__)

# POST /api/hangup of a call the PBX no longer has: 409 with this message key.
CALL_ENDED = "error.call_ended"

LINE = {
    "type": "object",
    "properties": {
        "uuid": {"type": "string"},
        "direction": {"type": "string", "enum": ["in", "out", "internal"]},
        "number": {"type": "string"},
        "contact": {"type": "string", "nullable": True},
        "state": {"type": "string", "enum": ["ringing", "talking", "held"]},
        "talking": {"type": "boolean"},
        "started_at": {"type": "string", "nullable": True},
        "answered_at": {"type": "string", "nullable": True},
    },
}
STATUS = {
    "type": "object",
    "required": ["connected", "link", "extension", "dnd", "lines", "dialer"],
    "properties": {
        "connected": {"type": "boolean"},
        "link": {"type": "string", "enum": ["offline", "connecting", "online"]},
        "extension": {"type": "string"},
        "dnd": {"type": "object"},
        "lines": {"type": "array", "items": LINE},
        "dialer": {"type": "object"},
    },
}
JOURNAL_ROW = {
    "type": "object",
    "properties": {
        "uuid": {"type": "string"},
        "direction": {"type": "string"},
        "number": {"type": "string"},
        "contact": {"type": "object", "nullable": True},
        "operator_ext": {"type": "string"},
        "dial_at": {"type": "string"},
        "answer_at": {"type": "string", "nullable": True},
        "end_at": {"type": "string", "nullable": True},
        "talk_s": {"type": "integer"},
        "disposition": {"type": "integer", "nullable": True},
        "outcome": {"type": "string", "nullable": True},
        "source": {"type": "string"},
    },
}


class JournalReader(Protocol):
    async def page(
        self, *, limit: int, offset: int, since: datetime | None, operator_ext: str | None
    ) -> tuple[list[JournalEntry], int | None]: ...


def journal_json(entry: JournalEntry) -> dict[str, Any]:
    contact = (
        {"id": entry.contact_id, "name": entry.contact_name}
        if entry.contact_id is not None
        else None
    )
    return {
        "uuid": entry.uuid,
        "direction": str(entry.direction),
        "number": entry.number,
        "contact": contact,
        "operator_ext": entry.operator_ext,
        "dial_at": iso(entry.dial_at),
        "answer_at": iso(entry.answer_at),
        "end_at": iso(entry.end_at),
        "talk_s": entry.talk_s,
        "duration_s": entry.duration_s,
        "disposition": entry.disposition,
        "outcome": str(entry.outcome) if entry.outcome else None,
        "source": str(entry.source),
        "recording_url": entry.recording_url,
        "final": entry.final,
    }


def register(api: Registry) -> None:
    @api.endpoint(
        "GET", "/api/status", summary="Link, DND, lines and dialer", tag="phone", response=STATUS
    )
    async def status(request: Request) -> Response:
        runtime: Runtime = request.app.state.services.runtime
        return JSONResponse(runtime.status())

    @api.endpoint(
        "POST",
        "/api/dial",
        summary="Dial a number or a tel: URL",
        tag="phone",
        status=202,
        request={
            "type": "object",
            "required": ["number"],
            "properties": {"number": {"type": "string"}},
        },
        response={
            "type": "object",
            "properties": {
                "uuid": {"type": "string"},
                # An extension (tel: ;ext=) makeCall cannot carry (phonet-api.md §2.4):
                # the number alone was dialled, so the window can say so.
                "extension_ignored": {"type": "string"},
            },
        },
        errors=(400, 422, 503),
    )
    async def dial(request: Request) -> Response:
        body = await read_json(request)
        number = body.get("number") if isinstance(body, dict) else None
        if not isinstance(number, str) or not number.strip():
            raise InvalidInput("a number is required", field="number")
        services = request.app.state.services
        runtime: Runtime = services.runtime
        uuid = await runtime.dial(number)
        answer = {"uuid": uuid}
        team = getattr(getattr(services, "agent", None), "team", None)
        target = parse_dial_target(number, team.default_region if team else "UA")
        if isinstance(target, DialTarget) and target.extension:
            answer["extension_ignored"] = target.extension
        return JSONResponse(answer, status_code=202)

    @api.endpoint(
        "POST",
        "/api/hangup",
        summary=(
            "Hang up the given or the talking line; 409 when there is none, or the PBX "
            "has no such call (it has ended); 503 only when the PBX is unreachable"
        ),
        tag="phone",
        request={"type": "object", "properties": {"uuid": {"type": "string"}}},
        response={"type": "object", "properties": {"uuid": {"type": "string"}}},
        errors=(400, 409, 422, 503),
    )
    async def hangup(request: Request) -> Response:
        body = await read_json(request)
        uuid = body.get("uuid") if isinstance(body, dict) else None
        if uuid is not None and not isinstance(uuid, str):
            raise InvalidInput("uuid must be a string", field="uuid")
        runtime: Runtime = request.app.state.services.runtime
        try:
            done = await runtime.hangup(uuid)
        except InvalidInput as exc:
            if exc.message_key == "error.no_line":
                return error_response(409, "no_line", str(exc))
            raise
        except PbxProtocolError as exc:
            # The PBX refused the hang-up with a 4xx (the simulator: 404): the call has
            # ended, or never was. What it answers for that is unknown (phonet-api.md
            # §2.5), so every refusal of a reachable PBX reads the same; 503 stays for
            # an unreachable one (contracts.md §4).
            log.info("hang-up refused by the PBX: %s", exc)
            return error_response(
                409,
                CALL_ENDED.removeprefix("error."),
                "the PBX has no such call to hang up: it has ended",
                "uuid" if uuid is not None else None,
            )
        return JSONResponse({"uuid": done})

    @api.endpoint(
        "POST",
        "/api/dnd",
        summary="DND on (for N minutes or until a time) or off",
        tag="phone",
        request={
            "type": "object",
            "required": ["on"],
            "properties": {
                "on": {"type": "boolean"},
                "minutes": {"type": "integer", "minimum": 1, "maximum": 1440},
                "until": {"type": "string", "format": "date-time"},
            },
        },
        response={"type": "object", "properties": {"on": {"type": "boolean"}}},
        errors=(400, 422, 503),
    )
    async def dnd(request: Request) -> Response:
        body = await read_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("on"), bool):
            raise InvalidInput("on must be true or false", field="on")
        runtime: Runtime = request.app.state.services.runtime
        raw_until = body.get("until")
        until = _datetime(raw_until, "until") if isinstance(raw_until, str) else None
        minutes = body.get("minutes")
        if minutes is not None:
            if (
                not isinstance(minutes, int)
                or isinstance(minutes, bool)
                or not 1 <= minutes <= 1440
            ):
                raise InvalidInput("minutes must be 1..1440", field="minutes")
            until = runtime.clock() + timedelta(minutes=minutes)
        await runtime.set_dnd(body["on"], until)
        return JSONResponse({"on": body["on"], "until": iso(until)})

    @api.endpoint(
        "POST",
        "/api/quit",
        summary="Ask the agent to exit cleanly",
        tag="agent",
        status=202,
        response={"type": "object"},
    )
    async def quit_agent(request: Request) -> Response:
        request.app.state.services.agent.quit_requested.set()
        return JSONResponse({"quitting": True}, status_code=202)

    @api.endpoint(
        "GET",
        "/api/journal",
        summary="Finished calls, newest first",
        tag="journal",
        query=(
            ("limit", {"type": "integer", "minimum": 1, "maximum": 500}, False),
            ("offset", {"type": "integer", "minimum": 0}, False),
            ("since", {"type": "string", "format": "date-time"}, False),
            ("scope", {"type": "string", "enum": ["mine", "team"]}, False),
        ),
        response=list_of(JOURNAL_ROW),
        errors=(400, 422),
    )
    async def journal(request: Request) -> Response:
        services = request.app.state.services
        q = request.query_params
        limit = _int(q.get("limit"), "limit", 50, 1, 500)
        offset = _int(q.get("offset"), "offset", 0, 0, 10**12)
        since = _datetime(q.get("since"), "since")
        scope = q.get("scope", "mine")
        if scope not in ("mine", "team"):
            raise InvalidInput("scope must be mine or team", field="scope")
        ext = services.runtime.phone.config.own_ext if scope == "mine" else None
        rows, total = await services.journal.page(
            limit=limit, offset=offset, since=since, operator_ext=ext
        )
        next_offset = offset + len(rows) if len(rows) == limit else None
        return JSONResponse(
            {"items": [journal_json(r) for r in rows], "total": total, "next_offset": next_offset}
        )


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


def _datetime(raw: str | None, name: str) -> datetime | None:
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidInput(f"{name} must be an ISO 8601 date-time", field=name) from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value
