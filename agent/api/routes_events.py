"""Call events: list, make, edit, save, decline (contracts.md §4; U8, C2, A5).

Handlers reach ``services.events`` (agent/contacts/event_service.py). A save or a
decline an event's state does not allow is 409; an unknown id 404.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from agent.api.registry import Handler, Registry, list_of
from agent.api.routes_contacts import (
    EVENT,
    PAGING,
    flag,
    int_param,
    mapped_errors,
    page_json,
    path_id,
)
from agent.api.server import read_json
from agent.contacts.event_service import EventService, require_subject
from agent.contacts.shapes import event_json, parse_event_changes, parse_event_draft
from agent.core.call_events import EventChanges, EventState
from agent.core.errors import InvalidInput

EVENT_IN = {
    "type": "object",
    "properties": {
        "call_uuid": {"type": "string", "nullable": True},
        "number": {"type": "string", "nullable": True},
        "contact_id": {"type": "integer", "nullable": True},
        "operator_ext": {"type": "string"},
        "direction": {"type": "string", "enum": ["in", "out", "internal"], "nullable": True},
        "kind": {"type": "string"},
        "importance": {"type": "string"},
        "planned_at": {
            "type": "string",
            "nullable": True,
            "description": "ISO 8601, or relative to now: +30m, +2h, +1d, +1w",
        },
        "notes": {"type": "string"},
        "fields": {"type": "object", "additionalProperties": True},
        "state": {"type": "string", "enum": ["open", "saved"]},
    },
}
EVENT_CHANGES = {
    "type": "object",
    "properties": {
        "call_uuid": {
            "type": "string",
            "nullable": True,
            "maxLength": 40,
            "description": "the event's own call id, if sent back: it cannot be changed (G5)",
        },
        "contact_id": {"type": "integer", "nullable": True},
        "kind": {"type": "string"},
        "importance": {"type": "string"},
        "planned_at": {"type": "string", "nullable": True, "description": "null clears it"},
        "notes": {"type": "string"},
        "fields": {"type": "object", "additionalProperties": True},
        "done": {"type": "boolean", "description": "a planned event is done (or not)"},
    },
}


def _events(request: Request) -> EventService:
    service: EventService = request.app.state.services.events
    return service


async def _changes(request: Request, events: EventService) -> EventChanges:
    """The edits of a PUT or a save. The call id is not one of them (G5): a body that
    names one must name the event's own, so it is never silently dropped."""
    body = await read_json(request)
    changes = parse_event_changes(body, events.contacts.clock())
    if isinstance(body, dict) and body.get("call_uuid") is not None:
        await events.require_same_call(path_id(request), body["call_uuid"])
    return changes


def register(api: Registry) -> None:
    def endpoint(method: str, path: str, **spec: Any) -> Callable[[Handler], Handler]:
        def wrap(handler: Handler) -> Handler:
            return api.endpoint(method, path, tag="events", **spec)(mapped_errors(handler))

        return wrap

    @endpoint(
        "GET",
        "/api/events",
        summary="Events, newest first; planned=1: planned events still to do, soonest first",
        query=(
            ("state", {"type": "string", "enum": ["open", "saved", "declined"]}, False),
            ("contact_id", {"type": "integer"}, False),
            ("scope", {"type": "string", "enum": ["mine", "team"]}, False),
            ("planned", {"type": "integer", "enum": [0, 1]}, False),
            *PAGING,
        ),
        response=list_of(EVENT),
        errors=(422,),
    )
    async def list_events(request: Request) -> Response:
        q = request.query_params
        state = q.get("state")
        if state is not None and state not in ("open", "saved", "declined"):
            raise InvalidInput("state must be open, saved or declined", field="state")
        scope = q.get("scope", "team")
        if scope not in ("mine", "team"):
            raise InvalidInput("scope must be mine or team", field="scope")
        contact = q.get("contact_id")
        limit = int_param(q.get("limit"), "limit", 50, 1, 500)
        offset = int_param(q.get("offset"), "offset", 0, 0, 10**9)
        items, total = await _events(request).page(
            state=EventState(state) if state else None,
            contact_id=int_param(contact, "contact_id", 0, 1, 2**62) if contact else None,
            mine=scope == "mine",
            planned=flag(request, "planned"),
            limit=limit,
            offset=offset,
        )
        return page_json([event_json(e) for e in items], total, offset, limit)

    @endpoint(
        "POST",
        "/api/events",
        summary="Make an event by hand (a planned call, a note)",
        request=EVENT_IN,
        response=EVENT,
        status=201,
        errors=(404, 422),
    )
    async def create_event(request: Request) -> Response:
        events = _events(request)
        draft = parse_event_draft(await read_json(request), events.own_ext, events.contacts.clock())
        require_subject(draft)
        event = await events.create_event(draft)
        return JSONResponse(event_json(event), status_code=201)

    @endpoint("GET", "/api/events/{id}", summary="One event", response=EVENT, errors=(404,))
    async def get_event(request: Request) -> Response:
        return JSONResponse(event_json(await _events(request).get(path_id(request))))

    @endpoint(
        "PUT",
        "/api/events/{id}",
        summary="Edit an event's fields, keeping its state",
        request=EVENT_CHANGES,
        response=EVENT,
        errors=(404, 409, 422),
    )
    async def edit_event(request: Request) -> Response:
        events = _events(request)
        changes = await _changes(request, events)
        return JSONResponse(event_json(await events.edit(path_id(request), changes)))

    @endpoint(
        "POST",
        "/api/events/{id}/save",
        summary="Save and close an event, with the operator's edits (U8, A5)",
        request=EVENT_CHANGES,
        response=EVENT,
        errors=(404, 409, 422),
    )
    async def save_event(request: Request) -> Response:
        events = _events(request)
        changes = await _changes(request, events)
        return JSONResponse(event_json(await events.save(path_id(request), changes)))

    @endpoint(
        "POST",
        "/api/events/{id}/decline",
        summary="Decline to record an event: its call is unimportant for good (A5, J1)",
        response=EVENT,
        errors=(404, 409),
    )
    async def decline_event(request: Request) -> Response:
        return JSONResponse(event_json(await _events(request).decline(path_id(request))))
