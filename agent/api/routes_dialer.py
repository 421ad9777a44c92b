"""The dialer, its lists, missed calls, callbacks and do-not-call (contracts.md §4;
M6, M7, A1–A6, B3, B10, B11). docs/auto-dial.md tells the rules."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from agent.api.dialer_schemas import (
    ADD_RESULT,
    CALLBACK,
    DIAL_LIST,
    DIALER,
    DNC,
    ENTRY,
    LIST_QUERY,
    MISSED,
    MODE_QUERY,
    NUMBER_BODY,
    OK_FLAG,
    PAGING,
)
from agent.api.registry import Handler, Registry, list_of
from agent.api.server import error_response, progress_to_hub, read_json, read_upload
from agent.core.errors import InvalidInput
from agent.dialer.lists import Conflict, Mode, NotFound
from agent.dialer.service import DialerService

MAX_UPLOAD: Final = 64 * 1024 * 1024


def mapped(handler: Handler) -> Handler:
    """NotFound → 404, Conflict → 409; the rest goes to the server (InvalidInput → 422)."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except NotFound as exc:
            return error_response(404, "not_found", str(exc), exc.field)
        except Conflict as exc:
            code = exc.message_key.rpartition(".")[2]
            return error_response(409, code, str(exc), exc.field)

    return wrapped


def _dialer(request: Request) -> DialerService:
    service: DialerService = request.app.state.services.dialer
    return service


def _int(raw: str | None, name: str, default: int | None, lo: int, hi: int) -> int | None:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise InvalidInput(f"{name} must be a whole number", field=name) from exc
    if not lo <= value <= hi:
        raise InvalidInput(f"{name} must be between {lo} and {hi}", field=name)
    return value


def _paging(request: Request) -> tuple[int, int]:
    q = request.query_params
    limit = _int(q.get("limit"), "limit", 100, 1, 500)
    offset = _int(q.get("offset"), "offset", 0, 0, 10**12)
    assert limit is not None and offset is not None
    return limit, offset


MAX_ID: Final = 2**62


def _json_id(raw: Any, name: str) -> int:
    """An id from a JSON body: a whole number the databases can hold."""
    if not isinstance(raw, int) or isinstance(raw, bool) or not 1 <= raw <= MAX_ID:
        raise InvalidInput(f"{name} must be an id (a whole number from 1)", field=name)
    return raw


def _mode(raw: Any) -> Mode:
    if raw in (None, "", "append"):
        return "append"
    if raw == "replace":
        return "replace"
    raise InvalidInput("mode must be append or replace", field="mode")


def _path_id(request: Request) -> int:
    raw = str(request.path_params["id"])
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:  # "²".isdigit() is True
        raise NotFound(f"no such id {raw[:20]!r}", field="id")
    return int(raw)


async def _list_id(request: Request) -> int:
    wanted = _int(request.query_params.get("list"), "list", None, 1, 2**62)
    return (await _dialer(request).lists.resolve(wanted)).id


async def _body(request: Request) -> dict[str, Any]:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object")
    return body


def register(api: Registry) -> None:
    _register_dialer(api)
    _register_lists(api)
    _register_entries(api)
    _register_missed(api)


# ------------------------------------------------------------------ the dialer (A1–A3)


