"""The event form opens on answer (U8, C2) with Save and Decline; Decline marks the
call unimportant for good (A5: the history import never loads it)."""

from __future__ import annotations

import pytest

from agent.simulator import SimControl
from tests.scenarios.conftest import wait_until
from tests.webui.conftest import UI, UIFactory

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


async def answered_call_with_form(ui: UI, sim: SimControl, number: str) -> str:
    await ui.open("phone")
    uuid = sim.play_call("in", "001", number, ring_s=0.05, talk_s=None)
    await ui.page.wait_for_selector("#event-form")
    assert number in await ui.page.inner_text("#event-form")
    assert uuid in await ui.page.inner_text("#event-form")
    return uuid


async def event_of(ui: UI, uuid: str) -> dict[str, object]:
    response = await ui.api("GET", "/api/events?scope=mine&limit=50")
    events = [e for e in response.json()["items"] if e["call_uuid"] == uuid]
    assert len(events) == 1
    return dict(events[0])


async def test_decline_marks_the_call_unimportant(ui_factory: UIFactory, sim: SimControl) -> None:
    ui = await ui_factory(operator={"create_event_on_answer": True})
    uuid = await answered_call_with_form(ui, sim, "+380671234567")
    await ui.screenshot("event-form")
    await ui.page.click("button[data-action='decline']")
    await ui.page.wait_for_selector("#event-form", state="detached")
    assert (await event_of(ui, uuid))["state"] == "declined"
    events = ui.agent.services.events
    assert await events.is_unimportant(uuid)
    sim.hangup(uuid)
    ui.assert_clean()


async def test_save_records_the_operators_notes(ui_factory: UIFactory, sim: SimControl) -> None:
    ui = await ui_factory(operator={"create_event_on_answer": True})
    uuid = await answered_call_with_form(ui, sim, "+380501239876")
    await ui.page.fill("#event-notes", "Wants a quote for 20 phones")
    await ui.page.click("button[data-action='save']")
    await ui.page.wait_for_selector("#event-form", state="detached")
    event = await event_of(ui, uuid)
    assert event["state"] == "saved" and event["notes"] == "Wants a quote for 20 phones"
    assert not await ui.agent.services.events.is_unimportant(uuid)
    sim.hangup(uuid)
    await wait_until(lambda: not ui.agent.runtime.phone.line_list, what="the call to end")
    ui.assert_clean()


async def test_without_the_setting_no_form_opens(ui_factory: UIFactory, sim: SimControl) -> None:
    ui = await ui_factory(operator={"create_event_on_answer": False})
    await ui.open("phone")
    uuid = sim.play_call("in", "001", "+380501110000", ring_s=0.05, talk_s=None)
    await ui.page.wait_for_selector(f"#lines li.talking[data-uuid='{uuid}']")
    assert await ui.page.query_selector("#event-form") is None
    sim.hangup(uuid)
    ui.assert_clean()
