"""Contacts, the lookup, statistics, and the contact and sales imports (contracts.md §4;
U7, U9, M5, B13, B14). Handlers reach ``services.contacts`` (ContactService) and
``services.contact_stats`` (StatsService) of agent/contacts.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from agent.api.registry import Handler, Registry, Schema, list_of
from agent.api.server import error_response, progress_to_hub, read_json, read_upload
from agent.contacts.imports import import_contacts
from agent.contacts.sales_import import import_sales
from agent.contacts.service import ContactService, NotFound
from agent.contacts.shapes import contact_json, event_json, iso, parse_contact
from agent.contacts.stats import StatsService
from agent.contacts.tables import ImportReport
from agent.core.call_events import EventStateError
from agent.core.contacts import RANK_RULE
from agent.core.errors import InvalidInput

PHONE: Schema = {
    "type": "object",
    "required": ["number"],
    "properties": {
        "number": {"type": "string", "description": "any format; stored as E.164"},
        "kind": {"type": "string", "nullable": True, "description": "mobile, work, home…"},
        "person": {"type": "string", "nullable": True, "description": "contact person"},
    },
}
CONTACT_IN: Schema = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "company": {"type": "string", "nullable": True},
        "phones": {"type": "array", "items": PHONE},
        "attributes": {"type": "object", "additionalProperties": True},
        "responsible_ext": {"type": "string", "nullable": True},
    },
}
CONTACT: Schema = {
    "type": "object",
    "required": ["id", "name", "company", "phones", "attributes", "responsible_ext"],
    "properties": {
        **CONTACT_IN["properties"],
        "id": {"type": "integer"},
        "last_contact_at": {"type": "string", "format": "date-time", "nullable": True},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
        "deleted": {"type": "boolean"},
        "merged_into": {"type": "integer", "nullable": True},
        "abc": {"type": "string", "enum": ["A", "B", "C"], "nullable": True},
    },
}
EVENT: Schema = {
    "type": "object",
    "required": [
        "id",
        "call_uuid",
        "number",
        "contact_id",
        "operator_ext",
        "kind",
        "importance",
        "planned_at",
        "notes",
        "state",
    ],
    "properties": {
        "id": {"type": "integer"},
        "call_uuid": {"type": "string", "nullable": True},
        "number": {"type": "string", "nullable": True},
        "contact_id": {"type": "integer", "nullable": True},
        "operator_ext": {"type": "string"},
        "direction": {"type": "string", "nullable": True},
        "kind": {"type": "string"},
        "importance": {"type": "string"},
        "planned_at": {"type": "string", "format": "date-time", "nullable": True},
        "notes": {"type": "string"},
        "state": {"type": "string", "enum": ["open", "saved", "declined"]},
        "source": {"type": "string", "enum": ["answer", "manual", "import", "robot"]},
        "fields": {"type": "object", "additionalProperties": True},
        "done": {"type": "boolean"},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
    },
}
LOOKUP: Schema = {
    "type": "object",
    "required": ["matches", "hint"],
    "properties": {
        "number": {"type": "string"},
        "matches": {"type": "array", "items": CONTACT},
        "hint": {
            "type": "object",
            "properties": {
                "region": {"type": "string", "nullable": True},
                "operator": {"type": "string", "nullable": True},
                "country": {"type": "string", "nullable": True},
                "kind": {"type": "string", "nullable": True},
                "seen_before": {"type": "string", "format": "date-time", "nullable": True},
            },
        },
        "rule": {"type": "string"},
        "context": {"type": "array", "items": {"type": "string"}},
        "last_call": {"type": "object", "nullable": True},
        "planned_event": {**EVENT, "nullable": True},
        "matched_phone": {**PHONE, "nullable": True},
    },
}
IMPORT_FORM: Schema = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": {"type": "string", "format": "binary", "description": "csv, xls, xlsx or ods"},
        "mapping": {
            "type": "string",
            "description": 'JSON: field -> column letter or header, e.g. {"number": "B"}',
        },
    },
}
IMPORT_REPORT: Schema = {
    "type": "object",
    "required": ["accepted", "rejected"],
    "properties": {
        "accepted": {"type": "integer"},
        "rejected": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "row": {"type": "integer", "description": "1-based, header included"},
                    "column": {"type": "string", "description": "header text, else letter"},
                    "reason": {"type": "string"},
                },
            },
        },
        "created": {"type": "integer"},
        "updated": {"type": "integer"},
        "problem": {"type": "string", "nullable": True},
        "preview": {"type": "boolean"},
        "header_row": {"type": "integer", "nullable": True},
        "columns": {"type": "object", "additionalProperties": {"type": "string"}},
        "sample": {"type": "array", "items": {"type": "object"}},
    },
}
STATS: Schema = {
    "type": "object",
    "properties": {
        "contact_id": {"type": "integer"},
        "abc": {"type": "string", "nullable": True},
        "months": {"type": "integer"},
        "sales": {"type": "object", "nullable": True, "description": "per stats_sales"},
        "events": {"type": "object", "nullable": True, "description": "per stats_events"},
        "last_events": {"type": "object", "nullable": True, "description": "per stats_last_events"},
    },
}
PAGING = (
    ("limit", {"type": "integer", "minimum": 1, "maximum": 500}, False),
    ("offset", {"type": "integer", "minimum": 0}, False),
)
PREVIEW = ("preview", {"type": "integer", "enum": [0, 1]}, False)


def mapped_errors(handler: Handler) -> Handler:
    """NotFound → 404 and a refused event action → 409; the rest goes to the server's
    handlers (InvalidInput → 422)."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except NotFound as exc:
            return error_response(404, "not_found", str(exc), exc.field)
        except EventStateError as exc:
            return error_response(409, "bad_state", str(exc), exc.field)

    return wrapped


