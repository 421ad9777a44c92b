"""Call events: the record an operator keeps of a call (U8, C2, A5, J1, J2).

The manual's *Документ «Событие»*: made on answer (per the operator's settings)
with the U8 default values, opened in the window, then saved, edited or declined.
Declining marks the call uuid "unimportant" for good, so the history import (J1)
never loads it. An event with a future ``planned_at`` is a planned event of its
contact (M4, M6 "fill from planned").

The states are a table (architecture.md, rule 2); an action a state does not
allow is a :class:`EventStateError` the API answers with 409.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final, NamedTuple

from agent.core.errors import InvalidInput


class EventState(StrEnum):
    OPEN = "open"  # made on answer, shown in the window, not saved yet
    SAVED = "saved"
    DECLINED = "declined"  # the operator declined to record it: the call is unimportant


class EventAction(StrEnum):
    SAVE = "save"
    EDIT = "edit"
    DECLINE = "decline"


class EventSource(StrEnum):
    ANSWER = "answer"  # C2: made when a call was answered
    MANUAL = "manual"  # made by the operator in the window or the API
    IMPORT = "import"  # J1: a call no agent recorded
    ROBOT = "robot"  # J2: a subscriber answered the robot with a DTMF code


# (state, action) -> next state. A pair not here is refused.
TRANSITIONS: Final[dict[tuple[EventState, EventAction], EventState]] = {
    (EventState.OPEN, EventAction.SAVE): EventState.SAVED,
    (EventState.OPEN, EventAction.EDIT): EventState.OPEN,
    (EventState.OPEN, EventAction.DECLINE): EventState.DECLINED,
    (EventState.SAVED, EventAction.SAVE): EventState.SAVED,
    (EventState.SAVED, EventAction.EDIT): EventState.SAVED,
}


class EventStateError(InvalidInput):
    """An action the event's state does not allow (409 at the API)."""

    message_key = "event.bad_state"


_DONE: Final = {
    EventAction.SAVE: "saved",
    EventAction.EDIT: "edited",
    EventAction.DECLINE: "declined",
}


def next_state(state: EventState, action: EventAction) -> EventState:
    try:
        return TRANSITIONS[(state, action)]
    except KeyError:
        raise EventStateError(f"a {state} event cannot be {_DONE[action]}", field="state") from None


DEFAULT_KIND: Final = "call"
DEFAULT_IMPORTANCE: Final = "normal"
MAX_CALL_ID: Final = 40  # G5: the event's call id field holds up to 40 characters
MAX_NUMBER: Final = 20  # G5: and the subscriber number up to 20
MAX_NOTES: Final = 10_000
MAX_TEXT: Final = 200


@dataclass(frozen=True, slots=True)
class Event:
    """One event record (contracts.md §4 "event", plus what an operator needs)."""

    id: int
    call_uuid: str | None
    number: str | None
    contact_id: int | None
    operator_ext: str
    kind: str
    importance: str
    planned_at: datetime | None
    notes: str
    state: EventState
    source: EventSource
    created_at: datetime
    updated_at: datetime
    direction: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)
    done_at: datetime | None = None


class ImportedCallEvent(NamedTuple):
    """A saved event for a past call the history import loaded (J1): what differs from
    one such event to the next. The rest is the same for all: kind and importance by
    default, no plan, no notes, state ``saved``, source ``import``
    (EventsRepository.insert_imported_calls). A tuple, not an :class:`EventDraft`: a
    run makes 60k of them on the agent's loop (bench/jobs.py), ~0.4 µs each, not ~2.5.
    """

    call_uuid: str  # the journal's uuid (32 lower-case hex: the journal checked it)
    number: str | None  # E.164, or as the PBX gave it, within MAX_NUMBER
    contact_id: int | None
    operator_ext: str
    direction: str
    operator: str | None  # G3: the name the extension maps to (fields.operator)


@dataclass(frozen=True, slots=True)
class EventDraft:
    """An event not stored yet: what :func:`draft_on_answer` or a caller decided."""

    operator_ext: str
    call_uuid: str | None = None
    number: str | None = None
    contact_id: int | None = None
    direction: str | None = None
    kind: str = DEFAULT_KIND
    importance: str = DEFAULT_IMPORTANCE
    planned_at: datetime | None = None
    notes: str = ""
    fields: Mapping[str, Any] = field(default_factory=dict)
    state: EventState = EventState.OPEN
    source: EventSource = EventSource.MANUAL


@dataclass(frozen=True, slots=True)
class EventChanges:
    """What a save or an edit changes; None leaves a field as it is."""

    kind: str | None = None
    importance: str | None = None
    planned_at: datetime | None = None
    clear_planned: bool = False
    notes: str | None = None
    contact_id: int | None = None
    fields: Mapping[str, Any] | None = None
    done: bool | None = None


