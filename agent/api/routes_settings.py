"""``GET/PUT /api/settings``: team (G1–G6) and operator (U1–U10) settings (M3, B7).

Reading gives every setting's effective value; a secret appears only as
``{"set": bool}``. Writing merges: the names given are checked together, and when
any is wrong nothing is saved and the answer is 422 with one error per field
(``FieldError`` of agent/core/settings.py, a message key for the window). Secrets
given as text go to the OS keyring (agent/secrets.py), ``null`` or ``""`` removes
them; they are never stored in the database and never read back.

What can change while the agent runs is applied at once (the DND code, the
language, G4 for new calls…); the answer lists the rest under ``restart`` (they
take effect at the next start).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, Literal, Protocol, get_args, get_origin, get_type_hints

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from agent.api.registry import Registry
from agent.api.server import read_json
from agent.core.errors import InvalidInput
from agent.core.settings import (
    FieldError,
    OperatorSettings,
    TeamSettings,
    parse_settings,
    settings_to_dict,
)
from agent.secrets import SecretName

log = logging.getLogger(__name__)

Scope = Literal["team", "operator"]
SCOPES: tuple[Scope, ...] = ("team", "operator")
SETTINGS_CLASSES: dict[Scope, type[TeamSettings] | type[OperatorSettings]] = {
    "team": TeamSettings,
    "operator": OperatorSettings,
}


class SecretStore(Protocol):
    """What this module needs of agent/secrets.py's :class:`~agent.secrets.Secrets`."""

    def set(self, name: SecretName, value: str) -> None: ...
    def delete(self, name: SecretName) -> None: ...
    def has(self, name: SecretName) -> bool: ...


@dataclass(frozen=True, slots=True)
class SecretField:
    """A write-only setting kept in the keyring; ``name_for`` finds its keyring entry."""

    scope: Scope
    name: str
    name_for: Callable[[Any], SecretName | None]  # services -> the keyring entry
    doc: str


def _operator_key(services: Any) -> SecretName:
    opts = services.agent.options
    return SecretName.api_key(opts.domain, opts.ext)


def _team_key(services: Any) -> SecretName:
    team: TeamSettings = services.agent.team
    return SecretName.team_api_key(team.domain or services.agent.options.domain)


def _robot_password(services: Any) -> SecretName | None:
    team: TeamSettings = services.agent.team
    if not (team.robot_server and team.robot_user):
        return None
    return SecretName.robot_password(team.robot_server, team.robot_user)


SECRETS: tuple[SecretField, ...] = (
    SecretField("team", "api_key", _team_key, "G1 default API key for operators without one"),
    SecretField("team", "robot_password", _robot_password, "G6 robot database password"),
    SecretField("operator", "api_key", _operator_key, "U1 the operator's API key"),
)


# ------------------------------------------------------------------ live application

Applier = Callable[[Any, Any], None]  # (services, new value)


def _apply_dnd_code(services: Any, value: Any) -> None:
    services.runtime.dnd_code = value


def _apply_completed_talk_s(services: Any, value: Any) -> None:
    # G4 for calls that finish from now on; the journal and the phone both judge it.
    services.journal.completed_talk_s = value
    runtime = services.runtime
    runtime.phone.config = replace(runtime.phone.config, completed_talk_s=value)


def _apply_outcome_wait_s(services: Any, value: Any) -> None:
    runtime = services.runtime
    runtime.phone.config = replace(runtime.phone.config, outcome_wait_s=float(value))


def _nothing(services: Any, value: Any) -> None:
    """Read where used (the window, popups, the dialer, the jobs): nothing to rebuild."""