def _register_dialer(api: Registry) -> None:
    tag = "dialer"

    @api.endpoint("GET", "/api/dialer", summary="The dialer's state", tag=tag, response=DIALER)
    async def status(request: Request) -> Response:
        return JSONResponse(_dialer(request).status())

    @api.endpoint(
        "POST",
        "/api/dialer/start",
        summary="Start calling through a dial list (the active one by default)",
        tag=tag,
        request={"type": "object", "properties": {"list": {"type": "integer"}}},
        response=DIALER,
        errors=(404, 422),
    )
    @mapped
    async def start(request: Request) -> Response:
        body = await _body(request)
        raw = body.get("list")
        list_id = None if raw is None else _json_id(raw, "list")
        return JSONResponse(await _dialer(request).start(list_id))

    @api.endpoint(
        "POST",
        "/api/dialer/pause",
        summary="Pause for N minutes (A2), a call in progress included; no minutes: until resumed",
        tag=tag,
        request={
            "type": "object",
            "properties": {"minutes": {"type": "number", "minimum": 1, "maximum": 1440}},
        },
        response=DIALER,
        errors=(409, 422),
    )
    @mapped
    async def pause(request: Request) -> Response:
        body = await _body(request)
        minutes = body.get("minutes")
        if minutes is not None and (
            not isinstance(minutes, int | float) or isinstance(minutes, bool)
        ):
            raise InvalidInput("minutes must be a number", field="minutes")
        return JSONResponse(await _dialer(request).pause(minutes))

    @api.endpoint("POST", "/api/dialer/resume", summary="Resume early", tag=tag, response=DIALER)
    @mapped
    async def resume(request: Request) -> Response:
        return JSONResponse(await _dialer(request).resume())

    @api.endpoint(
        "POST",
        "/api/dialer/stop",
        summary="Stop from any state (A3); a call in progress is not cut",
        tag=tag,
        response=DIALER,
    )
    @mapped
    async def stop(request: Request) -> Response:
        return JSONResponse(await _dialer(request).stop())

    @api.endpoint(
        "POST",
        "/api/dialer/skip",
        summary="Skip the entry being called (a ringing call is hung up), else the next one",
        tag=tag,
        response=DIALER,
        errors=(409,),
    )
    @mapped
    async def skip(request: Request) -> Response:
        return JSONResponse(await _dialer(request).skip())


# ------------------------------------------------------------------ lists (M6)


