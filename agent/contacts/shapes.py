"""The JSON shapes of contacts and events (contracts.md §4), both ways.

Reading a body checks every field and raises :class:`InvalidInput` naming the
field (``phones[1].number``), so the window can show the message beside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from agent.core.call_events import (
    MAX_NOTES,
    Event,
    EventChanges,
    EventDraft,
    EventSource,
    EventState,
    planned_from,
    text_field,
)
from agent.core.contacts import MAX_PHONES, Contact, Phone, normalise_phone
from agent.core.errors import InvalidInput
from agent.core.events import normalise_uuid

MAX_NAME: Final = 200
MAX_ATTRIBUTES: Final = 100
MAX_ATTRIBUTE_TEXT: Final = 1000


def iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


# ------------------------------------------------------------------ contacts


def phone_json(phone: Phone) -> dict[str, Any]:
    return {"number": phone.number, "kind": phone.kind, "person": phone.person}


def contact_json(contact: Contact, abc: str | None = None) -> dict[str, Any]:
    return {
        "id": contact.id,
        "name": contact.name,
        "company": contact.company,
        "phones": [phone_json(p) for p in contact.phones],
        "attributes": dict(contact.attributes),
        "responsible_ext": contact.responsible_ext,
        "last_contact_at": iso(contact.last_contact_at),
        "created_at": iso(contact.created_at),
        "updated_at": iso(contact.updated_at),
        "deleted": contact.deleted_at is not None,
        "merged_into": contact.merged_into,
        "abc": abc,
    }


@dataclass(frozen=True, slots=True)
class ContactInput:
    """The fields a body gave (None: not given)."""

    name: str | None = None
    company: str | None = None
    phones: tuple[Phone, ...] | None = None
    attributes: dict[str, Any] | None = None
    responsible_ext: str | None = None
    given: frozenset[str] = frozenset()

    def applied_to(self, contact: Contact) -> Contact:
        """``contact`` with the given fields replaced (PUT: what is absent is kept)."""
        values = {name: getattr(self, name) for name in self.given}
        merged = Contact(
            id=contact.id,
            name=values.get("name", contact.name) or contact.name,
            company=values.get("company", contact.company),
            phones=values.get("phones", contact.phones),
            attributes=values.get("attributes", contact.attributes),
            responsible_ext=values.get("responsible_ext", contact.responsible_ext),
            last_contact_at=contact.last_contact_at,
            created_at=contact.created_at,
            updated_at=contact.updated_at,
        )
        return merged

    def new_contact(self) -> Contact:
        phones = self.phones or ()
        name = self.name or self.company or (phones[0].number if phones else "")
        if not name:
            raise InvalidInput("a contact needs a name, a company or a phone", field="name")
        return Contact(
            id=None,
            name=name,
            company=self.company,
            phones=phones,
            attributes=self.attributes or {},
            responsible_ext=self.responsible_ext,
        )


def _optional_text(body: Mapping[str, Any], name: str, limit: int = MAX_NAME) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    return text_field(value, name, limit) or None


def parse_phones(value: Any, region: str) -> tuple[Phone, ...]:
    if not isinstance(value, list):
        raise InvalidInput("phones must be a list of {number, kind, person}", field="phones")
    if len(value) > MAX_PHONES:
        raise InvalidInput(f"at most {MAX_PHONES} phones", field="phones")
    phones: list[Phone] = []
    seen: set[str] = set()
    for index, item in enumerate(value):
        where = f"phones[{index}]"
        if isinstance(item, str):
            item = {"number": item}
        if not isinstance(item, Mapping):
            raise InvalidInput(f"{where} must be an object {{number, kind, person}}", field=where)
        raw = item.get("number")
        if not isinstance(raw, str) or not raw.strip():
            raise InvalidInput(f"{where}.number is required", field=f"{where}.number")
        number = normalise_phone(raw, region)
        if number is None:
            raise InvalidInput(
                f"{where}.number: not a phone number: {raw.strip()[:40]!r}",
                field=f"{where}.number",
                message_key="number.invalid",
            )
        if number in seen:
            continue
        seen.add(number)
        phones.append(
            Phone(
                number,
                _optional_text(item, "kind", 40),
                _optional_text(item, "person", MAX_NAME),
            )
        )
    return tuple(phones)


def parse_attributes(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput("attributes must be an object", field="attributes")
    if len(value) > MAX_ATTRIBUTES:
        raise InvalidInput(f"at most {MAX_ATTRIBUTES} attributes", field="attributes")
    out: dict[str, Any] = {}
    for key, item in value.items():
        where = f"attributes.{key}"
        if not isinstance(key, str) or not key.strip() or len(key) > 100:
            raise InvalidInput("attribute names are text of 1..100 characters", field=where)
        if item is not None and not isinstance(item, str | int | float | bool):
            raise InvalidInput(f"{where} must be text, a number, true/false or null", field=where)
        if isinstance(item, str) and len(item) > MAX_ATTRIBUTE_TEXT:
            raise InvalidInput(f"{where} is longer than {MAX_ATTRIBUTE_TEXT}", field=where)
        out[key.strip()] = item
    return out


_CONTACT_FIELDS: Final = ("name", "company", "phones", "attributes", "responsible_ext")


def parse_contact(body: Any, region: str) -> ContactInput:
    """A contact body (POST or PUT); unknown keys (``id``, ``abc``…) are ignored."""
    if not isinstance(body, Mapping):
        raise InvalidInput("the body must be a JSON object")
    given = frozenset(name for name in _CONTACT_FIELDS if name in body)
    phones = parse_phones(body["phones"], region) if body.get("phones") is not None else ()
    attributes = parse_attributes(body["attributes"]) if body.get("attributes") is not None else {}
    return ContactInput(
        name=_optional_text(body, "name"),
        company=_optional_text(body, "company"),
        phones=phones,
        attributes=attributes,
        responsible_ext=_optional_text(body, "responsible_ext", 20),
        given=given,
    )


# ------------------------------------------------------------------ events


def event_json(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "call_uuid": event.call_uuid,
        "number": event.number,
        "contact_id": event.contact_id,
        "operator_ext": event.operator_ext,
        "direction": event.direction,
        "kind": event.kind,
        "importance": event.importance,
        "planned_at": iso(event.planned_at),
        "notes": event.notes,
        "state": str(event.state),
        "source": str(event.source),
        "fields": dict(event.fields),
        "done": event.done_at is not None,
        "done_at": iso(event.done_at),
        "created_at": iso(event.created_at),
        "updated_at": iso(event.updated_at),
    }


def _int_or_none(body: Mapping[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{name} must be a whole number", field=name)
    return value


def parse_event_changes(body: Any, at: datetime) -> EventChanges:
    """What a save or an edit changes (an empty body changes nothing)."""
    if not isinstance(body, Mapping):
        raise InvalidInput("the body must be a JSON object")
    fields = body.get("fields")
    if fields is not None and not isinstance(fields, Mapping):
        raise InvalidInput("fields must be an object", field="fields")
    done = body.get("done")
    if done is not None and not isinstance(done, bool):
        raise InvalidInput("done must be true or false", field="done")
    notes = body.get("notes")
    return EventChanges(
        kind=_optional_text(body, "kind"),
        importance=_optional_text(body, "importance"),
        planned_at=planned_from(body.get("planned_at"), at),
        clear_planned="planned_at" in body and body["planned_at"] in (None, ""),
        notes=None if notes is None else text_field(notes, "notes", MAX_NOTES),
        contact_id=_int_or_none(body, "contact_id"),
        fields=None if fields is None else parse_attributes(fields),
        done=done,
    )


def parse_event_draft(body: Any, operator_ext: str, at: datetime) -> EventDraft:
    """``POST /api/events``: an event made by hand (a planned call, a note)."""
    if not isinstance(body, Mapping):
        raise InvalidInput("the body must be a JSON object")
    changes = parse_event_changes(body, at)
    call_uuid = _optional_text(body, "call_uuid", 40)
    number = _optional_text(body, "number", 20)
    state = body.get("state", "saved")
    if state not in ("open", "saved"):
        raise InvalidInput("state must be open or saved", field="state")
    direction = body.get("direction")
    if direction not in (None, "in", "out", "internal"):
        raise InvalidInput("direction must be in, out or internal", field="direction")
    return EventDraft(
        operator_ext=_optional_text(body, "operator_ext", 20) or operator_ext,
        call_uuid=normalise_uuid(call_uuid) if call_uuid else None,
        number=number,
        contact_id=changes.contact_id,
        direction=direction,
        kind=changes.kind or "call",
        importance=changes.importance or "normal",
        planned_at=changes.planned_at,
        notes=changes.notes or "",
        fields=changes.fields or {},
        state=EventState(state),
        source=EventSource.MANUAL,
    )