LIVE: dict[tuple[Scope, str], Applier] = {
    ("operator", "dnd_code"): _apply_dnd_code,
    ("team", "completed_talk_s"): _apply_completed_talk_s,
    ("team", "outcome_wait_s"): _apply_outcome_wait_s,
}
# Settings read at the moment of use by their feature (it takes the Agent's current
# settings objects, which this module replaces), so a save applies them at once.
READ_WHEN_USED: frozenset[tuple[Scope, str]] = frozenset(
    {
        ("operator", "language"),
        ("operator", "popup_seconds"),
        ("operator", "dial_pause_s"),
        ("operator", "retry"),
        ("operator", "on_complete"),
        ("operator", "smart_mode"),
        ("operator", "sort_field"),
        ("operator", "sort_descending"),
        ("operator", "create_event_on_answer"),
        ("operator", "open_contact_on_answer"),
        ("operator", "event_defaults"),
        ("operator", "stats_sales"),
        ("operator", "stats_events"),
        ("operator", "stats_last_events"),
        ("operator", "search_fields"),
        ("operator", "login"),
        ("team", "calling_window"),
        ("team", "time_zone"),
        ("team", "extension_users"),
        ("team", "abc_thresholds"),
        ("team", "event_call_id_field"),
        ("team", "event_number_field"),
        ("team", "robot_dtmf"),
        ("team", "robot_identity"),
        # The jobs re-read these when told (settings_changed, agent/jobs/service.py).
        ("team", "history_import"),
        ("team", "history_schedule"),
        ("team", "robot_import"),
        ("team", "robot_schedule"),
        ("team", "robot_server"),
        ("team", "robot_database"),
        ("team", "robot_user"),
        ("team", "robot_query"),
        # The desktop applies these from settings_listeners (agent/desktop/shell.py).
        ("operator", "hotkey"),
        ("operator", "autostart"),
        ("operator", "dnd_when_locked"),
    }
)


# ------------------------------------------------------------------ describing fields


def describe(cls: type[TeamSettings] | type[OperatorSettings]) -> list[dict[str, Any]]:
    """Each setting's name, type, default and meaning: what the form is built from."""
    hints = get_type_hints(cls)
    defaults = settings_to_dict(cls())
    described = []
    for f in fields(cls):
        kind, options, nullable = _kind(hints[f.name])
        item: dict[str, Any] = {
            "name": f.name,
            "type": kind,
            "default": defaults[f.name],
            "doc": f.metadata.get("doc", ""),
            "nullable": nullable,
        }
        if options:
            item["options"] = options
        described.append(item)
    return described


def _kind(hint: Any) -> tuple[str, list[Any], bool]:
    origin, args = get_origin(hint), get_args(hint)
    if origin is Literal:
        return "enum", list(args), False
    nullable = type(None) in args
    if nullable:
        hint = next(a for a in args if a is not type(None))
        origin = get_origin(hint)
    simple = {bool: "bool", int: "int", float: "float", str: "str"}
    if hint in simple:
        return simple[hint], [], nullable
    if origin is dict or hint is dict:
        return "object", [], nullable
    if origin is list or hint is list:
        return "list", [], nullable
    return "json", [], nullable


def secrets_described(scope: Scope) -> list[dict[str, Any]]:
    return [
        {"name": s.name, "type": "secret", "default": None, "doc": s.doc, "nullable": True}
        for s in SECRETS
        if s.scope == scope
    ]


# ------------------------------------------------------------------ reading


def current(services: Any, scope: Scope) -> TeamSettings | OperatorSettings:
    agent = services.agent
    value: TeamSettings | OperatorSettings = agent.team if scope == "team" else agent.operator
    return value


def secret_state(services: Any, secret: SecretField) -> dict[str, bool]:
    name = secret.name_for(services)
    store: SecretStore = services.secrets
    try:
        held = name is not None and store.has(name)
    except Exception:  # a broken keyring reads as "not set", never as an error page
        log.warning("keyring unavailable while reading %s.%s", secret.scope, secret.name)
        held = False
    return {"set": held}


def settings_body(services: Any) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for scope in SCOPES:
        values = settings_to_dict(current(services, scope))
        for secret in SECRETS:
            if secret.scope == scope:
                values[secret.name] = secret_state(services, secret)
        body[scope] = values
    language = getattr(services, "language", None)
    body["language"] = language() if callable(language) else "en"
    return body


# ------------------------------------------------------------------ writing


@dataclass
class Change:
    """A checked PUT: the new values per scope, the secrets to write, the problems."""

    values: dict[Scope, dict[str, Any]]
    secrets: list[tuple[SecretField, str | None]]
    errors: list[dict[str, str]]


def check_change(services: Any, body: Any) -> Change:
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object {team?, operator?}")
    unknown_scopes = [key for key in body if key not in (*SCOPES, "language")]
    if unknown_scopes:
        raise InvalidInput(f"unknown scope {unknown_scopes[0]!r}", field=str(unknown_scopes[0]))
    change = Change(values={}, secrets=[], errors=[])
    for scope in SCOPES:
        given = body.get(scope)
        if given is None:
            continue
        if not isinstance(given, dict):
            raise InvalidInput(f"{scope} must be an object", field=scope)
        _check_scope(services, scope, given, change)
    return change