def _register_lists(api: Registry) -> None:
    tag = "dial-list"

    @api.endpoint(
        "GET", "/api/dial-lists", summary="The operator's dial lists", tag=tag,
        response=list_of(DIAL_LIST),
    )  # fmt: skip
    async def lists(request: Request) -> Response:
        items = await _dialer(request).lists.lists()
        return JSONResponse({"items": items, "total": len(items), "next_offset": None})

    @api.endpoint(
        "POST",
        "/api/dial-lists",
        summary="Make a dial list",
        tag=tag,
        status=201,
        request={
            "type": "object",
            "required": ["name"],
            "properties": {"name": {"type": "string"}, "active": {"type": "boolean"}},
        },
        response=DIAL_LIST,
        errors=(422,),
    )
    async def create(request: Request) -> Response:
        body = await _body(request)
        name = body.get("name")
        if not isinstance(name, str):
            raise InvalidInput("name is required", field="name")
        service = _dialer(request).lists
        made = await service.create(name, activate=body.get("active") is True)
        found = next(i for i in await service.lists() if i["id"] == made.id)
        return JSONResponse(found, status_code=201)

    @api.endpoint(
        "POST",
        "/api/dial-lists/{id}",
        summary="Rename a dial list",
        tag=tag,
        request={
            "type": "object",
            "required": ["name"],
            "properties": {"name": {"type": "string"}},
        },
        response=DIAL_LIST,
        errors=(404, 422),
    )
    @mapped
    async def rename(request: Request) -> Response:
        body = await _body(request)
        name = body.get("name")
        if not isinstance(name, str):
            raise InvalidInput("name is required", field="name")
        service = _dialer(request).lists
        renamed = await service.rename(_path_id(request), name)
        return JSONResponse(next(i for i in await service.lists() if i["id"] == renamed.id))

    @api.endpoint(
        "POST",
        "/api/dial-lists/{id}/activate",
        summary="Make a dial list the active one",
        tag=tag,
        response=OK_FLAG,
        errors=(404,),
    )
    @mapped
    async def activate(request: Request) -> Response:
        await _dialer(request).lists.activate(_path_id(request))
        return JSONResponse({"active": True})

    @api.endpoint(
        "DELETE",
        "/api/dial-lists/{id}",
        summary="Delete a dial list (the dialer stops if it runs on it)",
        tag=tag,
        response=OK_FLAG,
        errors=(404,),
    )
    @mapped
    async def delete(request: Request) -> Response:
        await _dialer(request).delete_list(_path_id(request))
        return JSONResponse({"deleted": True})

    @api.endpoint(
        "GET",
        "/api/dial-list",
        summary="The entries of a dial list (default: the active one), in list order",
        tag=tag,
        query=(LIST_QUERY, *PAGING),
        response=list_of(ENTRY),
        errors=(404, 422),
    )
    @mapped
    async def page(request: Request) -> Response:
        limit, offset = _paging(request)
        list_id = await _list_id(request)
        return JSONResponse(await _dialer(request).lists.page(list_id, limit, offset))

    @api.endpoint(
        "POST",
        "/api/dial-list",
        summary="Add numbers (or every number of a contact); mode append or replace",
        tag=tag,
        query=(LIST_QUERY,),
        request={
            "type": "object",
            "required": ["entries"],
            "properties": {
                "entries": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "number": {"type": "string"},
                            "contact_id": {"type": "integer"},
                            "detail": {"type": "string"},
                        },
                    },
                },
                "mode": {"type": "string", "enum": ["append", "replace"]},
            },
        },
        response=ADD_RESULT,
        errors=(404, 422),
    )
    @mapped
    async def add(request: Request) -> Response:
        body = await _body(request)
        entries = body.get("entries")
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise InvalidInput("entries must be a list of objects", field="entries")
        list_id = await _list_id(request)
        result = await _dialer(request).lists.add_items(list_id, entries, _mode(body.get("mode")))
        return JSONResponse(result.json())

    @api.endpoint(
        "POST",
        "/api/dial-list/import",
        summary="Fill from a file (csv, xls, xlsx): the contact found by number",
        tag=tag,
        query=(LIST_QUERY, MODE_QUERY, ("preview", {"type": "integer", "enum": [0, 1]}, False)),
        multipart={
            "type": "object",
            "required": ["file"],
            "properties": {
                "file": {"type": "string", "format": "binary"},
                "mapping": {
                    "type": "string",
                    "description": 'JSON such as {"number": "B", "name": "A", "detail": "C"}',
                },
            },
        },
        response=ADD_RESULT,
        errors=(404, 422),
    )
    @mapped
    async def import_file(request: Request) -> Response:
        data, filename, mapping = await read_upload(request, MAX_UPLOAD)
        q = request.query_params
        list_id = await _list_id(request)
        result = await _dialer(request).lists.import_file(
            list_id,
            data,
            filename,
            mapping=mapping,
            mode=_mode(q.get("mode")),
            preview=q.get("preview", "0") in ("1", "true"),
            progress=progress_to_hub(request, "dial_list"),  # the window's progress bar
        )
        return JSONResponse(result.json())

    @api.endpoint(
        "POST",
        "/api/dial-list/fill",
        summary="Fill from planned events, missed calls or contacts (M6, M7)",
        tag=tag,
        query=(LIST_QUERY,),
        request={
            "type": "object",
            "required": ["source"],
            "properties": {
                "source": {"type": "string", "enum": ["planned", "missed", "contacts"]},
                "mode": {"type": "string", "enum": ["append", "replace"]},
                "until": {"type": "string", "format": "date-time", "description": "planned"},
                "scope": {
                    "type": "string",
                    "enum": ["mine", "team"],
                    "description": "planned: this operator's and unassigned events (default), "
                    "or the whole team's",
                },
                "from": {"type": "string", "enum": ["pbx", "journal"], "description": "missed"},
                "contact_ids": {"type": "array", "items": {"type": "integer"}},
            },
        },
        response=ADD_RESULT,
        errors=(404, 422, 503),
    )
    @mapped
    async def fill(request: Request) -> Response:
        body = await _body(request)
        service = _dialer(request)
        list_id = await _list_id(request)
        mode = _mode(body.get("mode"))
        match body.get("source"):
            case "planned":
                until = _until(body.get("until"), service.clock())
                scope = body.get("scope", "mine")
                if scope not in ("mine", "team"):
                    raise InvalidInput("scope must be mine or team", field="scope")
                result = await service.lists.add_planned(list_id, until, mode, team=scope == "team")
            case "missed":
                source = body.get("from", "pbx")
                if source not in ("pbx", "journal"):
                    raise InvalidInput("from must be pbx or journal", field="from")
                result = await service.fill_missed(list_id, mode, from_pbx=source == "pbx")
            case "contacts":
                ids = body.get("contact_ids")
                if not isinstance(ids, list):
                    raise InvalidInput("contact_ids must be a list of ids", field="contact_ids")
                checked = [_json_id(i, "contact_ids") for i in ids]
                result = await service.lists.add_contacts(list_id, checked, mode)
            case _:
                raise InvalidInput("source must be planned, missed or contacts", field="source")
        return JSONResponse(result.json())

    @api.endpoint(
        "POST",
        "/api/dial-list/sort",
        summary="Re-number the list by the contacts' ABC classes",
        tag=tag,
        query=(LIST_QUERY,),
        request={
            "type": "object",
            "properties": {
                "by": {"type": "string", "enum": ["abc"]},
                "descending": {"type": "boolean"},
            },
        },
        response=OK_FLAG,
        errors=(404, 422),
    )
    @mapped
    async def sort(request: Request) -> Response:
        body = await _body(request)
        if body.get("by", "abc") != "abc":
            raise InvalidInput("by must be abc", field="by")
        list_id = await _list_id(request)
        await _dialer(request).lists.sort_abc(list_id, descending=body.get("descending") is True)
        return JSONResponse({"sorted": True})


