"""The licence in the local API (L1, U10; issue 8): the licence tab, installing a key,
and the request text to copy for the vendor."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from agent.api.registry import Registry, Schema
from agent.api.server import read_json
from agent.core.errors import InvalidInput
from agent.core.license import MAX_COUNT
from agent.core.license_seats import LicenseState
from agent.license.service import LicenseService

HOLDER: Schema = {
    "type": "object",
    "required": ["agent_id", "ext", "name", "label"],
    "properties": {
        "agent_id": {"type": "string"},
        "ext": {"type": "string"},
        "name": {"type": "string"},
        "host": {"type": "string"},
        "since": {"type": "string", "format": "date-time", "nullable": True},
        "label": {"type": "string", "description": "extension, name and host, as shown"},
    },
}
LICENSE: Schema = {
    "type": "object",
    "required": [
        "client_id",
        "client_code",
        "count",
        "active",
        "expires_at",
        "state",
        "required",
        "message",
    ],
    "properties": {
        "client_id": {"type": "string", "format": "uuid", "description": "one per database"},
        "client_code": {
            "type": "string",
            "nullable": True,
            "description": "EDRPOU of the installed key; null without one",
        },
        "count": {"type": "integer", "description": "seats allowed now (1 without a valid key)"},
        "key_count": {
            "type": "integer",
            "nullable": True,
            "description": "the licence count the installed key names",
        },
        "active": {
            "type": "array",
            "items": HOLDER,
            "description": "agents connected now on this database, this one left out",
        },
        "issued_on": {"type": "string", "format": "date", "nullable": True},
        "expires_on": {
            "type": "string",
            "format": "date",
            "nullable": True,
            "description": "the last day the key works (UTC)",
        },
        "expires_at": {
            "type": "string",
            "format": "date-time",
            "nullable": True,
            "description": "the first instant the key no longer works",
        },
        "installed_at": {"type": "string", "format": "date-time", "nullable": True},
        "state": {"type": "string", "enum": [s.value for s in LicenseState]},
        "required": {
            "type": "boolean",
            "description": "no valid key: the first-run licence form should open (L1)",
        },
        "message": {"type": "string"},
    },
}
INSTALL: Schema = {
    "type": "object",
    "required": ["key"],
    "properties": {
        "key": {"type": "string", "description": "the product key from the vendor (PA1-…)"},
        "client_code": {
            "type": "string",
            "description": "the EDRPOU typed in the form; checked against the key",
        },
        "count": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_COUNT,
            "description": "the licence count typed in the form; checked against the key",
        },
    },
}
REQUEST: Schema = {
    "type": "object",
    "required": ["text", "client_id", "client_code", "count"],
    "properties": {
        "text": {"type": "string", "description": "the request to send the vendor, to copy"},
        "client_id": {"type": "string", "format": "uuid"},
        "client_code": {"type": "string"},
        "count": {"type": "integer"},
    },
}


def _service(request: Request) -> LicenseService:
    service: LicenseService = request.app.state.services.license
    return service


def register(api: Registry) -> None:
    @api.endpoint(
        "GET",
        "/api/license",
        summary="The licence: client ID and code, seats allowed and in use (U10)",
        tag="license",
        response=LICENSE,
    )
    async def show(request: Request) -> Response:
        view = await _service(request).view()
        return JSONResponse(view.json())

    @api.endpoint(
        "POST",
        "/api/license",
        summary="Install a product key from the vendor (L1, U10)",
        tag="license",
        request=INSTALL,
        response=LICENSE,
        errors=(400, 422),
    )
    async def install(request: Request) -> Response:
        body = await read_json(request)
        if not isinstance(body, dict):
            raise InvalidInput("the body must be a JSON object")
        key = body.get("key")
        if not isinstance(key, str) or not key.strip():
            raise InvalidInput("the product key is empty", field="key")
        code = body.get("client_code")
        if code is not None and not isinstance(code, str):
            raise InvalidInput("the client code must be text", field="client_code")
        view = await _service(request).install(key, client_code=code, count=body.get("count"))
        return JSONResponse(view.json())

    @api.endpoint(
        "GET",
        "/api/license/request",
        summary="The licence request to send the vendor, as text to copy (L1)",
        tag="license",
        query=(
            ("client_code", {"type": "string", "description": "the company's EDRPOU"}, True),
            ("count", {"type": "integer", "minimum": 1, "maximum": MAX_COUNT}, False),
        ),
        response=REQUEST,
        errors=(400, 422),
    )
    async def request_text(request: Request) -> Response:
        query = request.query_params
        raw_count = query.get("count", "1")
        count: Any = int(raw_count) if raw_count.strip().isdigit() else raw_count
        made = await _service(request).request(query.get("client_code", ""), count)
        return JSONResponse(
            {
                "text": made.text,
                "client_id": made.client_id,
                "client_code": made.client_code,
                "count": made.count,
            }
        )
