"""``GET/PUT /api/settings``: team (G1–G6) and operator (U1–U10) settings (M3, B7).

Reading gives every setting's effective value; a secret appears only as
``{"set": bool}``. Writing merges: the names given are checked together, and when
any is wrong nothing is saved and the answer is 422 with one error per field
(``FieldError`` of agent/core/settings.py, a message key for the window). Secrets
given as text go to the OS keyring (agent/secrets.py), ``null`` or ``""`` removes
them; they are never stored in the database and never read back.

Each setting is classified in :data:`APPLIES` by how its consumers read it: at each
use, re-applied on save (here or by a listener: the jobs, the desktop), or held
since the start. The answer lists the first two under ``applied`` and the rest under
``restart`` (they take effect at the next start).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields, replace
from enum import StrEnum
from typing import Any, Literal, Protocol, get_args, get_origin, get_type_hints
from uuid import uuid4
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from agent.api.registry import Registry
from agent.api.server import read_json
from agent.core.dialer import DialerState
from agent.core.dialer_io import ListChanged
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
    """G1's default key, under the domain the agent connects to (its profile's, as
    ``phonet-agent secret set team-api-key`` saves it and agent/secrets.py reads it:
    contracts.md §2 ``{domain}/team``). ``team.domain`` must name the same domain
    (:func:`_profile_domain`), so the key saved here is the one the agent uses."""
    return SecretName.team_api_key(services.agent.options.domain)


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


# ------------------------------------------------------------------ when a saved value applies
#
# Every setting is classified by how its consumers read it (grep the name across
# agent/): a PUT answers ``applied`` for the first two kinds and ``restart`` for the
# third (contracts.md §4). tests/api/test_settings_live.py holds the table complete
# and shows, per kind, that the running agent's behaviour really changes.


class When(StrEnum):
    USE = "use"  # read from the agent's current settings at each use: nothing to redo
    SAVE = "save"  # held by a running part: re-applied when saved (here, or a listener)
    RESTART = "restart"  # held since the start: applies at the next start


Applier = Callable[[Any], None]  # services -> None; reads services.agent's settings now


@dataclass(frozen=True, slots=True)
class Applies:
    when: When
    consumer: str  # who reads it and how: the evidence for ``when``
    apply: tuple[Applier, ...] = ()  # run once per PUT that changes it, after the save


def _apply_dnd_code(services: Any) -> None:
    services.runtime.dnd_code = services.agent.operator.dnd_code


def _apply_phone(services: Any) -> None:
    # G4 and B2 for calls that finish from now on; the journal judges G4 too.
    team: TeamSettings = services.agent.team
    services.journal.completed_talk_s = team.completed_talk_s
    phone = services.runtime.phone
    phone.config = replace(
        phone.config,
        completed_talk_s=team.completed_talk_s,
        outcome_wait_s=float(team.outcome_wait_s),
    )


def _apply_backoff(services: Any) -> None:
    """U3: the live link's backoff, with the cap never under the first delay (as
    agent/app.py builds it at start)."""
    live = getattr(services.agent, "live", None)
    if live is not None:
        op: OperatorSettings = services.agent.operator
        live.set_backoff(op.reconnect_s, max(op.reconnect_max_s, op.reconnect_s))


def _dialer_participant(services: Any) -> Any:
    return getattr(getattr(services, "dialer", None), "participant", None)


def _apply_dialer(services: Any) -> None:
    """U5, U6, A4, A5, B2: the dialer's core takes the new config now, and the runtime
    plans again, so a ringing call's new busy timeout counts at once (the dialer would
    otherwise see the change only when next woken: for that call, when it ends)."""
    participant = _dialer_participant(services)
    if participant is not None:
        participant.reconfigure()
        services.runtime.poke()


def _repick_dialer(services: Any) -> None:
    """B3: a dialer waiting outside the calling hours waits for the opening the old
    window gave; with new hours or a new zone it looks again now."""
    participant = _dialer_participant(services)
    if participant is None:
        return
    core = participant.core
    if core.state is DialerState.OUTSIDE_HOURS and core.list_id is not None:
        participant.post(ListChanged(core.list_id))


def _forget_abc(services: Any) -> None:
    """M6: the ABC classes are cached until sales change; new thresholds count again."""
    stats = getattr(services, "contact_stats", None)
    if stats is not None:
        stats.forget()


def _check_index(services: Any) -> None:
    """U7 (search fields) and the default region: contacts are indexed by number under
    both, so re-indexing starts now rather than at the next lookup."""
    contacts = getattr(services, "contacts", None)
    if contacts is not None:
        contacts.check_index()


def _use(consumer: str) -> Applies:
    return Applies(When.USE, consumer)


def _on_save(consumer: str, *apply: Applier) -> Applies:
    return Applies(When.SAVE, consumer, apply)


def _restart(consumer: str) -> Applies:
    return Applies(When.RESTART, consumer)


_JOBS = "the jobs re-read the team settings when told (settings_changed, agent/jobs/service.py)"
_DIALER = "the dialer's config (config_of, agent/dialer/participant.py), rebuilt on save"
_DESKTOP = "the desktop re-applies it from settings_listeners (agent/desktop/wiring.py)"

APPLIES: dict[tuple[Scope, str], Applies] = {
    # ---- team
    ("team", "domain"): _use(
        "nothing reads it: the PBX link and the team key's keyring entry use the "
        "profile's domain (phonet-agent configure), which this must equal when set"
    ),
    ("team", "history_import"): _on_save(_JOBS),
    ("team", "history_schedule"): _on_save(_JOBS),
    ("team", "extension_users"): _on_save(
        "reports read it at use; " + _JOBS + " (J1 names, presence's operator name)"
    ),
    ("team", "completed_talk_s"): _on_save(
        "phone and journal: set here; tray figures, missed calls, reports read it at use; " + _JOBS,
        _apply_phone,
    ),
    ("team", "event_call_id_field"): _use("nothing reads it yet (G5)"),
    ("team", "event_number_field"): _use("nothing reads it yet (G5)"),
    ("team", "robot_import"): _on_save(_JOBS),
    ("team", "robot_schedule"): _on_save(_JOBS),
    ("team", "robot_server"): _on_save(_JOBS),
    ("team", "robot_database"): _on_save(_JOBS),
    ("team", "robot_user"): _on_save(_JOBS),
    ("team", "robot_query"): _on_save(_JOBS + ", at each J2 run"),
    ("team", "robot_dtmf"): _on_save(_JOBS + ", at each J2 run"),
    ("team", "robot_identity"): _on_save(_JOBS + ", at each J2 run"),
    ("team", "calling_window"): _on_save(
        "the dialer reads it at each pick; one waiting outside the hours looks again",
        _repick_dialer,
    ),
    ("team", "missed_claim_min"): _use("missed calls, at each claim (agent/dialer/missed.py)"),
    ("team", "missed_days"): _use("missed calls, at each scan (agent/dialer/missed.py)"),
    ("team", "time_zone"): _on_save(
        "reports, contacts, dial lists, tray read it at use; " + _JOBS + " (schedules); "
        "a dialer waiting outside the hours looks again",
        _repick_dialer,
    ),
    ("team", "default_region"): _on_save(
        "dialling (agent/app.py), contacts, dial lists, missed calls, reports, tray: at "
        "use; " + _JOBS + "; the contacts' number index is rebuilt for the new region",
        _check_index,
    ),
    ("team", "abc_thresholds"): _on_save(
        "contact stats read it at use but cache the classes: forgotten on save", _forget_abc
    ),
    ("team", "outcome_wait_s"): _on_save(
        "the phone's config, set here; " + _DIALER, _apply_phone, _apply_dialer
    ),
    ("team", "history_lookback_days"): _on_save(
        _JOBS + ", at each J1/J2 run (the phone uses it only at start, for the gap "
        "since the last run)"
    ),
    ("team", "job_lease_s"): _on_save(_JOBS + ", at each claim and renewal"),
    ("team", "heartbeat_s"): _on_save(_JOBS + ", when the next beat is planned"),
    ("team", "presence_stale_beats"): _on_save(_JOBS + ", at each presence read"),
    # ---- operator
    ("operator", "login"): _use("nothing in the running agent reads it"),
    ("operator", "auto_connect"): _use("read at start, its only use (U3)"),
    ("operator", "reconnect_s"): _on_save("the live link's backoff, set here", _apply_backoff),
    ("operator", "reconnect_max_s"): _on_save("the live link's backoff, set here", _apply_backoff),
    ("operator", "dnd_code"): _on_save("the runtime's DND code, set here", _apply_dnd_code),
    ("operator", "dial_pause_s"): _on_save(_DIALER + ": the next pause", _apply_dialer),
    ("operator", "busy_timeout_s"): _on_save(_DIALER + ": the ringing call too", _apply_dialer),
    ("operator", "retry"): _on_save(_DIALER + ": the next outcome", _apply_dialer),
    ("operator", "on_complete"): _on_save(_DIALER + ": the next outcome", _apply_dialer),
    ("operator", "on_exhausted"): _on_save(_DIALER + ": the next outcome", _apply_dialer),
    ("operator", "smart_mode"): _on_save(_DIALER + ": the next pick", _apply_dialer),
    ("operator", "sort_field"): _use("dial lists, at each use (follow_sort_settings)"),
    ("operator", "sort_descending"): _use("dial lists, at each use (follow_sort_settings)"),
    ("operator", "search_fields"): _on_save(
        "contacts read it at each lookup; the re-index starts on save", _check_index
    ),
    ("operator", "create_event_on_answer"): _on_save(
        "events read it at each answer; " + _DIALER + " (A5 gate)", _apply_dialer
    ),
    ("operator", "open_contact_on_answer"): _use("events, at each answer"),
    ("operator", "event_defaults"): _use("events and the tray, at each new event"),
    ("operator", "stats_sales"): _use("contact stats, at each request"),
    ("operator", "stats_events"): _use("contact stats, at each request"),
    ("operator", "stats_last_events"): _use("contact stats, at each request"),
    ("operator", "language"): _use("window, tray, popups: at each use (the tray redraws)"),
    ("operator", "hotkey"): _on_save(_DESKTOP),
    ("operator", "autostart"): _on_save(_DESKTOP),
    ("operator", "dnd_when_locked"): _on_save(_DESKTOP),
    ("operator", "popup_seconds"): _use("desktop popups, at each popup"),
}
# Secrets are read from the keyring at start: the live link and REST hold the
# operator's key (or the team's, its fallback). The robot password is read at each
# J2 run, but the jobs remember for SECRET_RECHECK (5 min) whether the keyring holds
# it: a restart is the sure way.
SECRET_APPLIES = _restart("read from the keyring at start")

# The settings read at each use (the name other modules knew this table by).
READ_WHEN_USED: frozenset[tuple[Scope, str]] = frozenset(
    key for key, a in APPLIES.items() if a.when is When.USE
)


def applies(scope: Scope, name: str) -> Applies:
    """How a saved value reaches the running agent; unclassified: at the next start."""
    return APPLIES.get((scope, name), Applies(When.RESTART, "not classified"))


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
    if not problems:
        problems = _adapter_problems(services, scope, plain.keys(), parsed)
    for problem in problems:
        change.errors.append(_field_error(scope, problem))
    good = {name: getattr(parsed, name) for name in plain} if not problems else {}
    if not problems:
        change.values[scope] = good


# ------------------------------------------------------------------ checks that need I/O
#
# agent/core/settings.py checks what a value looks like, without I/O; these need the
# machine (zoneinfo reads the time-zone files) or the running agent (its profile).

AdapterCheck = Callable[[Any, str, Any], FieldError | None]  # services, name, parsed value


def _known_zone(services: Any, name: str, value: Any) -> FieldError | None:
    """An IANA zone this machine knows; any other used to read silently as UTC."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        message = f"no time zone is named {value!r}: an IANA name such as Europe/Kyiv"
        return FieldError(name, "settings.invalid.time_zone", message)
    return None