_RELATIVE = re.compile(r"^\+\s*(\d{1,4})\s*([mhdw])$")
_UNITS: Final = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def planned_from(value: Any, at: datetime) -> datetime | None:
    """A planned time from a setting or a form: ISO 8601 (naive is UTC), or relative
    to ``at`` as ``+30m``, ``+2h``, ``+1d``, ``+1w``; None/"" for none."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidInput("planned_at must be an ISO date-time or +N[m|h|d|w]", field="planned_at")
    relative = _RELATIVE.match(value.strip())
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        return at + timedelta(**{_UNITS[unit]: amount})
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise InvalidInput(
            f"planned_at {value[:40]!r} is not an ISO date-time or +N[m|h|d|w]",
            field="planned_at",
        ) from exc
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


# A fixed moment to read relative defaults against: only whether they read matters.
_CHECKED_AT: Final = datetime(2000, 1, 1, tzinfo=UTC)


def check_event_defaults(value: Any) -> str | None:
    """``operator.event_defaults`` (U8) as a settings check: the values the event made
    on answer takes must read, or the setting is refused when saved — rather than the
    value being dropped, unseen, at every answer (:func:`draft_on_answer`)."""
    if not isinstance(value, Mapping):
        return "must be an object: field → value"
    limits = {"kind": MAX_TEXT, "importance": MAX_TEXT, "notes": MAX_NOTES}
    for name, item in value.items():
        try:
            if name == "planned_at":
                planned_from(item, _CHECKED_AT)
            elif name in limits:
                text_field(item, name, limits[name])
        except InvalidInput as exc:
            return str(exc)
    return None


def text_field(value: Any, name: str, limit: int = MAX_TEXT) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be text", field=name)
    text = value.strip()
    if len(text) > limit:
        raise InvalidInput(f"{name} is longer than {limit} characters", field=name)
    return text


def draft_on_answer(
    defaults: Mapping[str, Any],
    *,
    call_uuid: str,
    number: str,
    contact_id: int | None,
    operator_ext: str,
    direction: str,
    at: datetime,
) -> EventDraft:
    """C2/U8: the event made when a call is answered, with the operator's default
    values (``event_defaults``). ``kind``, ``importance``, ``notes`` and
    ``planned_at`` (ISO or relative to the answer, e.g. ``+1d``) fill the
    columns; any other name is kept in ``fields``. A default that cannot be
    read is left out rather than losing the event."""
    kind, importance, notes = DEFAULT_KIND, DEFAULT_IMPORTANCE, ""
    planned: datetime | None = None
    extra: dict[str, Any] = {}
    for name, value in defaults.items():
        try:
            if name == "kind":
                kind = text_field(value, name) or DEFAULT_KIND
            elif name == "importance":
                importance = text_field(value, name) or DEFAULT_IMPORTANCE
            elif name == "notes":
                notes = text_field(value, name, MAX_NOTES)
            elif name == "planned_at":
                planned = planned_from(value, at)
            elif name not in _FIXED:
                extra[name] = value
        except InvalidInput:
            continue
    return EventDraft(
        operator_ext=operator_ext,
        call_uuid=call_uuid,
        number=number[:MAX_NUMBER],
        contact_id=contact_id,
        direction=direction,
        kind=kind,
        importance=importance,
        planned_at=planned,
        notes=notes,
        fields=extra,
        state=EventState.OPEN,
        source=EventSource.ANSWER,
    )


# Fields a default cannot set: they come from the call itself.
_FIXED: Final = frozenset(
    {"id", "call_uuid", "number", "contact_id", "operator_ext", "direction", "state", "source"}
)


def is_pending_planned(event: Event) -> bool:
    """A planned event still to do: it has a time, is not done and was not declined."""
    return (
        event.planned_at is not None
        and event.done_at is None
        and event.state is not EventState.DECLINED
    )


def apply_changes(event: Event, changes: EventChanges, action: EventAction, now: datetime) -> Event:
    """The event after a save, an edit or a decline (the state table decides whether
    it may). ``done`` marks a planned event done (or not done again)."""
    state = next_state(event.state, action)
    if changes.clear_planned:
        planned: datetime | None = None
    else:
        planned = changes.planned_at or event.planned_at
    done_at = event.done_at
    if changes.done is True and done_at is None:
        done_at = now
    elif changes.done is False:
        done_at = None
    fields = dict(event.fields)
    if changes.fields is not None:
        fields.update(changes.fields)
    return replace(
        event,
        state=state,
        kind=changes.kind or event.kind,
        importance=changes.importance or event.importance,
        planned_at=planned,
        notes=event.notes if changes.notes is None else changes.notes,
        contact_id=event.contact_id if changes.contact_id is None else changes.contact_id,
        fields=fields,
        done_at=done_at,
    )