def _until(raw: Any, now: datetime) -> datetime:
    """Planned events up to this time; by default the end of the coming day."""
    if raw is None:
        return now + timedelta(days=1)
    if not isinstance(raw, str):
        raise InvalidInput("until must be an ISO 8601 date-time", field="until")
    try:
        value = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidInput("until must be an ISO 8601 date-time", field="until") from exc
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# ------------------------------------------------------------------ entries


def _register_entries(api: Registry) -> None:
    tag = "dial-list"

    @api.endpoint(
        "POST",
        "/api/dial-list/entries/{id}/move",
        summary="Move an entry up or down",
        tag=tag,
        request={
            "type": "object",
            "required": ["direction"],
            "properties": {"direction": {"type": "string", "enum": ["up", "down"]}},
        },
        response=OK_FLAG,
        errors=(404, 422),
    )
    @mapped
    async def move(request: Request) -> Response:
        body = await _body(request)
        direction = body.get("direction")
        if direction not in ("up", "down"):
            raise InvalidInput("direction must be up or down", field="direction")
        moved = await _dialer(request).lists.move(_path_id(request), up=direction == "up")
        return JSONResponse({"moved": moved})

    @api.endpoint(
        "POST",
        "/api/dial-list/entries/{id}/skip",
        summary="Skip an entry: it stays in the list and is not dialled",
        tag=tag,
        response=ENTRY,
        errors=(404, 409),
    )
    @mapped
    async def skip(request: Request) -> Response:
        service = _dialer(request)
        entry = await service.lists.skip_entry(_path_id(request))
        dnc = await service.storage.run(service.repo.dnc_contains, [entry.number])
        return JSONResponse(service.lists.entry_json(entry, 0, service.clock(), dnc))

    @api.endpoint(
        "DELETE",
        "/api/dial-list/entries/{id}",
        summary="Delete an entry (not while it is being called)",
        tag=tag,
        response=OK_FLAG,
        errors=(404, 409),
    )
    @mapped
    async def delete(request: Request) -> Response:
        await _dialer(request).lists.delete_entry(_path_id(request))
        return JSONResponse({"deleted": True})


# ------------------------------------------------------------------ missed, callbacks, DNC


