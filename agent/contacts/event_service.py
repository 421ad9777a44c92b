"""Call events: made on answer, saved, edited, declined (U8, C2, A5, J1, J2).

On an answered call (the runtime's ``popup_listeners`` see its ANSWER popup), when
``operator.create_event_on_answer`` is on, an open event is made with the U8
default values and the window is told to open it (hub topic ``open``,
``{"kind": "event", "id"}``); with ``open_contact_on_answer`` the contact card
opens too (``{"kind": "contact", "id"}``).

For the dialer (A5: "the next call waits until the current call's event is saved
and closed; declining lets the dialer go on"): :meth:`EventService.awaiting_event`
is True from the answer until that call's event is saved or declined;
:meth:`open_event_for` gives the open event; ``event_listeners`` hear every event
made or changed, on the agent's loop.

For the jobs (J1, J2): :meth:`create_event`, :meth:`create_events`,
:meth:`create_imported_call_events`,
:meth:`is_unimportant`, :meth:`unimportant_among`, :meth:`has_event_for`,
:meth:`calls_with_events` (docs/contacts.md, "For other features").
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from agent.contacts.service import ContactService, NotFound, Publish, SettingsSource
from agent.contacts.shapes import event_json
from agent.core.call_events import (
    MAX_CALL_ID,
    MAX_NUMBER,
    Event,
    EventAction,
    EventChanges,
    EventDraft,
    EventSource,
    EventState,
    ImportedCallEvent,
    apply_changes,
    draft_on_answer,
    text_field,
)
from agent.core.contacts import normalise_phone
from agent.core.errors import InvalidInput
from agent.core.events import Direction, normalise_uuid
from agent.core.popups import Popup, PopupKind
from agent.storage.events_repo import EventsRepository

if TYPE_CHECKING:
    from agent.storage.database import Storage

log = logging.getLogger(__name__)

_CALL_UUID = re.compile(r"[0-9a-f]{32}")


def is_call_uuid(value: str | None) -> bool:
    """A PBX call id (normalised); J2's robot events hold ``robot:<id>`` refs instead."""
    return value is not None and _CALL_UUID.fullmatch(value) is not None


EventListener = Callable[[Event], None]


def require_subject(draft: EventDraft) -> None:
    """An event made by hand is about someone: a number, a contact or a call. One with
    none of them could never be found, called back or linked (contacts.md "Events"), so
    it is refused as a contact with no name, company or phone is."""
    if draft.number is None and draft.contact_id is None and draft.call_uuid is None:
        raise InvalidInput(
            "an event needs a number, a contact or a call",
            field="number",
            message_key="error.event_empty",
        )