def _profile_domain(services: Any, name: str, value: Any) -> FieldError | None:
    """G1: the team works on the PBX the agent connects to; empty means "not said"."""
    connected = str(services.agent.options.domain)
    if not value or value.lower() == connected.strip().lower():
        return None
    message = (
        f"this agent connects to {connected} (phonet-agent configure): the team's "
        "domain must be the same, or empty"
    )
    return FieldError(name, "settings.invalid.domain_profile", message)


ADAPTER_CHECKS: dict[tuple[Scope, str], AdapterCheck] = {
    ("team", "time_zone"): _known_zone,
    ("team", "domain"): _profile_domain,
}


def _adapter_problems(
    services: Any, scope: Scope, names: Iterable[str], parsed: TeamSettings | OperatorSettings
) -> list[FieldError]:
    problems = []
    for name in names:
        check = ADAPTER_CHECKS.get((scope, name))
        problem = check(services, name, getattr(parsed, name)) if check is not None else None
        if problem is not None:
            problems.append(problem)
    return problems


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
    """Update the agent's settings (already saved), apply what is held by running parts.

    Runs on the agent's loop; returns ``{"applied": [...], "restart": [...]}`` with
    ``scope.name`` entries, per :data:`APPLIES`. Each applier runs once, after both
    scopes are in place; one that fails moves its settings to ``restart``.
    """
    agent = services.agent
    applied: list[str] = []
    restart: list[str] = []
    appliers: dict[Applier, list[str]] = {}
    for scope, values in change.values.items():
        if not values:
            continue
        new = replace(current(services, scope), **values)
        if scope == "team":
            agent.team = new
        else:
            agent.operator = new
    for scope, values in change.values.items():
        for name in values:
            how = applies(scope, name)
            label = f"{scope}.{name}"
            if how.when is When.RESTART:
                restart.append(label)
                continue
            applied.append(label)
            for apply in how.apply:
                appliers.setdefault(apply, []).append(label)
    for apply, labels in appliers.items():
        try:
            apply(services)
        except Exception:
            log.exception("could not apply %s while running", ", ".join(labels))
            moved = [label for label in labels if label in applied]
            applied = [label for label in applied if label not in moved]
            restart.extend(moved)
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
        announce(services, change, outcome)
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