def _register_missed(api: Registry) -> None:
    @api.endpoint(
        "GET",
        "/api/missed",
        summary="Missed calls, newest first, with handled (B10) and claimed_by",
        tag="missed",
        query=(
            *PAGING,
            ("since", {"type": "string", "format": "date-time"}, False),
            ("scope", {"type": "string", "enum": ["mine", "team"]}, False),
        ),
        response=list_of(MISSED),
        errors=(422,),
    )
    async def missed(request: Request) -> Response:
        limit, offset = _paging(request)
        q = request.query_params
        scope = q.get("scope", "mine")
        if scope not in ("mine", "team"):
            raise InvalidInput("scope must be mine or team", field="scope")
        since = _until(q.get("since"), datetime.now(UTC)) if q.get("since") else None
        items, next_offset = await _dialer(request).missed.page(
            mine=scope == "mine", limit=limit, offset=offset, since=since
        )
        total = None if next_offset is not None else offset + len(items)
        return JSONResponse({"items": items, "total": total, "next_offset": next_offset})

    @api.endpoint(
        "POST",
        "/api/missed/claim",
        summary='"I\'m calling back": claim a number so teammates do not (B10)',
        tag="missed",
        request=NUMBER_BODY,
        response={
            "type": "object",
            "properties": {
                "number": {"type": "string"},
                "claimed_by": {"type": "string"},
                "claimed_until": {"type": "string", "format": "date-time"},
            },
        },
        errors=(409, 422),
    )
    @mapped
    async def claim(request: Request) -> Response:
        number = _number(await _body(request))
        held = await _dialer(request).missed.claim(number)
        return JSONResponse(
            {
                "number": held.number,
                "claimed_by": held.claimed_by,
                "claimed_until": held.expires_at.isoformat(),
            }
        )

    @api.endpoint(
        "POST",
        "/api/missed/release",
        summary="Give up one's own claim",
        tag="missed",
        request=NUMBER_BODY,
        response=OK_FLAG,
        errors=(422,),
    )
    async def release(request: Request) -> Response:
        number = _number(await _body(request))
        return JSONResponse({"released": await _dialer(request).missed.release(number)})

    @api.endpoint(
        "GET",
        "/api/callbacks",
        summary="One callback queue: missed calls, postponed numbers, robot answers (B11)",
        tag="missed",
        query=(("limit", {"type": "integer", "minimum": 1, "maximum": 500}, False),),
        response=list_of(CALLBACK),
        errors=(422,),
    )
    async def callbacks(request: Request) -> Response:
        limit = _int(request.query_params.get("limit"), "limit", 100, 1, 500)
        assert limit is not None
        items = await _dialer(request).missed.callbacks(limit)
        return JSONResponse({"items": items, "total": len(items), "next_offset": None})

    @api.endpoint(
        "GET",
        "/api/dnc",
        summary="The do-not-call list (B3)",
        tag="dnc",
        query=PAGING,
        response=list_of(DNC),
        errors=(422,),
    )
    async def dnc(request: Request) -> Response:
        limit, offset = _paging(request)
        items = await _dialer(request).dnc_page(limit, offset)
        next_offset = offset + len(items) if len(items) == limit else None
        return JSONResponse({"items": items, "total": None, "next_offset": next_offset})

    @api.endpoint(
        "POST",
        "/api/dnc",
        summary="Put a number on the do-not-call list: it is never dialled (B3)",
        tag="dnc",
        request={
            "type": "object",
            "required": ["number"],
            "properties": {"number": {"type": "string"}, "reason": {"type": "string"}},
        },
        response={
            "type": "object",
            "properties": {
                "number": {"type": "string"},
                "reason": {"type": "string", "nullable": True},
                "entries_marked": {"type": "integer"},
            },
        },
        errors=(422,),
    )
    async def dnc_add(request: Request) -> Response:
        body = await _body(request)
        reason = body.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise InvalidInput("reason must be text", field="reason")
        return JSONResponse(await _dialer(request).dnc_add(_number(body), reason))

    @api.endpoint(
        "DELETE",
        "/api/dnc/{number}",
        summary="Take a number off the do-not-call list",
        tag="dnc",
        response=OK_FLAG,
        errors=(422,),
    )
    async def dnc_remove(request: Request) -> Response:
        number = str(request.path_params["number"])
        return JSONResponse({"removed": await _dialer(request).dnc_remove(number)})


def _number(body: dict[str, Any]) -> str:
    number = body.get("number")
    if not isinstance(number, str) or not number.strip():
        raise InvalidInput("a number is required", field="number")
    return number
