"""The Settings page (M3): a change is saved and still there after a reload; a secret is
written but never sent back to the page; a wrong value is explained beside its field."""

from __future__ import annotations

from typing import Any

import pytest

from tests.webui.conftest import UIFactory

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

SECRET = "op-key-never-shown-7731"


async def test_a_saved_setting_is_there_after_a_reload(ui_factory: UIFactory) -> None:
    ui = await ui_factory()
    await ui.open("settings")
    await ui.page.fill("#f-operator-dial_pause_s", "25")
    await ui.page.check("#f-operator-create_event_on_answer")
    await ui.page.click("#settings-save")
    await ui.page.wait_for_selector(".toast.ok")
    await ui.page.reload()
    await ui.page.wait_for_selector("#view[data-view='settings'][data-ready='1']")
    assert await ui.page.input_value("#f-operator-dial_pause_s") == "25"
    assert await ui.page.is_checked("#f-operator-create_event_on_answer")
    assert ui.agent.operator.dial_pause_s == 25.0
    await ui.page.click("#tab-team")
    await ui.page.fill("#f-team-completed_talk_s", "15")
    await ui.page.click("#settings-save")
    await ui.page.wait_for_selector(".toast.ok >> nth=-1")
    assert ui.agent.team.completed_talk_s == 15
    await ui.screenshot("settings-team-saved")
    ui.assert_clean()


async def test_a_secret_is_written_but_never_sent_back(ui_factory: UIFactory) -> None:
    ui = await ui_factory()
    bodies: list[str] = []

    async def keep(response: Any) -> None:
        if "/api/" in response.url:
            try:
                bodies.append(await response.text())
            except Exception:
                pass

    ui.page.on("response", keep)
    await ui.open("settings")
    assert (await ui.page.inner_text("[data-secret='operator.api_key']")) == "not set"
    await ui.page.fill("#f-operator-api_key", SECRET)
    await ui.page.click("#settings-save")
    await ui.page.wait_for_selector(".toast.ok")
    assert SECRET in ui.secrets.values.values()
    await ui.page.wait_for_selector("[data-secret='operator.api_key']")
    assert (await ui.page.inner_text("[data-secret='operator.api_key']")) == "set"
    await ui.page.reload()
    await ui.page.wait_for_selector("#view[data-view='settings'][data-ready='1']")
    assert await ui.page.input_value("#f-operator-api_key") == ""
    assert SECRET not in await ui.page.content()
    assert bodies and not any(SECRET in body for body in bodies)
    ui.assert_clean()


async def test_a_wrong_value_is_explained_beside_its_field(ui_factory: UIFactory) -> None:
    ui = await ui_factory(operator={"language": "uk"})
    await ui.open("settings")
    await ui.page.fill("#f-operator-reconnect_s", "-5")
    await ui.page.fill("#f-operator-dnd_code", "12ab")
    await ui.page.click("#settings-save")
    problem = "[data-field='operator.reconnect_s'] .field-error"
    await ui.page.wait_for_selector(problem)
    assert await ui.page.inner_text(problem) == "Від 0,01 до 3600 секунд"
    assert await ui.page.inner_text("[data-field='operator.dnd_code'] .field-error") == (
        "Лише цифри, * та #"
    )
    assert ui.agent.operator.reconnect_s != -5
    await ui.screenshot("settings-field-errors-uk")
    # The 422 of the refused save is the only "error" the console may show.
    assert all("422" in e for e in ui.errors), ui.errors


async def test_a_bad_planned_time_in_the_event_defaults_is_explained_as_such(
    ui_factory: UIFactory,
) -> None:
    # U8: the check of event_defaults refuses an unreadable planned_at as well as a
    # value that is not an object; the message fits either (it named only the latter).
    ui = await ui_factory(operator={"language": "uk"}, online=False)
    await ui.open("settings")
    await ui.page.fill("#f-operator-event_defaults", '{"planned_at": "tomorrow"}')
    await ui.page.click("#settings-save")
    problem = "[data-field='operator.event_defaults'] .field-error"
    await ui.page.wait_for_selector(problem)
    text = await ui.page.inner_text(problem)
    assert text.startswith("Перевірте типові значення (поле → значення; planned_at — дата й час")
    assert "'tomorrow' is not an ISO date-time" in text  # the agent's own words on what failed
    assert "Має бути об'єкт" not in text
    assert ui.agent.operator.event_defaults == {}
    await ui.screenshot("settings-event-defaults-uk")
    assert all("422" in e for e in ui.errors), ui.errors