class EventService:
    def __init__(
        self,
        storage: Storage,
        contacts: ContactService,
        settings: SettingsSource,
        *,
        own_ext: str,
        publish: Publish,
    ) -> None:
        self.storage = storage
        self.contacts = contacts
        self.settings = settings
        self.own_ext = own_ext
        self.publish = publish
        self.repo = EventsRepository(storage.db)
        self.event_listeners: list[EventListener] = []
        # Calls whose event made on answer is still open, by uuid (None: being made).
        self._awaiting: dict[str, Event | None] = {}

    async def load_open(self) -> None:
        """At start: this operator's events left open (a restart mid-call) still hold
        the dialer until they are saved or declined."""
        events, _ = await self.storage.run(
            self.repo.page, state=EventState.OPEN, operator_ext=self.own_ext, limit=500
        )
        for event in events:
            if event.call_uuid:
                self._awaiting.setdefault(event.call_uuid, event)

    # ------------------------------------------------------------ on answer (C2, U8)

    def on_popup(self, popup: Popup) -> None:
        """``runtime.popup_listeners``: an ANSWER popup makes and opens the call's event."""
        if popup.kind is not PopupKind.ANSWER or popup.direction is Direction.INTERNAL:
            return
        operator = self.settings.operator
        uuid = normalise_uuid(popup.call_uuid)
        seen = self.contacts.calls.get(popup.call_uuid)
        contact_id = seen.contact_id if seen else None
        if operator.open_contact_on_answer and contact_id is not None:
            self.publish("open", {"kind": "contact", "id": contact_id, "call_uuid": uuid})
        if not operator.create_event_on_answer or uuid in self._awaiting:
            return
        self._awaiting[uuid] = None  # holds the dialer from this moment on (A5)
        draft = draft_on_answer(
            operator.event_defaults,
            call_uuid=uuid,
            number=seen.number if seen else popup.number,
            contact_id=contact_id,
            operator_ext=self.own_ext,
            direction=str(popup.direction),
            at=self.contacts.clock(),
        )
        self.contacts.spawn(self._make_on_answer(uuid, draft), "event on answer")

    async def _make_on_answer(self, uuid: str, draft: EventDraft) -> None:
        def work() -> Event:
            with self.storage.atomic():
                existing = self.repo.for_call(uuid)
                if existing:  # made before (an earlier run, another agent): open that one
                    return existing[0]
                return self.repo.insert(draft, self.contacts.clock())

        try:
            event = await self.storage.run(work)
        except BaseException:
            self._awaiting.pop(uuid, None)
            raise
        if event.state is EventState.OPEN:
            self._awaiting[uuid] = event
        else:
            self._awaiting.pop(uuid, None)
        self._fire(event)
        self.publish("open", {"kind": "event", "id": event.id, "call_uuid": uuid})

    # ------------------------------------------------------------ the dialer's gate (A5)

    def awaiting_event(self, call_uuid: str) -> bool:
        """True while the event made on this call's answer is not saved or declined."""
        return normalise_uuid(call_uuid) in self._awaiting

    def open_event_for(self, call_uuid: str) -> Event | None:
        """The open event made on this call's answer (None: none, or not stored yet)."""
        return self._awaiting.get(normalise_uuid(call_uuid))

    def _fire(self, event: Event) -> None:
        self.publish("event", event_json(event))
        for listener in list(self.event_listeners):
            try:
                listener(event)
            except Exception:
                log.exception("event listener failed")

    # ------------------------------------------------------------ save, edit, decline

    async def get(self, event_id: int) -> Event:
        event = await self.storage.run(self.repo.get, event_id)
        if event is None:
            raise NotFound(f"no event {event_id}", field="id")
        return event

    async def require_same_call(self, event_id: int, value: Any) -> None:
        """An edit that names a call id (a client sending back the event it read) must
        name the event's own: the call an event records is not edited (G5), and a call
        id it could not hold (over 40 characters) is refused, not dropped unsaid.
        An unknown event is not found (404) first."""
        event = await self.get(event_id)
        given = text_field(value, "call_uuid", MAX_CALL_ID)
        if normalise_uuid(given) != (event.call_uuid or ""):
            raise InvalidInput("an event's call_uuid cannot be changed", field="call_uuid")

    async def save(self, event_id: int, changes: EventChanges | None = None) -> Event:
        """Save (and close) an event, with the operator's edits (U8)."""
        return await self._act(event_id, EventAction.SAVE, changes or EventChanges())

    async def edit(self, event_id: int, changes: EventChanges) -> Event:
        """Change fields, keeping the state (an open event stays open)."""
        return await self._act(event_id, EventAction.EDIT, changes)

    async def decline(self, event_id: int) -> Event:
        """The operator declines to record the event: its call is "unimportant" for good,
        so the history import never loads it (A5, J1); the dialer may go on."""
        return await self._act(event_id, EventAction.DECLINE, EventChanges())

    async def _act(self, event_id: int, action: EventAction, changes: EventChanges) -> Event:
        if changes.contact_id is not None:
            await self.contacts.get(changes.contact_id)  # 404 for an unknown contact

        def work() -> Event:
            with self.storage.atomic():
                event = self.repo.get(event_id)
                if event is None:
                    raise NotFound(f"no event {event_id}", field="id")
                now = self.contacts.clock()
                changed = apply_changes(event, changes, action, now)
                stored = self.repo.update(changed, now)
                if stored.state is EventState.DECLINED and is_call_uuid(stored.call_uuid):
                    self.repo.mark_unimportant(stored.call_uuid or "", self.own_ext, now)
                if action is EventAction.SAVE and stored.contact_id is not None:
                    self.contacts.repo.touch(stored.contact_id, now)
                return stored

        event = await self.storage.run(work)
        if event.call_uuid and event.state is not EventState.OPEN:
            self._awaiting.pop(event.call_uuid, None)
        elif event.call_uuid in self._awaiting:
            self._awaiting[event.call_uuid] = event
        self._fire(event)
        return event

    # ------------------------------------------------------------ for the API and the jobs

    async def create_event(self, draft: EventDraft) -> Event:
        """One event (the window, J2's robot answers); listeners hear it. The number of
        an event made by hand must be a phone number, and is kept in E.164 like the
        contacts' (an extension keeps its digits), so the dial list can call it (M6)."""
        if draft.source is EventSource.MANUAL and draft.number is not None:
            draft = replace(draft, number=self._number_of(draft.number))
        if draft.contact_id is not None:
            await self.contacts.get(draft.contact_id)
        event = await self.storage.run(self.repo.insert, draft, self.contacts.clock())
        self._fire(event)
        return event

    def _number_of(self, raw: str) -> str:
        number = normalise_phone(raw, self.contacts.region)
        if number is None or len(number) > MAX_NUMBER:
            raise InvalidInput(
                f"not a phone number: {raw.strip()[:40]!r}",
                field="number",
                message_key="number.invalid",
            )
        return number

    async def create_events(self, drafts: Sequence[EventDraft]) -> list[int]:
        """Many events in one transaction (J1 history import); no listener per event,
        one hub message ``events`` with the count."""
        ids = await self.storage.run(self.repo.insert_many, drafts, self.contacts.clock())
        self.publish("events", {"created": len(ids)})
        return ids

    async def create_imported_call_events(self, events: Sequence[ImportedCallEvent]) -> int:
        """J1's events for past calls, in one transaction: :meth:`create_events` for
        events that differ only in their call, number, contact and operators; one hub
        message ``events`` with the count."""
        made = await self.storage.run(
            self.repo.insert_imported_calls, events, self.contacts.clock()
        )
        self.publish("events", {"created": made})
        return made

    async def is_unimportant(self, call_uuid: str) -> bool:
        """Was this call's event declined (A5)? J1 never imports such a call."""
        return bool(await self.unimportant_among([call_uuid]))

    async def unimportant_among(self, call_uuids: Iterable[str]) -> set[str]:
        """Which of these calls (normalised uuids) were marked unimportant."""
        return await self.storage.run(self.repo.unimportant_among, list(call_uuids))

    async def has_event_for(self, call_uuid: str) -> bool:
        return bool(await self.calls_with_events([call_uuid]))

    async def calls_with_events(self, call_uuids: Iterable[str]) -> set[str]:
        """Which of these calls (normalised uuids) have an event already (J1)."""
        return await self.storage.run(self.repo.calls_with_events, list(call_uuids))

    async def page(
        self,
        *,
        state: EventState | None = None,
        contact_id: int | None = None,
        mine: bool = False,
        planned: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[Event], int | None]:
        return await self.storage.run(
            self.repo.page,
            state=state,
            contact_id=contact_id,
            operator_ext=self.own_ext if mine else None,
            planned=planned,
            limit=limit,
            offset=offset,
        )

    async def planned(self, contact_id: int | None = None, limit: int = 500) -> list[Event]:
        """Planned events still to do, soonest first (M4; M6 "fill from planned")."""
        events, _ = await self.page(contact_id=contact_id, planned=True, limit=limit)
        return events
