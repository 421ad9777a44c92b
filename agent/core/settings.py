"""Typed, frozen settings, checked at the edge (architecture.md, rule 8).

Two scopes (features.md): team-wide (G1–G6) and per operator (U1–U10). They live in
the database as JSON; this module turns such JSON into frozen values and says, per
field, what is wrong (``FieldError`` values carry a message key for the window).
Secrets are not settings: they live in the keyring (agent/secrets.py); the settings
only say which secret a field refers to.

To add a setting: add a field with a default and, where needed, a ``check`` in its
metadata. ``docs/settings.md`` lists them all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

import phonenumbers

from agent.core.call_events import check_event_defaults
from agent.core.contact_stats import check_thresholds
from agent.core.contacts import check_search_fields
from agent.core.hotkeys import hotkey_problem
from agent.core.schedule import schedule_problem


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message_key: str
    message: str


Check = Callable[[Any], str | None]  # returns an error message, or None when fine


def _setting(default: Any, check: Check | None = None, doc: str = "") -> Any:
    meta = {"check": check, "doc": doc}
    if isinstance(default, list | dict):
        return field(default_factory=lambda: _copy(default), metadata=meta)
    return field(default=default, metadata=meta)


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _range(lo: float, hi: float) -> Check:
    def check(value: Any) -> str | None:
        return None if lo <= value <= hi else f"must be between {lo:g} and {hi:g}"

    return check


_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_DND = re.compile(r"^[0-9*#]{1,16}$")


def _calling_window(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        return "must be an object {start, end, days} or null"
    start, end, days = value.get("start"), value.get("end"), value.get("days")
    if not (isinstance(start, str) and _HHMM.match(start)):
        return "start must be HH:MM"
    if not (isinstance(end, str) and _HHMM.match(end)):
        return "end must be HH:MM"
    if start >= end:
        return "start must be before end"
    if not (isinstance(days, list) and all(isinstance(d, int) and 1 <= d <= 7 for d in days)):
        return "days must be a list of ISO weekdays 1..7"
    return None


def _retry(value: Any) -> str | None:
    if not isinstance(value, dict):
        return "must be an object"
    for kind in ("no_answer", "busy", "failed"):
        rule = value.get(kind)
        if not isinstance(rule, dict):
            return f"{kind} is missing"
        postpone, retries = rule.get("postpone_min"), rule.get("retries")
        # A rule is replaced whole (a PUT sends both values): one left out is missing,
        # not out of range. true/false are not numbers here, though Python's bool is.
        if postpone is None:
            return f"{kind}.postpone_min is missing"
        if isinstance(postpone, bool) or not (
            isinstance(postpone, int | float) and 0 <= postpone <= 7 * 24 * 60
        ):
            return f"{kind}.postpone_min must be 0..10080"
        if retries is None:
            return f"{kind}.retries is missing"
        if isinstance(retries, bool) or not (isinstance(retries, int) and 0 <= retries <= 100):
            return f"{kind}.retries must be 0..100"
    return None


def _dnd_code(value: Any) -> str | None:
    return None if value == "" or _DND.match(value) else "digits, * and # only"


def _time_zone(value: Any) -> str | None:
    # The shape only: zoneinfo reads files, so whether the zone exists is checked by
    # the adapter that saves settings (agent/api/routes_settings.py, ADAPTER_CHECKS).
    return None if re.match(r"^[A-Za-z_]+(/[A-Za-z0-9_+\-]+)*$", value) else "not a time zone"


def _region(value: Any) -> str | None:
    # A region phonenumbers does not know makes every national number invalid
    # (/api/dial would refuse them all), so it is refused here.
    if value in phonenumbers.SUPPORTED_REGIONS:
        return None
    return "a two-letter country code in capitals that phone numbers know, e.g. UA"


def _names_by_extension(value: Any) -> str | None:
    for ext, name in value.items():
        if not isinstance(ext, str) or not ext.strip():
            return "an extension is empty or not text"
        if not isinstance(name, str):
            return f"the name of extension {ext} must be text"
    return None


def _language(value: Any) -> str | None:
    return None if value in ("", "en", "uk", "ru") else "one of en, uk, ru (empty: the OS's)"


# features.md, "Defaults"
DEFAULT_RETRY = {
    "no_answer": {"postpone_min": 30, "retries": 3},
    "busy": {"postpone_min": 10, "retries": 5},
    "failed": {"postpone_min": 15, "retries": 2},
}
DEFAULT_CALLING_WINDOW = {"start": "09:00", "end": "20:00", "days": [1, 2, 3, 4, 5, 6]}


@dataclass(frozen=True, slots=True)
class TeamSettings:
    """Team-wide settings (manual §1.1, G1–G6)."""

    domain: str = _setting("", doc="G1 Phonet domain")
    history_import: bool = _setting(False, doc="G2 history import job on/off")
    history_schedule: str = _setting(
        "every 15 min 08:00-21:00", schedule_problem, doc="G2 schedule (docs/schedules.md)"
    )
    extension_users: dict[str, str] = _setting(
        {}, _names_by_extension, doc="G3 extension -> operator name"
    )
    completed_talk_s: int = _setting(10, _range(0, 3600), doc="G4 talk s a call must exceed")
    event_call_id_field: str = _setting("call_uuid", doc="G5 field holding the call id")
    event_number_field: str = _setting("number", doc="G5 field holding the number")
    robot_import: bool = _setting(False, doc="G6 robot job on/off")
    robot_schedule: str = _setting(
        "every 30 min 08:00-21:00", schedule_problem, doc="G6 schedule (docs/schedules.md)"
    )
    robot_server: str = _setting("", doc="G6 MS SQL server")
    robot_database: str = _setting("", doc="G6 database")
    robot_user: str = _setting("", doc="G6 user (the password is in the keyring)")
    robot_query: str = _setting("", doc="G6 query (docs/robot-import.md)")
    robot_dtmf: dict[str, str] = _setting({}, doc="G6 DTMF code -> importance")
    robot_identity: str = _setting("robot", doc="G6 operator identity of robot events")
    calling_window: dict[str, Any] | None = _setting(
        DEFAULT_CALLING_WINDOW, _calling_window, doc="B3 calling hours, contact's local time"
    )
    missed_claim_min: int = _setting(
        60, _range(1, 24 * 60), doc='B10 a call-back claim ("I am calling back") lasts N min'
    )
    missed_days: int = _setting(
        7, _range(1, 90), doc="M7, B11 missed calls looked back over (days)"
    )
    time_zone: str = _setting("Europe/Kyiv", _time_zone, doc="team time zone")
    default_region: str = _setting("UA", _region, doc="numbers without a country code")
    abc_thresholds: list[int] = _setting(
        [80, 95], check_thresholds, doc="M6 ABC classes: cumulative revenue % of A, of A+B"
    )
    outcome_wait_s: int = _setting(15, _range(1, 600), doc="B2 wait for the PBX disposition")
    history_lookback_days: int = _setting(7, _range(1, 365), doc="J1 first run look-back")
    job_lease_s: float = _setting(
        60.0, _range(0.2, 3600), doc="B5 a job's lease; another agent takes over after it"
    )
    heartbeat_s: float = _setting(15.0, _range(0.05, 3600), doc="B5 presence heartbeat")
    presence_stale_beats: int = _setting(3, _range(1, 100), doc="B5 missed beats: offline")


@dataclass(frozen=True, slots=True)
class OperatorSettings:
    """Per-operator settings (manual §1.2, U1–U10), keyed by domain + extension."""

    login: str = _setting("", doc="U1 the operator's e-mail in Phonet")
    auto_connect: bool = _setting(True, doc="U3 connect at start")
    reconnect_s: float = _setting(10.0, _range(0.01, 3600), doc="U3 reconnect after N s")
    reconnect_max_s: float = _setting(60.0, _range(0.01, 3600), doc="U3 backoff cap")
    dnd_code: str = _setting("", _dnd_code, doc="U4 DND combination")
    dial_pause_s: float = _setting(10.0, _range(0, 3600), doc="U5 pause between auto-dial calls")
    busy_timeout_s: float = _setting(
        0.0, _range(0, 600), doc="U5 hang up an auto-dial call unanswered after N s; 0: never"
    )
    retry: dict[str, Any] = _setting(DEFAULT_RETRY, _retry, doc="U6 postpone and retries")
    on_complete: Literal["done", "remove"] = _setting("done", doc="U6 completed contact")
    on_exhausted: Literal["park", "remove"] = _setting(
        "park", doc="U6 past the retry limit: keep the entry (exhausted) or remove it"
    )
    smart_mode: bool = _setting(True, doc="U6a/A4 smart ordering")
    sort_field: str = _setting("", doc="U6 extra sort field (contact attribute)")
    sort_descending: bool = _setting(False, doc="U6 extra sort direction")
    search_fields: list[list[str]] = _setting(
        [["phone"]], check_search_fields, doc="U7 number fields; each list concatenated"
    )
    create_event_on_answer: bool = _setting(False, doc="U8 create an event on answer")
    open_contact_on_answer: bool = _setting(False, doc="U8 open the contact card")
    event_defaults: dict[str, Any] = _setting(
        {}, check_event_defaults, doc="U8 default field values"
    )
    stats_sales: Literal["none", "chart", "report"] = _setting("chart", doc="U9")
    stats_events: Literal["none", "chart", "report"] = _setting("chart", doc="U9")
    stats_last_events: Literal["none", "list", "table"] = _setting("list", doc="U9")
    language: str = _setting("", _language, doc="B7 en/uk/ru; empty: the OS locale")
    hotkey: str = _setting(
        "<ctrl>+<alt>+d", hotkey_problem, doc="B1 dial the selected text; empty: none"
    )
    autostart: bool = _setting(False, doc="B1 start at logon")
    dnd_when_locked: bool = _setting(False, doc="B12 DND while the session is locked")
    popup_seconds: int = _setting(8, _range(0, 600), doc="popup timeout; 0 keeps it")


S = TypeVar("S", TeamSettings, OperatorSettings)


def parse_settings(cls: type[S], data: Mapping[str, Any]) -> tuple[S, list[FieldError]]:
    """Settings from JSON: unknown keys are ignored, bad values keep their default.

    Returns the settings and one error per rejected field, so a form can show each
    message beside its field and nothing already stored is lost.
    """
    values: dict[str, Any] = {}
    errors: list[FieldError] = []
    hints = get_type_hints(cls)
    for f in fields(cls):
        if f.name not in data:
            continue
        raw = data[f.name]
        value, problem = _coerce(raw, hints[f.name])
        check: Check | None = f.metadata.get("check")
        if problem is None and check is not None:
            problem = check(value)
        if problem is None:
            values[f.name] = value
        else:
            errors.append(FieldError(f.name, f"settings.invalid.{f.name}", problem))
    return replace(cls(), **values), errors


def settings_to_dict(settings: TeamSettings | OperatorSettings) -> dict[str, Any]:
    return {f.name: _copy(getattr(settings, f.name)) for f in fields(settings)}


def defaults_of(cls: type[S]) -> dict[str, Any]:
    return settings_to_dict(cls())


def _coerce(raw: Any, hint: Any) -> tuple[Any, str | None]:
    """JSON value -> the field's type, or a problem. Kept small on purpose."""
    origin = get_origin(hint)
    args = get_args(hint)
    if origin is Literal:
        return (raw, None) if raw in args else (raw, "one of " + ", ".join(map(str, args)))
    if type(None) in args:  # X | None
        if raw is None:
            return None, None
        hint = next(a for a in args if a is not type(None))
        origin = get_origin(hint)
    if hint is bool:
        return (raw, None) if isinstance(raw, bool) else (raw, "must be true or false")
    if hint is int:
        ok = isinstance(raw, int) and not isinstance(raw, bool)
        return (raw, None) if ok else (raw, "must be a whole number")
    if hint is float:
        ok = isinstance(raw, int | float) and not isinstance(raw, bool)
        return (float(raw), None) if ok else (raw, "must be a number")
    if hint is str:
        return (raw.strip(), None) if isinstance(raw, str) else (raw, "must be text")
    if origin is dict or hint is dict:
        return (raw, None) if isinstance(raw, dict) else (raw, "must be an object")
    if origin is list or hint is list:
        return (raw, None) if isinstance(raw, list) else (raw, "must be a list")
    return raw, None
