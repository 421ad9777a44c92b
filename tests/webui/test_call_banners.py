"""Call popups inside the open window (C3, B6, B12; live topic "popup"): one strip per
call under the tabs, saying what the desktop popup says; a click opens the call on the
Phone page; a missed call offers Call back; the Phone page, whose lines show live calls,
shows only their end."""

from __future__ import annotations

import json

import pytest

from agent.simulator import SimControl
from tests.scenarios.conftest import wait_until
from tests.webui.conftest import UIFactory

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


def dialled(sim: SimControl) -> list[str]:
    return [
        json.loads(r["body"])["otherLegNum"]
        for r in sim.requests()
        if r["path"].startswith("/rest/user/makeCall")
    ]


async def test_a_ringing_call_shows_a_strip_that_opens_the_call_c3(
    ui_factory: UIFactory, sim: SimControl
) -> None:
    ui = await ui_factory()
    await ui.open("journal")
    uuid = sim.play_call("in", "001", "+380671234500", ring_s=None, talk_s=None)
    strip = f"#call-banners .call-banner[data-uuid='{uuid}']"
    await ui.page.wait_for_selector(f"{strip}[data-kind='ring']")
    text = await ui.page.inner_text(strip)
    assert "Incoming call from +380671234500" in text and "(incoming)" in text
    await ui.screenshot("call-banner-ring")
    sim.answer(uuid)
    await ui.page.wait_for_selector(f"{strip}[data-kind='answer']")  # replaced, not added
    assert await ui.page.locator("#call-banners .call-banner").count() == 1
    await ui.page.click(strip)
    await ui.page.wait_for_selector("#view[data-view='phone'][data-ready='1']")
    await ui.page.wait_for_function(
        "uuid => document.querySelector('#call-uuid')?.textContent === uuid", arg=uuid
    )
    await ui.page.wait_for_selector(strip, state="detached")
    sim.hangup(uuid)
    ended = f"{strip}[data-kind='hangup']"  # the end is shown on the Phone page too
    await ui.page.wait_for_selector(ended)
    assert "Call ended" in await ui.page.inner_text(ended)
    ui.assert_clean()


async def test_a_missed_call_stays_and_calls_back_b6(
    ui_factory: UIFactory, sim: SimControl
) -> None:
    sim.script("+380671234511", answer=False, ring_s=30)
    ui = await ui_factory()
    await ui.open("contacts")
    uuid = sim.play_call("in", "001", "+380671234511", ring_s=None, talk_s=None)
    strip = f"#call-banners .call-banner[data-uuid='{uuid}']"
    await ui.page.wait_for_selector(f"{strip}[data-kind='ring']")
    sim.hangup(uuid, disposition=1)
    await ui.page.wait_for_selector(f"{strip}[data-kind='missed']")
    assert "Missed call from +380671234511" in await ui.page.inner_text(strip)
    await ui.screenshot("call-banner-missed")
    await ui.page.click(f"{strip} button[data-action='call_back']")
    await wait_until(lambda: "+380671234511" in dialled(sim), what="the call back")
    await ui.page.wait_for_selector(strip, state="detached")
    for call in sim.calls():
        if call["state"] != "ended":
            sim.hangup(call["uuid"])
    ui.assert_clean()


async def test_on_the_phone_page_a_live_call_is_in_the_lines_not_in_a_strip(
    ui_factory: UIFactory, sim: SimControl
) -> None:
    ui = await ui_factory()
    await ui.open("phone")
    uuid = sim.play_call("in", "001", "+380671234522", ring_s=None, talk_s=None)
    await ui.page.wait_for_selector(f"#lines li[data-uuid='{uuid}']")
    sim.answer(uuid)
    await ui.page.wait_for_selector(f"#lines li.talking[data-uuid='{uuid}']")
    assert await ui.page.locator("#call-banners .call-banner").count() == 0
    await ui.page.click(f"button[data-drop='{uuid}']")
    await ui.page.wait_for_selector(f".call-banner[data-uuid='{uuid}'][data-kind='hangup']")
    await ui.page.click(f".call-banner[data-uuid='{uuid}'] button[data-action='close']")
    await ui.page.wait_for_selector(f".call-banner[data-uuid='{uuid}']", state="detached")
    ui.assert_clean()


async def test_under_dnd_a_silenced_ring_leaves_no_missed_strip_b12(
    ui_factory: UIFactory, sim: SimControl
) -> None:
    ui = await ui_factory(operator={"dnd_code": "*78"})
    await ui.open("journal")
    response = await ui.api("POST", "/api/dnd", {"on": True, "minutes": 30})
    assert response.status_code == 200, response.text
    await ui.page.wait_for_selector("#dnd-chip:not([hidden])")
    uuid = sim.play_call("in", "001", "+380671234533", ring_s=0.05, answer=False, talk_s=None)
    await ui.page.wait_for_selector(f"#journal-table tr[data-uuid='{uuid}']")
    assert await ui.page.locator(f".call-banner[data-uuid='{uuid}']").count() == 0
    ui.assert_clean()
