"""Schemas of the dialer's endpoints (agent/api/routes_dialer.py; contracts.md §4): the
OpenAPI document is generated from them (agent/api/registry.py)."""

from __future__ import annotations

from agent.api.registry import Schema

STATES = ["idle", "calling", "in_call", "waiting_event", "between_calls", "paused", "outside_hours"]
ENTRY_STATES = [
    "pending", "calling", "postponed", "done", "exhausted", "skipped", "dnc", "outside_hours",
]  # fmt: skip
NULLABLE_TIME: Schema = {"type": "string", "format": "date-time", "nullable": True}
CONTACT: Schema = {
    "type": "object",
    "nullable": True,
    "properties": {"id": {"type": "integer", "nullable": True}, "name": {"type": "string"}},
}
DIALER: Schema = {
    "type": "object",
    "required": ["state", "paused_until", "list_id"],
    "properties": {
        "state": {"type": "string", "enum": STATES},
        "paused_until": NULLABLE_TIME,
        "list_id": {"type": "integer", "nullable": True},
        "next_call_at": NULLABLE_TIME,
        "finished": {"type": "boolean"},
        "waiting_for": {"type": "string", "nullable": True, "enum": ["outcome", "event", None]},
        "current": {
            "type": "object",
            "nullable": True,
            "properties": {
                "entry_id": {"type": "integer"},
                "number": {"type": "string"},
                "contact": {"type": "string", "nullable": True},
                "uuid": {"type": "string", "nullable": True},
                "phase": {"type": "string"},
            },
        },
        "pause_presets": {"type": "array", "items": {"type": "integer"}},
    },
}
ENTRY: Schema = {
    "type": "object",
    "required": [
        "id", "position", "number", "contact", "detail", "next_dial_at", "attempts",
        "state", "last_outcome",
    ],
    "properties": {
        "id": {"type": "integer"},
        "position": {"type": "integer", "description": "1-based place in the list (#)"},
        "number": {"type": "string"},
        "contact": CONTACT,
        "detail": {"type": "string", "nullable": True},
        "next_dial_at": {"type": "string", "format": "date-time"},
        "attempts": {"type": "integer"},
        "state": {"type": "string", "enum": ENTRY_STATES},
        "reason": {"type": "string", "nullable": True, "description": "why it waits (B3)"},
        "last_outcome": {"type": "string", "nullable": True},
        "last_attempt_at": NULLABLE_TIME,
        "sort_value": {"type": "string", "nullable": True},
        "planned_event": {"type": "string", "nullable": True},
        "time_zone": {"type": "string"},
    },
}  # fmt: skip
ADD_RESULT: Schema = {
    "type": "object",
    "required": ["accepted", "rejected"],
    "properties": {
        "accepted": {"type": "integer"},
        "rejected": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["row", "column", "reason"],
                "properties": {
                    "row": {"type": "integer"},
                    "column": {"type": "string"},
                    "reason": {"type": "string"},
                },
            },
        },
    },
}
DIAL_LIST: Schema = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "active": {"type": "boolean"},
        "created_at": {"type": "string", "format": "date-time"},
        "total": {"type": "integer"},
        "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
    },
}
MISSED: Schema = {
    "type": "object",
    "properties": {
        "uuid": {"type": "string"},
        "number": {"type": "string"},
        "contact": CONTACT,
        "operator_ext": {"type": "string"},
        "dial_at": {"type": "string", "format": "date-time"},
        "end_at": {"type": "string", "format": "date-time"},
        "outcome": {"type": "string", "nullable": True},
        "handled": {"type": "boolean"},
        "handled_at": NULLABLE_TIME,
        "claimed_by": {"type": "string", "nullable": True},
        "claimed_until": NULLABLE_TIME,
    },
}
CALLBACK: Schema = {
    "type": "object",
    "properties": {
        "kind": {"type": "string", "enum": ["missed", "dial_list", "robot"]},
        "number": {"type": "string"},
        "contact": CONTACT,
        "due_at": {"type": "string", "format": "date-time"},
        "ref": {"type": "object"},
        "claimed_by": {"type": "string", "nullable": True},
    },
}
DNC: Schema = {
    "type": "object",
    "properties": {
        "number": {"type": "string"},
        "reason": {"type": "string", "nullable": True},
        "added_by": {"type": "string", "nullable": True},
        "added_at": {"type": "string", "format": "date-time"},
    },
}
NUMBER_BODY: Schema = {
    "type": "object",
    "required": ["number"],
    "properties": {"number": {"type": "string"}},
}
LIST_QUERY = ("list", {"type": "integer", "minimum": 1}, False)
MODE_QUERY = ("mode", {"type": "string", "enum": ["append", "replace"]}, False)
PAGING = (
    ("limit", {"type": "integer", "minimum": 1, "maximum": 500}, False),
    ("offset", {"type": "integer", "minimum": 0}, False),
)
OK_FLAG: Schema = {"type": "object", "additionalProperties": {"type": "boolean"}}
