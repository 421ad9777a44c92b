"""The dialer's ports over issue 4's services (agent/contacts): the contact of a number,
a contact's numbers, ABC classes, planned events, and the A5 event gate.

``services.contacts`` (ContactService), ``services.events`` (EventService) and
``services.contact_stats`` (StatsService), as agent/contacts/wiring.py names them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from agent.contacts.event_service import EventService
from agent.contacts.service import ContactService
from agent.contacts.stats import StatsService
from agent.core.call_events import Event, EventSource, EventState
from agent.core.contacts import Contact, lookup_key
from agent.core.events import normalise_uuid
from agent.dialer.ports import ContactPhones, ContactRef, EventListener, PlannedCall

log = logging.getLogger(__name__)

_PLANNED_PAGE = 500


def _ref(contact: Contact, number: str | None = None) -> ContactRef:
    assert contact.id is not None
    detail = None
    for phone in contact.phones:
        if number is None or phone.number == number:
            detail = ", ".join(p for p in (phone.kind, phone.person) if p) or None
            break
    return ContactRef(contact.id, contact.name, detail, dict(contact.attributes))


class ContactsDirectory:
    """:class:`agent.dialer.ports.ContactDirectory` over the contacts area."""

    def __init__(self, contacts: ContactService, stats: StatsService | None = None) -> None:
        self.service = contacts
        self.stats = stats

    async def match_numbers(
        self, numbers: Sequence[str], *, full: bool = False
    ) -> dict[str, ContactRef]:
        region = self.service.region
        # An E.164 number is its own index key (contacts.lookup_key): no second parse.
        keys = {n: n if n.startswith("+") else lookup_key(n, region) for n in numbers}
        wanted = sorted({k for k in keys.values() if k is not None})
        if not wanted:
            return {}
        storage, repo = self.service.storage, self.service.repo

        def work() -> dict[str, ContactRef]:
            by_key = repo.ids_by_keys(wanted)
            if not full:
                return {
                    number: ContactRef(hits[0][0], hits[0][1])
                    for number, key in keys.items()
                    if key is not None and (hits := by_key.get(key))
                }
            ids = sorted({found[0][0] for found in by_key.values() if found})
            contacts = repo.get_many(ids)
            out: dict[str, ContactRef] = {}
            for number, key in keys.items():
                hits = by_key.get(key) if key is not None else None
                contact = contacts.get(hits[0][0]) if hits else None
                if contact is not None:
                    out[number] = _ref(contact, number)
            return out

        return await storage.run(work)

    async def contacts(self, ids: Sequence[int]) -> dict[int, ContactPhones]:
        found = await self.service.storage.run(self.service.repo.get_many, list(ids))
        return {
            cid: ContactPhones(
                _ref(contact),
                tuple(
                    (phone.number, ", ".join(p for p in (phone.kind, phone.person) if p) or None)
                    for phone in contact.phones
                ),
            )
            for cid, contact in found.items()
            if contact.deleted_at is None
        }

    async def abc_classes(self, ids: Sequence[int]) -> dict[int, str]:
        if self.stats is None:
            return {}
        classes = await self.stats.abc_classes()
        return {cid: str(classes[cid]) for cid in ids if cid in classes}

    async def planned_calls(self, until: datetime, robot_only: bool = False) -> list[PlannedCall]:
        storage, events = self.service.storage, self.service.events
        found: list[Event] = []
        offset = 0
        while True:
            page, _ = await storage.run(
                events.page, planned=True, limit=_PLANNED_PAGE, offset=offset
            )
            due = [e for e in page if e.planned_at is not None and e.planned_at <= until]
            found += [e for e in due if not robot_only or e.source is EventSource.ROBOT]
            if len(page) < _PLANNED_PAGE or len(due) < len(page):
                break
            offset += len(page)
        ids = sorted({e.contact_id for e in found if e.contact_id is not None})
        contacts = await storage.run(self.service.repo.get_many, ids) if ids else {}
        out = []
        for event in found:
            contact = contacts.get(event.contact_id) if event.contact_id is not None else None
            number = event.number or (
                contact.phones[0].number if contact and contact.phones else ""
            )
            if not number:
                continue
            out.append(
                PlannedCall(
                    number=number,
                    planned_at=event.planned_at,
                    event_id=str(event.id),
                    contact=_ref(contact, number) if contact is not None else None,
                    kind="robot" if event.source is EventSource.ROBOT else "planned",
                )
            )
        return out


class EventsGate:
    """:class:`agent.dialer.ports.EventGate` over the event service (A5)."""

    def __init__(self, events: EventService) -> None:
        self.events = events

    async def is_open(self, call_uuid: str) -> bool:
        return self.events.awaiting_event(call_uuid)

    def add_close_listener(self, listener: EventListener) -> None:
        def heard(event: Event) -> None:
            if event.call_uuid and event.state is not EventState.OPEN:
                listener(normalise_uuid(event.call_uuid), event.state is EventState.SAVED)

        self.events.event_listeners.append(heard)