def int_param(raw: str | None, name: str, default: int, lo: int, hi: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise InvalidInput(f"{name} must be a whole number", field=name) from exc
    if not lo <= value <= hi:
        raise InvalidInput(f"{name} must be between {lo} and {hi}", field=name)
    return value


def path_id(request: Request) -> int:
    """The ``{id}`` of the path; an id that cannot exist is not found (404), like one
    that does not. ASCII digits only: ``str.isdigit`` takes "²", which ``int`` refuses
    (an undeclared 400 found by schemathesis)."""
    raw = str(request.path_params["id"])
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise NotFound(f"no such id {raw[:20]!r}", field="id")
    return int(raw)


def flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "0") in ("1", "true", "yes")


def page_json(items: list[dict[str, Any]], total: int | None, offset: int, limit: int) -> Response:
    next_offset = offset + len(items) if len(items) == limit else None
    return JSONResponse({"items": items, "total": total, "next_offset": next_offset})


def services(request: Request) -> tuple[ContactService, StatsService]:
    state = request.app.state.services
    return state.contacts, state.contact_stats


def register(api: Registry) -> None:
    def endpoint(method: str, path: str, **spec: Any) -> Callable[[Handler], Handler]:
        def wrap(handler: Handler) -> Handler:
            return api.endpoint(method, path, tag="contacts", **spec)(mapped_errors(handler))

        return wrap

    @endpoint(
        "GET",
        "/api/contacts",
        summary="Contacts by name, or a search by name, company or number (M1)",
        query=(("q", {"type": "string"}, False), *PAGING),
        response=list_of(CONTACT),
        errors=(422,),
    )
    async def list_contacts(request: Request) -> Response:
        contacts, stats = services(request)
        q = request.query_params
        limit = int_param(q.get("limit"), "limit", 50, 1, 500)
        offset = int_param(q.get("offset"), "offset", 0, 0, 10**9)
        items, total = await contacts.page(q.get("q", ""), limit, offset)
        abc = await stats.abc_classes()
        return page_json([contact_json(c, abc.get(c.id or 0)) for c in items], total, offset, limit)

    @endpoint(
        "POST",
        "/api/contacts",
        summary="Create a contact",
        request=CONTACT_IN,
        response=CONTACT,
        status=201,
        errors=(400, 422),
    )
    async def create_contact(request: Request) -> Response:
        contacts, _ = services(request)
        data = parse_contact(await read_json(request), contacts.region)
        contact = await contacts.create(data)
        return JSONResponse(contact_json(contact), status_code=201)

    @endpoint(
        "GET",
        "/api/contacts/lookup",
        summary="Find the contacts of a number in any format, with the B13/B14 context",
        query=(("number", {"type": "string"}, True),),
        response=LOOKUP,
        errors=(422,),
    )
    async def lookup(request: Request) -> Response:
        contacts, stats = services(request)
        number = request.query_params.get("number", "")
        if not number.strip():
            raise InvalidInput("number is required", field="number")
        found = await contacts.lookup(number)
        abc = await stats.abc_classes()
        f = found.found
        hint = found.hint
        best = f.matches[0].phone if f.matches else None
        return JSONResponse(
            {
                "number": f.key,
                "matches": [contact_json(m.contact, abc.get(m.contact.id or 0)) for m in f.matches],
                "hint": {
                    "region": hint.region if hint else None,
                    "operator": hint.operator if hint else None,
                    "country": hint.country if hint else None,
                    "kind": hint.kind if hint else None,
                    "seen_before": iso(f.last_call.at) if f.last_call else None,
                },
                "rule": RANK_RULE,
                "context": list(found.lines),
                "last_call": None
                if f.last_call is None
                else {
                    "at": iso(f.last_call.at),
                    "outcome": f.last_call.outcome,
                    "direction": f.last_call.direction,
                    "talk_s": f.last_call.talk_s,
                },
                "planned_event": event_json(f.planned) if f.planned else None,
                "matched_phone": None
                if best is None
                else {"number": best.number, "kind": best.kind, "person": best.person},
            }
        )

    @endpoint(
        "POST",
        "/api/contacts/import",
        summary="Import contacts from csv, xls, xlsx or ods (preview=1: parse only)",
        query=(PREVIEW,),
        multipart=IMPORT_FORM,
        response=IMPORT_REPORT,
        errors=(422,),
    )
    async def import_contacts_file(request: Request) -> Response:
        contacts, _ = services(request)
        data, filename, mapping = await read_upload(request)
        report: ImportReport = await import_contacts(
            contacts,
            data,
            filename,
            mapping=mapping,
            preview=flag(request, "preview"),
            progress=progress_to_hub(request, "contacts"),
        )
        return JSONResponse(report.json())

    @endpoint(
        "GET",
        "/api/contacts/index",
        summary="The number index: the search fields it holds, and a re-index under way (U7)",
        response={
            "type": "object",
            "properties": {
                "search_fields": {"type": "array", "items": {"type": "array"}},
                "indexed": {"type": "array", "items": {"type": "array"}, "nullable": True},
                "reindexing": {"type": "boolean"},
            },
        },
    )
    async def index_state(request: Request) -> Response:
        contacts, _ = services(request)
        contacts.check_index()
        task = contacts.reindexing
        return JSONResponse(
            {
                "search_fields": contacts.search_fields(),
                "indexed": contacts.indexed_fields,
                "reindexing": task is not None and not task.done(),
            }
        )

    @endpoint(
        "POST",
        "/api/contacts/reindex",
        summary="Rebuild the number index with the current search fields now (U7)",
        status=202,
        response={"type": "object", "properties": {"reindexing": {"type": "boolean"}}},
    )
    async def reindex(request: Request) -> Response:
        contacts, _ = services(request)
        task = contacts.reindexing
        if task is None or task.done():
            contacts.spawn(contacts.reindex(), "re-index")
        return JSONResponse({"reindexing": True}, status_code=202)

    @endpoint(
        "GET",
        "/api/contacts/abc",
        summary="How many contacts are in each ABC class by sales (M6)",
        response={
            "type": "object",
            "properties": {
                "classes": {"type": "object", "additionalProperties": {"type": "integer"}},
                "thresholds": {"type": "array", "items": {"type": "number"}},
            },
        },
    )
    async def abc_counts(request: Request) -> Response:
        _, stats = services(request)
        classes = await stats.abc_classes()
        counts = dict.fromkeys(("A", "B", "C"), 0)
        for value in classes.values():
            counts[value] += 1
        return JSONResponse({"classes": counts, "thresholds": list(stats.thresholds())})

    @endpoint(
        "GET",
        "/api/contacts/{id}",
        summary="One contact (deleted and merged ones too, for the journal's links)",
        response=CONTACT,
        errors=(404,),
    )
    async def get_contact(request: Request) -> Response:
        contacts, stats = services(request)
        contact = await contacts.get(path_id(request))
        return JSONResponse(contact_json(contact, await stats.abc_of(path_id(request))))

    @endpoint(
        "PUT",
        "/api/contacts/{id}",
        summary="Change a contact: the fields given are replaced, the number index follows",
        request=CONTACT_IN,
        response=CONTACT,
        errors=(404, 422),
    )
    async def update_contact(request: Request) -> Response:
        contacts, stats = services(request)
        data = parse_contact(await read_json(request), contacts.region)
        contact = await contacts.update(path_id(request), data)
        return JSONResponse(contact_json(contact, await stats.abc_of(path_id(request))))

    @endpoint(
        "DELETE",
        "/api/contacts/{id}",
        summary="Delete a contact (soft: the journal keeps its link)",
        status=204,
        errors=(404,),
    )
    async def delete_contact(request: Request) -> Response:
        contacts, _ = services(request)
        await contacts.delete(path_id(request))
        return Response(status_code=204)

    @endpoint(
        "POST",
        "/api/contacts/{id}/merge",
        summary="Merge other contacts into this one (phones, attributes, events, sales)",
        request={
            "type": "object",
            "required": ["ids"],
            "properties": {"ids": {"type": "array", "items": {"type": "integer"}}},
        },
        response=CONTACT,
        errors=(404, 422),
    )
    async def merge_contacts(request: Request) -> Response:
        contacts, stats = services(request)
        body = await read_json(request)
        ids = body.get("ids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in ids
        ):
            raise InvalidInput("ids must be a list of contact ids", field="ids")
        contact = await contacts.merge(path_id(request), ids)
        return JSONResponse(contact_json(contact, await stats.abc_of(path_id(request))))

    @endpoint(
        "GET",
        "/api/contacts/{id}/stats",
        summary="Sales, events over time and the last events, per the U9 views (M5)",
        query=(("months", {"type": "integer", "minimum": 1, "maximum": 120}, False),),
        response=STATS,
        errors=(404, 422),
    )
    async def contact_stats(request: Request) -> Response:
        _, stats = services(request)
        months = int_param(request.query_params.get("months"), "months", 12, 1, 120)
        return JSONResponse(await stats.stats(path_id(request), months))

    @endpoint(
        "GET",
        "/api/contacts/{id}/events",
        summary="A contact's events, newest first; planned=1: its planned events, soonest first",
        query=(("planned", {"type": "integer", "enum": [0, 1]}, False), *PAGING),
        response=list_of(EVENT),
        errors=(404, 422),
    )
    async def contact_events(request: Request) -> Response:
        contacts, _ = services(request)
        await contacts.get(path_id(request))
        events = request.app.state.services.events
        q = request.query_params
        limit = int_param(q.get("limit"), "limit", 50, 1, 500)
        offset = int_param(q.get("offset"), "offset", 0, 0, 10**9)
        items, total = await events.page(
            contact_id=path_id(request),
            planned=flag(request, "planned"),
            limit=limit,
            offset=offset,
        )
        return page_json([event_json(e) for e in items], total, offset, limit)

    @api.endpoint(
        "POST",
        "/api/sales/import",
        summary="Import sales (contact or number, date, amount) from a table (U9)",
        tag="contacts",
        query=(PREVIEW, ("replace", {"type": "integer", "enum": [0, 1]}, False)),
        multipart=IMPORT_FORM,
        response=IMPORT_REPORT,
        errors=(422,),
    )
    async def import_sales_file(request: Request) -> Response:
        contacts, _ = services(request)
        data, filename, mapping = await read_upload(request)
        report = await import_sales(
            contacts,
            data,
            filename,
            mapping=mapping,
            preview=flag(request, "preview"),
            replace=flag(request, "replace"),
            progress=progress_to_hub(request, "sales"),
        )
        return JSONResponse(report.json())