def _check_scope(services: Any, scope: Scope, given: Mapping[str, Any], change: Change) -> None:
    cls = SETTINGS_CLASSES[scope]
    names = {f.name for f in fields(cls)}
    secrets = {s.name: s for s in SECRETS if s.scope == scope}
    plain: dict[str, Any] = {}
    for name, value in given.items():
        if name in secrets:
            _check_secret(services, secrets[name], value, change)
        elif name in names:
            plain[name] = value
        else:
            change.errors.append(_error(scope, name, "settings.unknown", "no such setting"))
    parsed: TeamSettings | OperatorSettings
    if scope == "team":
        parsed, problems = parse_settings(TeamSettings, plain)
    else:
        parsed, problems = parse_settings(OperatorSettings, plain)
    for problem in problems:
        change.errors.append(_field_error(scope, problem))
    good = {name: getattr(parsed, name) for name in plain} if not problems else {}
    if not problems:
        change.values[scope] = good


def _check_secret(services: Any, secret: SecretField, value: Any, change: Change) -> None:
    if isinstance(value, dict) and set(value) <= {"set"}:
        return  # the GET shape sent back unchanged: nothing to write
    if value is not None and not isinstance(value, str):
        change.errors.append(
            _error(secret.scope, secret.name, "settings.invalid.secret", "must be text or null")
        )
        return
    text = value.strip() if isinstance(value, str) else ""
    if secret.name_for(services) is None and text:
        change.errors.append(
            _error(
                secret.scope,
                secret.name,
                "settings.invalid.robot_password",
                "set the robot server and user first",
            )
        )
        return
    change.secrets.append((secret, text or None))


def _error(scope: str, name: str, key: str, message: str) -> dict[str, str]:
    return {"scope": scope, "field": name, "message_key": key, "message": message}


def _field_error(scope: str, problem: FieldError) -> dict[str, str]:
    return _error(scope, problem.field, problem.message_key, problem.message)


def store_change(services: Any, change: Change) -> dict[str, list[str]]:
    """Save (on the storage worker), update the agent's settings, apply what is live.

    Runs on the agent's loop; returns ``{"applied": [...], "restart": [...]}`` with
    ``scope.name`` entries.
    """
    agent = services.agent
    applied: list[str] = []
    restart: list[str] = []
    for scope, values in change.values.items():
        if not values:
            continue
        new = replace(current(services, scope), **values)
        if scope == "team":
            agent.team = new
        else:
            agent.operator = new
        for name, value in values.items():
            applier = LIVE.get((scope, name))
            if applier is not None:
                applier(services, value)
                applied.append(f"{scope}.{name}")
            elif (scope, name) in READ_WHEN_USED:
                applied.append(f"{scope}.{name}")
            else:
                restart.append(f"{scope}.{name}")
    for secret, _ in change.secrets:
        restart.append(f"{secret.scope}.{secret.name}")
    return {"applied": applied, "restart": restart}


def write_secrets(services: Any, change: Change) -> None:
    """Keyring writes (blocking D-Bus or Windows calls: run off the loop)."""
    store: SecretStore = services.secrets
    for secret, value in change.secrets:
        name = secret.name_for(services)
        if name is None:
            continue
        if value is None:
            store.delete(name)
        else:
            store.set(name, value)


def settings_scope_key(services: Any, scope: Scope) -> str:
    if scope == "team":
        return "team"
    from agent.storage.repositories import operator_scope  # the one the agent loads

    opts = services.agent.options
    return operator_scope(opts.domain, opts.ext)


# ------------------------------------------------------------------ endpoints

_SCOPE_OBJECT = {"type": "object", "additionalProperties": True}
SETTINGS_BODY = {
    "type": "object",
    "required": ["team", "operator"],
    "properties": {
        "team": _SCOPE_OBJECT,
        "operator": _SCOPE_OBJECT,
        "language": {"type": "string", "enum": ["en", "uk", "ru"]},
    },
}
FIELD_LIST = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["name", "type"],
        "properties": {
            "name": {"type": "string"},
            "type": {"type": "string"},
            "doc": {"type": "string"},
            "nullable": {"type": "boolean"},
            "options": {"type": "array"},
        },
    },
}


