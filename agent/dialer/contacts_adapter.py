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
from agent.contacts.service import ContactService, candidate
from agent.contacts.stats import StatsService
from agent.core.call_events import Event, EventSource, EventState
from agent.core.contacts import Contact, lookup_key, rank_key
from agent.core.events import normalise_uuid
from agent.dialer.ports import ContactPhones, ContactRef, EventListener, PlannedCall

log = logging.getLogger(__name__)

_PLANNED_PAGE = 500


def _detail(kind: str | None, person: str | None) -> str | None:
    return ", ".join(p for p in (kind, person) if p) or None


def _ref(contact: Contact, key: str | None = None, region: str = "") -> ContactRef:
    """The contact as the list shows it; ``detail`` is that of the phone whose lookup key
    is ``key`` — none without a key, or when the contact has no such phone (M6: the
    detail says which of the contact's numbers this is, never another one's)."""
    assert contact.id is not None
    detail = None
    if key is not None:
        for phone in contact.phones:
            if phone.number == key or lookup_key(phone.number, region) == key:
                detail = _detail(phone.kind, phone.person)
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
        # An E.164 number is its own index key (contacts.lookup_key): no second parse,
        # and no step of Python a number for a file's 100k of them (issue 5).
        plain = set(numbers)
        odd = {n: lookup_key(n, region) for n in numbers if not n.startswith("+")}
        plain.difference_update(odd)
        wanted = plain.union(k for k in odd.values() if k is not None)
        if not wanted:
            return {}
        storage, repo, own_ext = self.service.storage, self.service.repo, self.service.own_ext

        def work() -> dict[str, ContactRef]:
            by_key = repo.ids_by_keys(wanted)
            # Several contacts with one number: the ranking rule of the popup decides
            # (agent/contacts/service.py: the operator's own first, then the most
            # recently contacted), so the list and the popup name the same contact.
            shared = {cid for hits in by_key.values() if len(hits) > 1 for cid, _ in hits}
            everyone = {cid for hits in by_key.values() for cid, _ in hits}
            contacts = repo.get_many(sorted(everyone if full else shared))
            best: dict[str, tuple[int, str]] = {}
            for key, hits in by_key.items():
                if not hits:
                    continue
                best[key] = hits[0]
                if len(hits) > 1:
                    ranked = sorted(
                        (c for c in (contacts.get(cid) for cid, _ in hits) if c is not None),
                        key=lambda c: rank_key(candidate(c), own_ext),
                    )
                    if ranked and ranked[0].id is not None:
                        best[key] = (ranked[0].id, ranked[0].name)

            def ref(key: str, hit: tuple[int, str]) -> ContactRef:
                contact = contacts.get(hit[0]) if full else None
                return _ref(contact, key, region) if contact else ContactRef(*hit)

            out = {key: ref(key, hit) for key, hit in best.items() if key in plain}
            for number, its_key in odd.items():
                if its_key is not None and (hit := best.get(its_key)) is not None:
                    out[number] = ref(its_key, hit)
            return out

        return await storage.run(work)

    async def contacts(self, ids: Sequence[int]) -> dict[int, ContactPhones]:
        found = await self.service.storage.run(self.service.repo.get_many, list(ids))
        return {
            cid: ContactPhones(
                _ref(contact),  # no detail: it belongs to one number, ``numbers`` has each
                tuple(
                    (phone.number, _detail(phone.kind, phone.person)) for phone in contact.phones
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

    async def planned_calls(
        self, until: datetime, robot_only: bool = False, operator_ext: str | None = None
    ) -> list[PlannedCall]:
        storage, events = self.service.storage, self.service.events
        region = self.service.region
        found: list[Event] = []
        offset = 0
        while True:
            page, _ = await storage.run(
                events.page, planned=True, limit=_PLANNED_PAGE, offset=offset
            )
            due = [e for e in page if e.planned_at is not None and e.planned_at <= until]
            found += [
                e
                for e in due
                if (not robot_only or e.source is EventSource.ROBOT)
                and (operator_ext is None or e.operator_ext in ("", operator_ext))
            ]
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
                    contact=(
                        _ref(contact, lookup_key(number, region), region)
                        if contact is not None
                        else None
                    ),
                    kind="robot" if event.source is EventSource.ROBOT else "planned",
                )
            )
        return out


class EventsGate:
    """:class:`agent.dialer.ports.EventGate` over the event service (A5)."""

    def __init__(self, events: EventService) -> None:
        self.events = events

    async def is_open(self, call_uuid: str) -> bool:
        """Open in the service's memory (made on answer, not closed yet) or in the
        database: right after a restart the service may not have loaded its open events
        yet, and the gate must hold all the same (A5)."""
        if self.events.awaiting_event(call_uuid):
            return True
        found = await self.events.storage.run(self.events.repo.for_call, call_uuid)
        return any(event.state is EventState.OPEN for event in found)

    def add_close_listener(self, listener: EventListener) -> None:
        def heard(event: Event) -> None:
            if event.call_uuid and event.state is not EventState.OPEN:
                listener(normalise_uuid(event.call_uuid), event.state is EventState.SAVED)

        self.events.event_listeners.append(heard)
