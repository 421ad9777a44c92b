"""The Phone page against the real simulator (M1, M2, M4, C1): dialling from the panel
reaches makeCall with the operator's extension and the number; a call shows live in
Lines (the talking line bold) and then in the Journal; Esc and "drop line" hang up;
DND with a timer."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from agent.desktop.view import tomorrow_at
from agent.simulator import SimControl
from tests.scenarios.conftest import wait_until
from tests.webui.conftest import UIFactory

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


def make_calls(sim: SimControl) -> list[dict[str, Any]]:
    return [
        json.loads(r["body"]) for r in sim.requests() if r["path"].startswith("/rest/user/makeCall")
    ]


def hangups(sim: SimControl) -> list[str]:
    return [r["path"] for r in sim.requests() if r["path"].endswith("/hangup")]


async def test_typing_a_number_and_enter_dials_it_from_the_operators_extension(
    ui_factory: UIFactory, sim: SimControl
) -> None:
    sim.script("+380501234567", answer=False, ring_s=5)
    ui = await ui_factory()
    await ui.open("phone")
    await ui.page.keyboard.type("0501234567")  # digits typed anywhere land in the number
    assert await ui.page.input_value("#number") == "0501234567"
    await ui.page.keyboard.press("Enter")
    await wait_until(lambda: bool(make_calls(sim)), what="makeCall at the simulator")
    call = make_calls(sim)[0]
    assert call["legExt"] == "001" and call["otherLegNum"] == "+380501234567"
    ui.assert_clean()


async def test_the_keypad_and_the_dial_button_dial_too(
    ui_factory: UIFactory, sim: SimControl
) -> None:
    sim.script("+380442249895", answer=False, ring_s=5)
    ui = await ui_factory()
    await ui.open("phone")
    for key in "0442249895":
        await ui.page.click(f".keypad button[data-key='{key}']")
    await ui.page.click("#dial")
    await wait_until(lambda: bool(make_calls(sim)), what="makeCall at the simulator")
    assert make_calls(sim)[0]["otherLegNum"] == "+380442249895"
    ui.assert_clean()


async def test_a_tel_links_extension_is_left_to_the_operator_who_is_told_so(
    ui_factory: UIFactory, sim: SimControl, caplog: pytest.LogCaptureFixture
) -> None:
    # RFC 3966 ;ext= has no place in makeCall (phonet-api.md §2.4): the number alone is
    # dialled, and the agent's log says what was left out rather than drop it silently.
    caplog.set_level(logging.INFO, logger="agent.app")
    sim.script("+380442249895", answer=False, ring_s=5)
    ui = await ui_factory()
    await ui.open("phone")
    await ui.page.fill("#number", "tel:+380442249895;ext=12")
    await ui.page.click("#dial")
    await wait_until(lambda: bool(make_calls(sim)), what="makeCall at the simulator")
    assert make_calls(sim)[0] == {"legExt": "001", "otherLegNum": "+380442249895"}
    told = [r.getMessage() for r in caplog.records if r.name == "agent.app"]
    assert "dial: extension 12 not dialled: the PBX API cannot send it" in told
    notice = ui.page.locator(".toast", has_text="Extension 12 was not dialled")
    await notice.wait_for()
    ui.assert_clean()


async def test_an_invalid_number_is_told_and_not_dialled(
    ui_factory: UIFactory, sim: SimControl
) -> None:
    ui = await ui_factory()
    await ui.open("phone")
    await ui.page.fill("#number", "call me")
    await ui.page.click("#dial")
    await ui.page.wait_for_selector(".toast.error")
    assert make_calls(sim) == []


async def test_an_incoming_call_shows_live_in_lines_bold_when_talking_then_in_the_journal(
    ui_factory: UIFactory, sim: SimControl
) -> None:
    ui = await ui_factory()
    await ui.open("phone")
    uuid = sim.play_call("in", "001", "+380671112233", ring_s=None, talk_s=None)
    line = f"#lines li[data-uuid='{uuid}']"
    await ui.page.wait_for_selector(f"{line}[data-state='ringing']")
    assert "+380671112233" in await ui.page.inner_text(line)
    sim.answer(uuid)
    await ui.page.wait_for_selector(f"{line}.talking")
    weight = await ui.page.eval_on_selector(line, "el => getComputedStyle(el).fontWeight")
    assert int(weight) >= 700
    await ui.page.wait_for_function(
        "uuid => document.querySelector('#call-uuid')?.textContent === uuid", arg=uuid
    )
    await ui.screenshot("phone-talking")
    await ui.goto("journal")
    sim.hangup(uuid)
    await ui.page.wait_for_selector(f"#journal-table tr[data-uuid='{uuid}']")
    ui.assert_clean()


async def test_escape_hangs_up_the_talking_line(ui_factory: UIFactory, sim: SimControl) -> None:
    ui = await ui_factory()
    await ui.open("phone")
    uuid = sim.play_call("in", "001", "+380931112233", ring_s=0.05, talk_s=None)
    await ui.page.wait_for_selector(f"#lines li.talking[data-uuid='{uuid}']")
    await ui.page.keyboard.press("Escape")
    await wait_until(lambda: any(uuid in path for path in hangups(sim)), what="the hang-up")
    await ui.page.wait_for_selector(f"#lines li[data-uuid='{uuid}']", state="detached")
    ui.assert_clean()


async def test_drop_line_hangs_up_that_line_only(ui_factory: UIFactory, sim: SimControl) -> None:
    ui = await ui_factory()
    await ui.open("phone")
    first = sim.play_call("in", "001", "+380501111111", ring_s=None, talk_s=None)
    second = sim.play_call("in", "001", "+380502222222", ring_s=None, talk_s=None)
    await ui.page.wait_for_selector(f"#lines li[data-uuid='{second}']")
    await ui.page.click(f"button[data-drop='{first}']")
    await wait_until(lambda: any(first in path for path in hangups(sim)), what="the drop")
    assert not any(second in path for path in hangups(sim))
    await ui.page.wait_for_selector(f"#lines li[data-uuid='{first}']", state="detached")
    assert await ui.page.query_selector(f"#lines li[data-uuid='{second}']") is not None
    sim.hangup(second)
    ui.assert_clean()


async def test_dnd_for_30_minutes_dials_the_combination_and_shows_until_when(
    ui_factory: UIFactory, sim: SimControl
) -> None:
    ui = await ui_factory(operator={"dnd_code": "*78"})
    await ui.open("phone")
    await ui.page.click("#dnd")
    await ui.page.click("button[data-dnd='dnd.for_30m']")
    await wait_until(
        lambda: any(c["otherLegNum"] == "*78" for c in make_calls(sim)), what="the DND code"
    )
    await ui.page.wait_for_selector("#dnd-chip:not([hidden])")
    assert "until" in (await ui.page.inner_text("#dnd-chip")).lower()
    assert await ui.page.get_attribute("#dnd", "aria-pressed") == "true"
    await ui.screenshot("phone-dnd")
    ui.assert_clean()


async def test_dnd_until_tomorrow_is_nine_in_the_teams_zone_not_the_browsers_b12(
    ui_factory: UIFactory, sim: SimControl
) -> None:
    # The computer is set to New York, the team works in Tokyo: the tray's "until
    # tomorrow 09:00" is Tokyo's (agent/desktop/view.py), and so is the window's.
    team_zone = ZoneInfo("Asia/Tokyo")
    ui = await ui_factory(
        operator={"dnd_code": "*78"}, team={"time_zone": "Asia/Tokyo"}, timezone="America/New_York"
    )
    await ui.open("phone")
    assert await ui.page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == (
        "America/New_York"
    )
    before = datetime.now(UTC)
    await ui.page.click("#dnd")
    await ui.page.click("button[data-dnd='dnd.until_tomorrow']")

    async def dnd_until() -> str | None:
        dnd = (await ui.api("GET", "/api/status")).json()["dnd"]
        return dnd["until"] if dnd["on"] else None

    await wait_until(dnd_until, what="DND on with an end")
    until = datetime.fromisoformat(str(await dnd_until()))
    after = datetime.now(UTC)
    assert until in {tomorrow_at(before, team_zone), tomorrow_at(after, team_zone)}
    assert until.astimezone(team_zone).hour == 9
    ui.assert_clean()


async def test_a_popup_click_opens_that_call_in_the_window(
    ui_factory: UIFactory, sim: SimControl
) -> None:
    ui = await ui_factory()
    uuid = sim.play_call("in", "001", "+380441234567", ring_s=0.05, talk_s=0.05)
    await wait_until(
        lambda: ui.agent.runtime is not None and not ui.agent.runtime.phone.line_list,
        what="the call to end",
    )
    await wait_until(lambda: _journal_has(ui, uuid), what="the journal row")
    await ui.open("", query=f"?open=call:{uuid}")
    await ui.page.wait_for_function(
        "uuid => document.querySelector('#call-uuid')?.textContent === uuid", arg=uuid
    )
    assert "?open" not in ui.page.url
    ui.assert_clean()


async def _journal_has(ui: Any, uuid: str) -> bool:
    response = await ui.api("GET", f"/api/calls/{uuid}")
    return bool(response.status_code == 200)


async def test_disconnect_and_connect_from_the_top_bar(ui_factory: UIFactory) -> None:
    ui = await ui_factory()
    await ui.open("phone")
    await ui.page.wait_for_selector("#link-toggle[data-action='disconnect']")
    await ui.page.click("#link-toggle")
    await ui.page.click(".dialog button.primary")  # "Are you sure?"
    await ui.page.wait_for_selector("#link-dot.offline")
    await ui.page.click("#link-toggle[data-action='connect']")
    await ui.page.wait_for_selector("#link-dot.online")
    ui.assert_clean()
