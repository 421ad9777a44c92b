"""The JSON the simulated PBX sends: users, live frames, active calls, history.

Field names and types follow phonet-api.md §2.1–§2.3 and §3.1 to the letter, quirks
included; where the sources are silent the choice is named here and in
docs/architecture/simulator.md.
"""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import dataclass
from typing import Any

from agent.simulator.model import LG_DIRECTION, Call, LgDirection, User, WireEvent

JsonDict = dict[str, Any]

# The company's external line (phonet-api.md §2.2 fixture); trunkName repeats it, as
# the active-calls fixture does.
TRUNK_NUM = "+380442246595"


@dataclass(frozen=True, slots=True)
class WireStyle:
    """The per-simulator choices that change the wire: domain, units, uuid form."""

    domain: str
    base_url: str
    seconds: bool = False  # live frames and active calls in epoch seconds (phonet-api.md §4.3)
    dashed_uuids: bool = False  # history uuids in the 36-character form (§2.3 fixture)

    def stamp(self, t: float | None) -> int | None:
        """A live or active-call timestamp: epoch ms, or seconds with ``--seconds``."""
        if t is None:
            return None
        return int(t) if self.seconds else int(t * 1000)

    def history_uuid(self, value: str) -> str:
        return str(uuidlib.UUID(hex=value)) if self.dashed_uuids else value


def new_uuid() -> str:
    """A call uuid: 32 lower-case hex characters (phonet-api.md §2.2, §4.5)."""
    return uuidlib.uuid4().hex


def user_record(user: User) -> JsonDict:
    """One item of ``GET /rest/users`` (phonet-api.md §2.1)."""
    return {"id": user.id, "displayName": user.display_name, "ext": user.ext, "email": user.email}


def _leg(user: User) -> JsonDict:
    return {"id": user.id, "ext": user.ext, "displayName": user.display_name}


def _history_leg(user: User) -> JsonDict:
    # type 1 = user (phonet-api.md §2.3, leg.type); only users take simulated calls.
    return {"id": user.id, "type": 1, "displayName": user.display_name, "ext": user.ext}


def _contact_id(number: str) -> int:
    """A stable CRM contact id for a named party (the PBX's Teler CRM would have one)."""
    return int("".join(c for c in number if c.isdigit())[-6:] or "0")


def _other_legs(call: Call, style: WireStyle, *, id_as_str: bool) -> list[JsonDict] | None:
    """``otherLegs``: null on internal calls (§3.1). The id is an int in live frames
    and a string in active calls, as the two fixtures show (§2.2). A party without a
    name has no CRM contact: id, name and url are null (the sources never show one)."""
    if call.leg2 is not None:
        return None
    contact_id: int | str | None = None
    url = None
    if call.name is not None:
        contact_id = _contact_id(call.number)
        url = f"{style.base_url}/features/crm/contacts/edit.jsp#/?id={contact_id}"
        if id_as_str:
            contact_id = str(contact_id)
    return [
        {
            "id": contact_id,
            "name": call.name,
            "num": call.number,
            "companyName": call.company,
            "url": url,
        }
    ]


def _trunk(call: Call) -> str | None:
    # Internal calls use no trunk: trunkNum/trunkName null (phonet-api.md §3.1, yii2 test).
    return None if call.leg2 is not None else TRUNK_NUM


def _call_fields(call: Call, style: WireStyle, *, id_as_str: bool) -> JsonDict:
    trunk = _trunk(call)
    return {
        "uuid": call.uuid,
        "parentUuid": None,
        "dialAt": style.stamp(call.dial_at),
        "bridgeAt": style.stamp(call.bridge_at),
        "lgDirection": int(LG_DIRECTION[call.kind]),
        "leg": _leg(call.leg),
        "leg2": _leg(call.leg2) if call.leg2 is not None else None,
        "otherLegs": _other_legs(call, style, id_as_str=id_as_str),
        "trunkNum": trunk,
        "trunkName": trunk,
    }


def live_frame(call: Call, event: WireEvent, style: WireStyle, now: float) -> JsonDict:
    """A live-stream message: the webhook shape of phonet-api.md §3.1 (§3.3)."""
    return {
        "event": event.value,
        "accountDomain": style.domain,
        **_call_fields(call, style, id_as_str=False),
        "serverTime": style.stamp(now),
    }


def active_record(call: Call, style: WireStyle) -> JsonDict:
    """One item of ``GET /rest/calls/active/v3`` (phonet-api.md §2.2)."""
    fields = _call_fields(call, style, id_as_str=True)
    return {
        "uuid": fields.pop("uuid"),
        "parentUuid": fields.pop("parentUuid"),
        "lastEvent": call.last_event.value,
        **fields,
    }


def pause_frame(user: User, on: bool, call_uuid: str, style: WireStyle, now: float) -> JsonDict:
    """The frame of a pause switch: ``call.bridge`` with lgDirection 32 or 64.

    phonet-api.md §2.9: pause rides a call.bridge event (yii2 reads it there). The
    rest of the frame is not documented: here it is the employee's leg with no other
    party and no trunk, dialled and bridged at once.
    """
    stamp = style.stamp(now)
    return {
        "event": WireEvent.BRIDGE.value,
        "accountDomain": style.domain,
        "uuid": call_uuid,
        "parentUuid": None,
        "dialAt": stamp,
        "bridgeAt": stamp,
        "lgDirection": int(LgDirection.PAUSE_ON if on else LgDirection.PAUSE_OFF),
        "leg": _leg(user),
        "leg2": None,
        "otherLegs": None,
        "trunkNum": None,
        "trunkName": None,
        "serverTime": stamp,
    }


def history_record(call: Call, style: WireStyle, seq: int) -> JsonDict:
    """The completed-call record written at hangup (phonet-api.md §2.3).

    Quirks, deterministic: the ``parentUuid`` key is left out of every odd-numbered
    record (``seq`` counts records from 0) and null on the others, as the fixture
    pair shows both; ``audioRecUrl`` ends in a space as the fixture does and is null
    for unanswered calls; ``transferHistory`` is null (no transfers are simulated).
    """
    assert call.end_at is not None and call.disposition is not None
    hid = style.history_uuid(call.uuid)
    answered = call.bridge_at is not None
    external = call.leg2 is None
    digits = TRUNK_NUM.lstrip("+")
    record: JsonDict = {}
    if seq % 2 == 0:
        record["parentUuid"] = None
    record.update(
        {
            "uuid": hid,
            "endAt": int(call.end_at * 1000),  # always ms (phonet-api.md §4.3)
            "lgDirection": int(LG_DIRECTION[call.kind]),
            "otherLegNum": call.number if external else None,
            # The number again when there is no name (phonet-api.md §4.4).
            "otherLegName": (call.name or call.number) if external else None,
            "leg": _history_leg(call.leg),
            "leg2": _history_leg(call.leg2) if call.leg2 is not None else None,
            "billSecs": call.talk_s(call.end_at),
            "duration": call.duration_s(),
            "disposition": call.disposition,
            "transferHistory": None,
            "audioRecUrl": (
                f"{style.base_url}/rest/public/calls/{hid}/audio " if answered else None
            ),
            # "o=<trunk digits>;" as the outgoing fixture shows; incoming calls get the
            # same opaque form (not documented), internal calls null (§2.3).
            "trunk": f"o={digits};" if external else None,
        }
    )
    return record