def register(api: Registry) -> None:
    @api.endpoint(
        "GET",
        "/api/settings",
        summary="Team and operator settings; secrets only as {set: bool}",
        tag="settings",
        response=SETTINGS_BODY,
    )
    async def get_settings(request: Request) -> Response:
        services = request.app.state.services
        return JSONResponse(await _body_off_loop(services))

    @api.endpoint(
        "PUT",
        "/api/settings",
        summary="Merge settings; all fields checked, nothing saved when any is wrong",
        tag="settings",
        request={
            "type": "object",
            "properties": {"team": _SCOPE_OBJECT, "operator": _SCOPE_OBJECT},
        },
        response=SETTINGS_BODY,
        errors=(400, 422),
    )
    async def put_settings(request: Request) -> Response:
        services = request.app.state.services
        change = check_change(services, await read_json(request))
        if change.errors:
            first = change.errors[0]
            summary = "; ".join(f"{e['field']}: {e['message']}" for e in change.errors)
            return JSONResponse(
                {
                    "error": {
                        "code": "invalid_settings",
                        "message": summary,
                        "field": first["field"],
                        "fields": change.errors,
                    }
                },
                status_code=422,
            )
        if change.secrets:  # first: a keyring that refuses leaves everything unsaved
            await asyncio.to_thread(write_secrets, services, change)
        await _save(services, change)
        outcome = store_change(services, change)
        services.hub.publish(
            "settings",
            {"changed": outcome["applied"] + outcome["restart"], "language": services.language()},
        )
        # G2/G6 schedules and switches are re-read by the jobs (agent/jobs/service.py).
        jobs_changed = getattr(getattr(services, "jobs", None), "settings_changed", None)
        if "team" in change.values and callable(jobs_changed):
            jobs_changed()
        for listener in list(getattr(services, "settings_listeners", ())):
            try:
                listener(services.agent.team, services.agent.operator, outcome)
            except Exception:
                log.exception("a settings listener failed")
        body = await _body_off_loop(services)
        body.update(outcome)
        return JSONResponse(body)

    @api.endpoint(
        "GET",
        "/api/settings/fields",
        summary="Every setting: name, type, default, meaning (builds the form)",
        tag="settings",
        response={
            "type": "object",
            "required": ["team", "operator"],
            "properties": {"team": FIELD_LIST, "operator": FIELD_LIST},
        },
    )
    async def settings_fields(request: Request) -> Response:
        return JSONResponse(
            {
                scope: describe(SETTINGS_CLASSES[scope]) + secrets_described(scope)
                for scope in SCOPES
            }
        )


async def _body_off_loop(services: Any) -> dict[str, Any]:
    # Reading "is the secret set" asks the keyring: a D-Bus round trip, off the loop.
    return await asyncio.to_thread(settings_body, services)


async def _save(services: Any, change: Change) -> None:
    storage = services.storage
    for scope, values in change.values.items():
        if values:
            key = settings_scope_key(services, scope)
            await storage.run(storage.settings.save, key, values)


# ------------------------------------------------------------------ docs/settings.md


def settings_markdown() -> str:
    """docs/settings.md, written from the dataclasses (``python -m agent.api.routes_settings``)."""
    import json

    lines = [
        "# Settings",
        "",
        "Every setting of the agent: its name, type, default and meaning. Written from",
        "`agent/core/settings.py` by `python -m agent.api.routes_settings > docs/settings.md`;",
        "a test checks that every setting is listed here. The window's Settings page",
        "(docs/window.md) edits them; `GET/PUT /api/settings` reads and merges them",
        "(contracts.md §4). They live in the database: team settings once per database,",
        "operator settings per domain + extension. Secrets are not settings: they live in",
        "the OS keyring and the API shows them only as set / not set.",
        "",
        "When saved, a setting marked **live** applies at once; **restart** ones take effect",
        "at the agent's next start (the answer of `PUT /api/settings` lists them).",
        "",
    ]
    titles = {"team": "Team (G1–G6, shared)", "operator": "Operator (U1–U10, per extension)"}
    for scope in SCOPES:
        lines += [
            f"## {titles[scope]}",
            "",
            "| name | type | default | when | meaning |",
            "|---|---|---|---|---|",
        ]
        for item in describe(SETTINGS_CLASSES[scope]):
            kind = item["type"]
            if item.get("options"):
                kind = " \\| ".join(f"`{o}`" for o in item["options"])
            if item["nullable"]:
                kind += " or null"
            default = json.dumps(item["default"], ensure_ascii=False).replace("|", "\\|")
            live = (scope, item["name"]) in LIVE or (scope, item["name"]) in READ_WHEN_USED
            lines.append(
                f"| `{scope}.{item['name']}` | {kind} | `{default}` | "
                f"{'live' if live else 'restart'} | {item['doc']} |"
            )
        for secret in SECRETS:
            if secret.scope == scope:
                lines.append(
                    f"| `{scope}.{secret.name}` | secret (keyring) | not set | restart | "
                    f"{secret.doc}; written through the API, never read back |"
                )
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(settings_markdown())