def announce(services: Any, change: Change, outcome: dict[str, list[str]]) -> None:
    """After :func:`store_change`: tell the window, the jobs and the listeners (the
    desktop). Used by ``PUT /api/settings`` and by the team settings watcher
    (agent/settings_sync.py), which brings another agent's saved change here."""
    language = getattr(services, "language", None)
    services.hub.publish(
        "settings",
        {
            "changed": outcome["applied"] + outcome["restart"],
            "language": language() if callable(language) else "en",
        },
    )
    # G2/G6 schedules and switches are re-read by the jobs (agent/jobs/service.py).
    jobs_changed = getattr(getattr(services, "jobs", None), "settings_changed", None)
    # A written secret too: the jobs forget whether the keyring held theirs (G6).
    if ("team" in change.values or change.secrets) and callable(jobs_changed):
        jobs_changed()
    for listener in list(getattr(services, "settings_listeners", ())):
        try:
            listener(services.agent.team, services.agent.operator, outcome)
        except Exception:
            log.exception("a settings listener failed")


TEAM_VERSION_KEY = "settings.team.version"
"""kv key: a fresh token at every save of team settings through the API, so another
agent on the same database sees a change with one small read (agent/settings_sync.py)
even when the clocks of the two machines disagree."""


async def _save(services: Any, change: Change) -> None:
    storage = services.storage
    for scope, values in change.values.items():
        if values:
            key = settings_scope_key(services, scope)
            await storage.run(_save_scope, storage, key, values, scope == "team")


