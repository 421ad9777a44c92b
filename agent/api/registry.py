"""Routes declared once, with their schemas: the OpenAPI document is generated from
this registry, never kept by hand (contracts.md §4, B9).

Each area module (``agent/api/routes_*.py``) declares its endpoints with
:func:`endpoint`; ``openapi()`` walks the registry.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

Handler = Callable[[Request], Awaitable[Response]]
Schema = dict[str, Any]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    request: Schema | None = None  # JSON body schema
    multipart: Schema | None = None  # multipart form schema (file uploads)
    query: tuple[tuple[str, Schema, bool], ...] = ()  # (name, schema, required)
    response: Schema | None = None
    status: int = 200
    errors: tuple[int, ...] = ()
    public: bool = False  # no bearer token (the OpenAPI document itself)


@dataclass
class Registry:
    endpoints: list[Endpoint] = field(default_factory=list)

    def endpoint(self, method: str, path: str, **spec: Any) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.endpoints.append(Endpoint(method.upper(), path, handler, **spec))
            return handler

        return register

    def openapi(self, version: str) -> dict[str, Any]:
        paths: dict[str, dict[str, Any]] = {}
        for ep in self.endpoints:
            op: dict[str, Any] = {
                "summary": ep.summary,
                "tags": [ep.tag],
                "operationId": f"{ep.method.lower()}_{ep.path.strip('/').replace('/', '_')}",
                "responses": _responses(ep),
            }
            if not ep.public:
                op["security"] = [{"bearer": []}]
            parameters = [
                {"name": name, "in": "query", "required": required, "schema": schema}
                for name, schema, required in ep.query
            ]
            parameters += [
                {"name": name, "in": "path", "required": True, "schema": schema}
                for name, schema in _path_params(ep.path)
            ]
            if parameters:
                op["parameters"] = parameters
            if ep.request is not None:
                op["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": ep.request}},
                }
            if ep.multipart is not None:
                op["requestBody"] = {
                    "required": True,
                    "content": {"multipart/form-data": {"schema": ep.multipart}},
                }
            paths.setdefault(openapi_path(ep.path), {})[ep.method.lower()] = op
        return {
            "openapi": "3.0.3",
            "info": {"title": "Phonet Agent local API", "version": version},
            "servers": [{"url": "/"}],
            "components": {
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
                "schemas": {"Error": ERROR_SCHEMA},
            },
            "paths": paths,
        }


ERROR_SCHEMA: Schema = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": "string"},
            },
        }
    },
}


def _responses(ep: Endpoint) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": "OK"}
    if ep.response is not None:
        ok["content"] = {"application/json": {"schema": ep.response}}
    responses: dict[str, Any] = {str(ep.status): ok}
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    for status in (*ep.errors, *(() if ep.public else (401, 403))):
        responses[str(status)] = {"description": _REASONS.get(status, "error"), **error}
    return responses


_REASONS = {
    400: "bad request",
    401: "missing or wrong token",
    403: "foreign origin or host",
    404: "not found",
    409: "conflict",
    422: "invalid input",
    503: "the PBX is unreachable",
}


# Starlette's path converters ({id:int}) as OpenAPI path parameter schemas.
_CONVERTERS: dict[str, Schema] = {
    "int": {"type": "integer", "minimum": 0},
    "float": {"type": "number", "minimum": 0},
    "path": {"type": "string"},
    "str": {"type": "string"},
}


def _path_params(path: str) -> list[tuple[str, Schema]]:
    params = []
    for part in path.split("/"):
        if part.startswith("{") and part.endswith("}"):
            name, _, converter = part[1:-1].partition(":")
            params.append((name, _CONVERTERS.get(converter or "str", {"type": "string"})))
    return params


def openapi_path(path: str) -> str:
    """``/api/dial-lists/{id:int}`` as OpenAPI writes it: ``/api/dial-lists/{id}``."""
    return "/".join(
        "{" + part[1:-1].partition(":")[0] + "}" if part.startswith("{") else part
        for part in path.split("/")
    )


def list_of(item: Schema) -> Schema:
    """The list envelope of contracts.md §4."""
    return {
        "type": "object",
        "required": ["items", "total", "next_offset"],
        "properties": {
            "items": {"type": "array", "items": item},
            "total": {"type": "integer", "nullable": True},
            "next_offset": {"type": "integer", "nullable": True},
        },
    }
