"""Call events over a real database: made on answer with the U8 defaults, saved,
declined (the call unimportant for good), planned (C2, U8, A5, J1, M4)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from agent.core.call_events import (
    EventChanges,
    EventDraft,
    EventSource,
    EventState,
    EventStateError,
)
from agent.core.events import CallInfo, Direction
from agent.core.popups import Popup, PopupKind
from tests.contacts.conftest import Area, make_area

UUID = "a1" * 16


async def answer(area: Area, number: str = "+380442249895", uuid: str = UUID) -> None:
    """What the runtime does for an answered call: look up, then the ANSWER popup."""
    call = CallInfo(uuid, Direction.IN, "001", number, False, area.clock.now)
    await area.contacts.call_context(call)
    area.events.on_popup(Popup(uuid, PopupKind.ANSWER, Direction.IN, number))


async def made_on_answer(area: Area, uuid: str = UUID) -> int:
    await area.contacts.drain()
    event = area.events.open_event_for(uuid)
    assert event is not None
    return event.id


async def test_an_answered_call_makes_an_open_event_with_the_u8_defaults(area: Area) -> None:
    contact = await area.add("Іван", "0442249895")
    area.settings.set(
        create_event_on_answer=True,
        open_contact_on_answer=True,
        event_defaults={"kind": "вхідний", "importance": "high", "planned_at": "+1d", "topic": "A"},
    )

    await answer(area)
    assert area.events.awaiting_event(UUID)  # from the answer on, before the row exists
    event = await area.events.get(await made_on_answer(area))

    assert event.state is EventState.OPEN and event.source is EventSource.ANSWER
    assert (event.call_uuid, event.number, event.contact_id) == (UUID, "+380442249895", contact.id)
    assert (event.operator_ext, event.direction) == ("001", "in")
    assert (event.kind, event.importance) == ("вхідний", "high")
    assert event.planned_at == area.clock.now + timedelta(days=1)
    assert event.fields == {"topic": "A"}
    assert area.topics("open") == [
        {"kind": "contact", "id": contact.id, "call_uuid": UUID},
        {"kind": "event", "id": event.id, "call_uuid": UUID},
    ]


async def test_no_event_is_made_when_the_setting_is_off_or_the_call_internal(area: Area) -> None:
    await answer(area)
    area.settings.set(create_event_on_answer=True)
    area.events.on_popup(Popup("b" * 32, PopupKind.ANSWER, Direction.INTERNAL, "002"))
    area.events.on_popup(Popup("c" * 32, PopupKind.RING, Direction.IN, "+380442249895"))
    await area.contacts.drain()
    events, _ = await area.events.page()
    assert events == [] and not area.events.awaiting_event(UUID)


async def test_saving_the_event_lets_the_dialer_go_on_and_listeners_hear_it(area: Area) -> None:
    area.settings.set(create_event_on_answer=True)
    heard: list[EventState] = []
    area.events.event_listeners.append(lambda e: heard.append(e.state))
    await answer(area)
    event_id = await made_on_answer(area)

    saved = await area.events.save(event_id, EventChanges(notes="Замовив 10 шт."))

    assert saved.state is EventState.SAVED and saved.notes == "Замовив 10 шт."
    assert not area.events.awaiting_event(UUID) and area.events.open_event_for(UUID) is None
    assert heard == [EventState.OPEN, EventState.SAVED]
    assert not await area.events.is_unimportant(UUID)


async def test_declining_marks_the_call_unimportant_for_good_a5(area: Area) -> None:
    area.settings.set(create_event_on_answer=True)
    await answer(area)
    event_id = await made_on_answer(area)

    declined = await area.events.decline(event_id)

    assert declined.state is EventState.DECLINED
    assert not area.events.awaiting_event(UUID)
    assert await area.events.is_unimportant(UUID)
    assert await area.events.is_unimportant(
        UUID.upper()[:8] + "-" + UUID[8:]
    )  # dashed, as J1 reads
    assert await area.events.unimportant_among([UUID, "f" * 32]) == {UUID}
    with pytest.raises(EventStateError):
        await area.events.save(event_id)
    with pytest.raises(EventStateError):
        await area.events.decline(event_id)


async def test_a_saved_event_can_be_edited_but_no_longer_declined(area: Area) -> None:
    event = await area.events.create_event(EventDraft(operator_ext="001", state=EventState.SAVED))
    edited = await area.events.edit(event.id, EventChanges(importance="low"))
    assert edited.state is EventState.SAVED and edited.importance == "low"
    with pytest.raises(EventStateError):
        await area.events.decline(event.id)


async def test_an_answer_seen_twice_makes_one_event(area: Area) -> None:
    area.settings.set(create_event_on_answer=True)
    await answer(area)
    first = await made_on_answer(area)
    await area.events.save(first)
    await answer(area)  # the same call again (a reconnect replays it)
    await area.contacts.drain()
    events, _ = await area.events.page()
    assert [e.id for e in events] == [first]
    assert not area.events.awaiting_event(UUID)


async def test_an_event_left_open_holds_the_dialer_after_a_restart(db_url: str) -> None:
    first = await make_area(db_url)
    try:
        first.settings.set(create_event_on_answer=True)
        await answer(first)
        event_id = await made_on_answer(first)
    finally:
        await first.storage.close()
    again = await make_area(db_url)
    try:
        assert again.events.awaiting_event(UUID)
        assert (again.events.open_event_for(UUID) or object()).id == event_id  # type: ignore[attr-defined]
    finally:
        await again.storage.close()


async def test_the_nearest_planned_event_still_to_do_is_the_contacts_m4(area: Area) -> None:
    contact = await area.add("Іван", "0442249895")
    now = area.clock.now

    async def plan(days: float, state: EventState = EventState.SAVED) -> int:
        draft = EventDraft(
            operator_ext="001",
            contact_id=contact.id,
            state=state,
            planned_at=now + timedelta(days=days),
        )
        return (await area.events.create_event(draft)).id

    later = await plan(5)
    soon = await plan(1)
    await plan(0.5, EventState.OPEN)
    declined_soonest = await plan(0.1, EventState.OPEN)
    await area.events.decline(declined_soonest)
    first_open = (await area.events.planned(contact.id))[0].id
    await area.events.save(first_open, EventChanges(done=True))

    planned = await area.events.planned(contact.id)
    assert [e.id for e in planned] == [soon, later]
    found = await area.contacts.lookup("0442249895")
    assert found.found.planned is not None and found.found.planned.id == soon


async def test_the_jobs_make_events_in_bulk_and_ask_which_calls_have_one_j1(area: Area) -> None:
    drafts = [
        EventDraft(
            operator_ext="002",
            call_uuid=f"{i:032x}",
            number="+380442249895",
            source=EventSource.IMPORT,
            state=EventState.SAVED,
        )
        for i in range(1200)
    ]
    ids = await area.events.create_events(drafts)
    assert len(ids) == len(set(ids)) == 1200
    asked = [f"{i:032x}" for i in range(1190, 1210)]
    assert await area.events.calls_with_events(asked) == {f"{i:032x}" for i in range(1190, 1200)}
    assert await area.events.has_event_for(f"{5:032x}")
    assert not await area.events.has_event_for("e" * 32)
    assert area.topics("events") == [{"created": 1200}]
    one = await area.events.create_event(EventDraft(operator_ext="001", notes="після"))
    assert one.id > max(ids)  # ids reserved in bulk keep the sequence right


async def test_declining_a_robot_event_marks_no_call_j2(area: Area) -> None:
    # J2 keeps "robot:<id>" where a call uuid would be: declining it marks no call.
    event = await area.events.create_event(
        EventDraft(operator_ext="robot", call_uuid="robot:1234", source=EventSource.ROBOT)
    )
    assert await area.events.has_event_for("robot:1234")
    declined = await area.events.decline(event.id)
    assert declined.state is EventState.DECLINED
    assert not await area.events.is_unimportant("robot:1234")
