"""Phonet JSON ⇄ core events: the only module that knows Phonet's wire names.

Pure: no I/O, no clock. Every quirk of ``docs/phonet-api.md`` is tolerated here so the
core sees one clean vocabulary (``agent/core/events.py``; architecture.md, rule 3).
Expected failures are values (:class:`FrameRejected`), never exceptions (rule 6).

Decisions where phonet-api.md is silent (also in ``docs/architecture/pbx-client.md``):

- An event name other than ``call.dial``/``call.bridge``/``call.hangup`` is rejected
  with a reason naming it (visible in the log and on the health page), except that a
  pause (lgDirection 32/64) is a pause whatever the event name (§2.9). A blank text
  frame is taken for a keepalive and yields no event.
- ``ext`` of a live event is the employee leg as sent; empty or null means the
  subscriber's own extension (the stream is per subscriber, §3.3). Whether the stream
  also carries other employees' calls is unknown, so the wire does not filter: a
  :class:`CallInfo` whose ``ext`` is not ours is the core's to ignore.
- An internal call seen from neither leg is described from ``leg`` (the caller).
- A call with no external number (a hidden caller, or ``otherLegs`` null) keeps
  ``number == ""`` rather than being dropped: the phone does ring.
- A frame without any usable time is rejected: the wire has no clock.
- History and active-call records with lgDirection 32/64 (pauses) are skipped
  silently: they are not calls, and not errors either.
- A history record becomes a journal row as it is, so it is checked here for what the
  journal cannot hold (a bad record must not fail the page it came in; J1, B4): the
  uuid must be 32 hex characters once dashes are removed (phonet-api.md §2.3, §8;
  contracts.md §3), ``duration``/``billSecs`` at most :data:`MAX_CALL_S`, the
  disposition a 32-bit number; NUL characters and lone surrogates (which JSON can
  carry, and neither database stores) are dropped from its text fields.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from agent.core.events import (
    CallAnswered,
    CallDialed,
    CallHungUp,
    CallInfo,
    Direction,
    HistoryRecord,
    PauseSwitched,
    PbxEvent,
    normalise_uuid,
)

EXCERPT_CHARS: Final = 120

# phonet-api.md §2.9: lgDirection. 32/64 are pauses, not calls.
_DIRECTIONS: Final = {1: Direction.INTERNAL, 2: Direction.OUT, 4: Direction.IN}
PAUSE_ON: Final = 32
PAUSE_OFF: Final = 64

_DIAL: Final = "call.dial"
_BRIDGE: Final = "call.bridge"
_HANGUP: Final = "call.hangup"
_ERROR: Final = "error"

# contracts.md §3: one call id, 32 lower-case hex once normalised (the journal's key).
_UUID32: Final = re.compile(r"[0-9a-f]{32}")
# No call lasts a month; a longer duration is garbage, and would not fit the journal's
# 32-bit columns (PostgreSQL ``integer``) or the dial time it is subtracted from.
MAX_CALL_S: Final = 31 * 24 * 3600
_INT32: Final = 2**31

# phonet-api.md §4.3: "value < 1e12 means seconds, otherwise milliseconds".
_MS_THRESHOLD: Final = 1e12
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

# Secrets that could ride in a frame or a body we quote back (apiKey, JSESSIONID…).
_SECRET_PATTERNS: Final = (
    re.compile(
        r"""(?ix)
        ( ["']? (?:api[_-]?key|apikey|password|passwd|token|secret|session(?:id)?|jsessionid)
          ["']? \s* [:=] \s* ["']? )
        ( [^"'&;,\s}]+ )
        """
    ),
)


@dataclass(frozen=True, slots=True)
class FrameRejected:
    """Why a frame or record was not understood; ``excerpt`` is ≤120 chars, secrets masked."""

    reason: str
    excerpt: str


@dataclass(frozen=True, slots=True)
class PbxUser:
    """One employee of ``/rest/users`` (phonet-api.md §2.1)."""

    id: int | None
    ext: str
    display_name: str
    email: str | None


# ------------------------------------------------------------------ helpers


def mask_secrets(text: str) -> str:
    """Replace the value of anything named like a secret (apiKey=…, "JSESSIONID": …)."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + "***", text)
    return text


def excerpt(raw: object) -> str:
    """A short, single-line, secret-free quote of ``raw`` for logs and health."""
    if isinstance(raw, bytes):
        text = raw.decode("utf-8", errors="replace")
    elif isinstance(raw, str):
        text = raw
    else:
        try:
            text = json.dumps(raw, ensure_ascii=False, default=str)
        except ValueError:  # a circular structure: never from JSON, but be safe
            text = repr(raw)
    text = mask_secrets(text)
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    if len(text) > EXCERPT_CHARS:
        text = text[: EXCERPT_CHARS - 1] + "…"
    return text


def _reject(reason: str, raw: object) -> FrameRejected:
    return FrameRejected(reason=reason, excerpt=excerpt(raw))


def epoch_to_datetime(value: int | float | str) -> datetime:
    """An epoch timestamp in seconds or milliseconds as an aware UTC datetime.

    phonet-api.md §4.3: the fixtures show seconds, production sends milliseconds; a
    value below 1e12 is seconds. Raises ValueError for anything that is not a number.
    """
    if isinstance(value, bool):  # bool is an int subclass: never a time
        raise ValueError("a boolean is not a timestamp")
    if isinstance(value, str):
        value = float(value.strip())  # ValueError for garbage
    if not isinstance(value, int | float):
        raise ValueError(f"not a timestamp: {type(value).__name__}")
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("not a finite timestamp")
    if value < 0:
        raise ValueError("a negative timestamp")
    millis = value if value >= _MS_THRESHOLD else value * 1000
    try:
        return _EPOCH + timedelta(milliseconds=millis)
    except OverflowError as exc:
        raise ValueError("timestamp out of range") from exc


def _time(value: object) -> datetime | None:
    """A time field: None (missing, null, 0, unreadable) or an aware datetime."""
    if value is None or value == 0 or value == "":
        return None
    if not isinstance(value, int | float | str) or isinstance(value, bool):
        return None
    try:
        return epoch_to_datetime(value)
    except ValueError:
        return None


def _text(value: object) -> str | None:
    """A tolerant string field: stripped (audioRecUrl has a trailing space, §2.3); '' → None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


def _int(value: object) -> int | None:
    """An int that may arrive as a string (ids: int in webhooks, string in active calls)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _leg_ext(leg: object) -> str | None:
    """The ``ext`` of a leg object; null, empty or missing → None (wearesho 285fb83)."""
    if not isinstance(leg, Mapping):
        return None
    return _text(leg.get("ext"))


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _name(name: object, number: str | None) -> str | None:
    """A contact name; the number repeated as the name is no name (phonet-api.md §4.4)."""
    text = _text(name)
    if text is None:
        return None
    if number and (text == number or (_digits(text) == _digits(number) and _is_phone(text))):
        return None
    return text


def _is_phone(text: str) -> bool:
    return all(ch.isdigit() or ch in "+-() " for ch in text)


def _uuid(value: object) -> str | None:
    text = _text(value)
    return normalise_uuid(text) if text else None


def _direction(obj: Mapping[str, object]) -> int | None:
    return _int(obj.get("lgDirection"))


# --------------------------------------------------------------- live calls


def _call_info(obj: Mapping[str, object], own_ext: str) -> CallInfo | str:
    """The :class:`CallInfo` of a live frame or an active-call record, or why not."""
    raw_uuid = _text(obj.get("uuid"))
    if raw_uuid is None:
        return "no uuid"
    uuid = normalise_uuid(raw_uuid)
    if not _UUID32.fullmatch(uuid):
        # The journal keys calls by it: refused here, alone, rather than failing the
        # journal's write batch with the other calls in it (never lose a call).
        return f"uuid {raw_uuid[:40]!r} is not 32 hex characters (dashed or not)"
    lg = _direction(obj)
    direction = _DIRECTIONS.get(lg) if lg is not None else None
    if direction is None:
        return f"unknown lgDirection {obj.get('lgDirection')!r}"
    dial_at = _time(obj.get("dialAt"))
    answer_at = _time(obj.get("bridgeAt"))
    # dialAt is always set in the sources; if not, the earliest other time stands in.
    start = dial_at or answer_at or _time(obj.get("serverTime"))
    if start is None:
        return "no dialAt, bridgeAt or serverTime"
    leg_ext = _leg_ext(obj.get("leg"))
    if direction is Direction.INTERNAL:
        ext, number, outgoing = _internal_parties(leg_ext, _leg_ext(obj.get("leg2")), own_ext)
        name = company = None
    else:
        ext = leg_ext or own_ext
        other = _first_other_leg(obj.get("otherLegs"))
        # NUL and lone surrogates: PostgreSQL and the drivers refuse them (as history).
        number = _clean(_text(other.get("num"))) or ""
        name = _clean(_name(other.get("name"), number))
        company = _clean(_text(other.get("companyName")))
        outgoing = direction is Direction.OUT
    return CallInfo(
        uuid=uuid,
        direction=direction,
        ext=ext,
        number=number,
        outgoing=outgoing,
        dial_at=start,
        answer_at=answer_at,
        name=name,
        company=company,
        parent_uuid=_parent_uuid(obj.get("parentUuid")),  # the key may be missing (§2.3)
        trunk=_clean(_text(obj.get("trunkNum")) or _text(obj.get("trunkName"))),  # null (§3.1)
    )


def _parent_uuid(value: object) -> str | None:
    """A parent uuid that is not one is dropped: it only links transfers."""
    uuid = _uuid(value)
    return uuid if uuid is not None and _UUID32.fullmatch(uuid) else None


def _internal_parties(leg: str | None, leg2: str | None, own_ext: str) -> tuple[str, str, bool]:
    """(ext, number, outgoing) of an internal call seen from ``own_ext`` (§2.2, §3.1).

    ``leg`` is the calling employee and ``leg2`` the called one.
    """
    if leg2 is not None and leg2 == own_ext and leg != own_ext:
        return own_ext, leg or "", False
    return leg or own_ext, leg2 or "", True


def _first_other_leg(value: object) -> Mapping[str, object]:
    if isinstance(value, list) and value and isinstance(value[0], Mapping):
        return value[0]
    return {}


def _event_time(name: str, obj: Mapping[str, object], call: CallInfo) -> datetime:
    """When the event happened: dialAt, bridgeAt, or the hang-up time (§3.1)."""
    if name == _DIAL:
        return call.dial_at
    if name == _BRIDGE:
        return call.answer_at or _time(obj.get("serverTime")) or call.dial_at
    # Hang-up: a Django task reads ``hangupAt`` and falls back to serverTime when it is 0
    # [I]; yii2 uses serverTime. Without either, the latest time we know.
    known = [t for t in (call.dial_at, call.answer_at) if t is not None]
    return _time(obj.get("hangupAt")) or _time(obj.get("serverTime")) or max(known)


_EVENT_TYPES: Final[dict[str, Callable[[CallInfo, datetime], PbxEvent]]] = {
    _DIAL: lambda call, at: CallDialed(call=call, at=at),
    _BRIDGE: lambda call, at: CallAnswered(call=call, at=at),
    _HANGUP: lambda call, at: CallHungUp(call=call, at=at),
}


def _pause(obj: Mapping[str, object], lg: int, own_ext: str) -> PauseSwitched | str:
    at = (
        _time(obj.get("serverTime"))
        or _time(obj.get("bridgeAt"))
        or _time(obj.get("dialAt"))
        or _time(obj.get("hangupAt"))
    )
    if at is None:
        return "a pause event without any time"
    return PauseSwitched(ext=_leg_ext(obj.get("leg")) or own_ext, on=lg == PAUSE_ON, at=at)


def parse_live_frame(raw: str | bytes, *, own_ext: str) -> list[PbxEvent] | FrameRejected:
    """One text frame of the live stream (phonet-api.md §3.3) as core events.

    Duplicates are not removed here: the core de-duplicates on (uuid, event) (§3.1).
    """
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return _reject("not UTF-8 text", raw)
    else:
        text = raw
    if not text.strip():
        return []  # a blank frame: a keepalive at most (the keepalive is undocumented)
    try:
        obj = json.loads(text)
    except ValueError:
        return _reject("not JSON", text)
    if not isinstance(obj, dict):
        return _reject(f"a JSON {type(obj).__name__}, not an object", text)
    name = obj.get("event")
    if name == _ERROR:  # §2.9: one WS client logs these as "Phonet reported an error" [I]
        return _reject("the PBX sent an error frame", text)
    lg = _direction(obj)
    if lg in (PAUSE_ON, PAUSE_OFF):  # §2.9: pauses ride dial/bridge events, any name taken
        pause = _pause(obj, lg, own_ext)
        return _reject(pause, text) if isinstance(pause, str) else [pause]
    if not isinstance(name, str) or not name:
        return _reject("no event name", text)
    make = _EVENT_TYPES.get(name)
    if make is None:
        return _reject(f"unknown event {name[:40]!r}", text)
    call = _call_info(obj, own_ext)
    if isinstance(call, str):
        return _reject(call, text)
    return [make(call, _event_time(name, obj, call))]


def parse_active_calls(
    payload: object, *, own_ext: str
) -> tuple[list[CallInfo], list[FrameRejected]]:
    """``/rest/calls/active/v3`` (phonet-api.md §2.2); bad records skipped and reported."""
    if not isinstance(payload, list):
        return [], [_reject("active calls are not a JSON array", payload)]
    calls: list[CallInfo] = []
    rejected: list[FrameRejected] = []
    for item in payload:
        if not isinstance(item, dict):
            rejected.append(_reject("an active call that is not an object", item))
            continue
        if _direction(item) in (PAUSE_ON, PAUSE_OFF):
            continue
        call = _call_info(item, own_ext)
        if isinstance(call, str):
            rejected.append(_reject(call, item))
        else:
            calls.append(call)
    return calls, rejected


# ------------------------------------------------------------------ history


def _history_record(obj: Mapping[str, object]) -> HistoryRecord | str | None:
    lg = _direction(obj)
    if lg in (PAUSE_ON, PAUSE_OFF):
        return None
    raw_uuid = _text(obj.get("uuid"))
    if raw_uuid is None:
        return "no uuid"
    uuid = normalise_uuid(raw_uuid)
    if not _UUID32.fullmatch(uuid):
        return f"uuid {raw_uuid[:40]!r} is not 32 hex characters (dashed or not)"
    direction = _DIRECTIONS.get(lg) if lg is not None else None
    if direction is None:
        return f"unknown lgDirection {obj.get('lgDirection')!r}"
    end_at = _time(obj.get("endAt"))
    if end_at is None:
        return "no endAt" if obj.get("endAt") in (None, "", 0) else "endAt is not a time"
    duration = _int(obj.get("duration"))
    talk = _int(obj.get("billSecs"))
    duration = 0 if obj.get("duration") is None else duration
    talk = 0 if obj.get("billSecs") is None else talk  # null on unanswered calls, tolerated
    if duration is None or talk is None or duration < 0 or talk < 0:
        return "duration or billSecs is not a whole number of seconds"
    if duration > MAX_CALL_S or talk > MAX_CALL_S:
        return f"duration or billSecs is longer than {MAX_CALL_S} s"
    disposition = _int(obj.get("disposition"))
    if disposition is None:
        return "no disposition"
    if not -_INT32 <= disposition < _INT32:
        return "disposition is out of range"
    number = _text(obj.get("otherLegNum"))
    texts: tuple[str | None, ...] = (
        _leg_ext(obj.get("leg")),
        _leg_ext(obj.get("leg2")),
        number,
        _name(obj.get("otherLegName"), number),
        _uuid(obj.get("parentUuid")),
        _text(obj.get("audioRecUrl")),
        _text(obj.get("trunk")),
        _text(obj.get("transferHistory")),
    )
    if not _storable(texts):  # rare: checked at once, cleaned one by one
        texts = tuple(_clean(text) for text in texts)
    ext, ext2, number, name, parent_uuid, audio_url, trunk, transfer_history = texts
    return HistoryRecord(
        uuid=uuid,
        direction=direction,
        end_at=end_at,
        duration_s=duration,
        talk_s=talk,
        disposition=disposition,
        ext=ext,
        ext2=ext2,
        number=number,
        name=name,
        parent_uuid=parent_uuid,
        audio_url=audio_url,
        trunk=trunk,
        transfer_history=transfer_history,
    )


def _storable(texts: tuple[str | None, ...]) -> bool:
    """Whether both databases store these texts as they are: no NUL (PostgreSQL refuses
    it) and no lone surrogate (it has no UTF-8, and both drivers refuse it)."""
    probe = "".join(text for text in texts if text)
    if "\x00" in probe:
        return False
    if probe.isascii():
        return True
    try:
        probe.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _clean(text: str | None) -> str | None:
    """``text`` without NUL characters, and with ``?`` for lone surrogates."""
    if text is None:
        return None
    text = text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "").strip()
    return text or None


def parse_history(payload: object) -> tuple[list[HistoryRecord], list[FrameRejected]]:
    """A page of ``/rest/calls/*.api`` (phonet-api.md §2.3); bad records skipped and reported."""
    if not isinstance(payload, list):
        return [], [_reject("history is not a JSON array", payload)]
    records: list[HistoryRecord] = []
    rejected: list[FrameRejected] = []
    for item in payload:
        if not isinstance(item, dict):
            rejected.append(_reject("a history record that is not an object", item))
            continue
        record = _history_record(item)
        if isinstance(record, str):
            rejected.append(_reject(record, item))
        elif record is not None:
            records.append(record)
    return records, rejected


# -------------------------------------------------------------- users, calls


def parse_users(payload: object) -> list[PbxUser]:
    """``/rest/users`` (phonet-api.md §2.1); entries without an extension are skipped."""
    if not isinstance(payload, list):
        return []
    users: list[PbxUser] = []
    for item in payload:
        if not isinstance(item, dict):
            continue
        ext = _text(item.get("ext"))
        if ext is None:
            continue
        users.append(
            PbxUser(
                id=_int(item.get("id")),
                ext=ext,
                display_name=_text(item.get("displayName")) or "",
                email=_text(item.get("email")),
            )
        )
    return users


def make_call_body(ext: str, number: str) -> dict[str, str]:
    """The body of ``POST /rest/user/makeCall`` (phonet-api.md §2.4).

    The number goes as given (E.164 from the core); what the server accepts is unknown.
    """
    return {"legExt": ext.strip(), "otherLegNum": number.strip()}


def make_call_uuid(payload: object) -> str | None:
    """The normalised uuid of makeCall's answer ``{"uuid": …}``, or None."""
    if not isinstance(payload, dict):
        return None
    return _uuid(payload.get("uuid"))