def _save_scope(storage: Any, key: str, values: Mapping[str, Any], team: bool) -> None:
    """On the storage worker: the values and, for the team, a new version token."""
    with storage.atomic():
        storage.settings.save(key, values)
        if team:
            storage.kv.set(TEAM_VERSION_KEY, uuid4().hex)


# ------------------------------------------------------------------ docs/settings.md


WHEN_WORDS: dict[When, str] = {When.USE: "at use", When.SAVE: "on save", When.RESTART: "restart"}


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
        "When a saved setting applies (column *when*; `PUT /api/settings` answers the first",
        "two kinds under `applied`, the third under `restart`):",
        "",
        "- **at use**: read where it is used, so the next use takes the new value (the next",
        "  call, claim, lookup, popup…);",
        "- **on save**: a running part holds it and is given the new value as the answer is",
        "  made (the live link's backoff, the dialer, the phone), or a moment later by a",
        "  listener (the jobs re-read the team settings; the desktop re-applies its own);",
        "- **restart**: read at start only; it takes effect at the agent's next start.",
        "",
        "Team mode (docs/team-mode.md): the agents of a team share one database, so one",
        "set of team settings. A team setting another agent saved reaches a running agent",
        "within about 30 s, and is applied there as a save there would be (the *when*",
        "column); the window hears of it.",
        "",
        "Values are checked when saved, each beside its field: a hotkey must be modifiers",
        "and one key (`<ctrl>+<alt>+d`; empty: none), `team.time_zone` a time zone the",
        "machine knows (IANA, e.g. `Europe/Kyiv`), `team.default_region` a country code",
        "phone numbers know (capitals, e.g. `UA`), `team.extension_users` names as text.",
        "Changing `team.default_region` re-indexes the contacts' numbers, as changing",
        "`operator.search_fields` does.",
        "",
        "The team's default API key (`team.api_key`, G1) is kept in the keyring under the",
        "domain the agent connects to: its profile's (`phonet-agent configure --domain`),",
        "the entry `phonet-agent secret set team-api-key` writes and the agent reads for an",
        "operator without a key of their own (contracts.md §2, `{domain}/team`).",
        "`team.domain` names that same domain: it may be empty, and a domain other than",
        "the profile's is refused, so a key saved here is always the one the agent uses.",
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
            when = WHEN_WORDS[applies(scope, item["name"]).when]
            lines.append(
                f"| `{scope}.{item['name']}` | {kind} | `{default}` | {when} | {item['doc']} |"
            )
        for secret in SECRETS:
            if secret.scope == scope:
                lines.append(
                    f"| `{scope}.{secret.name}` | secret (keyring) | not set | "
                    f"{WHEN_WORDS[SECRET_APPLIES.when]} | "
                    f"{secret.doc}; written through the API, never read back |"
                )
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(settings_markdown())
