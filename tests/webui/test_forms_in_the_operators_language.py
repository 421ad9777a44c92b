"""The window's forms speak the operator's language (B7; docs/window.md "Languages"):
a field the agent refused is explained beside it in the window's language, never in
the agent's English with its JSON paths, and a dialog open when the language changes
switches with the rest of the window ("every open window switches at once")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.webui.conftest import ARTIFACTS, TIMEOUT_MS, UI, UIFactory

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

I18N = Path(__file__).resolve().parents[2] / "agent" / "i18n"
UK: dict[str, str] = json.loads((I18N / "uk.json").read_text(encoding="utf-8"))
EN: dict[str, str] = json.loads((I18N / "en.json").read_text(encoding="utf-8"))


async def field_error(ui: UI, form: str, field: str) -> str:
    locator = ui.page.locator(f"{form} [data-field='{field}'] .field-error")
    await locator.wait_for(state="visible")
    text: str = await locator.inner_text()
    return text


async def new_contact_form(ui: UI) -> None:
    await ui.goto("contacts")
    await ui.page.click("#contact-new")
    await ui.page.wait_for_selector("#contact-form")


async def test_a_phone_the_agent_refuses_is_explained_in_ukrainian_beside_the_phones(
    ui_factory: UIFactory,
) -> None:
    ui = await ui_factory(operator={"language": "uk"}, online=False)
    await ui.open("")
    await new_contact_form(ui)
    await ui.page.fill("#contact-form-name", "Олена")
    await ui.page.fill("#contact-form-phones input[name='number']", "12abc")
    await ui.page.click("button[data-action='contact-save']")
    shown = await field_error(ui, "#contact-form", "phones")
    assert shown == UK["number.invalid"]  # "Це не номер телефону"
    assert "phones[0]" not in shown and "not a phone number" not in shown
    await ui.screenshot("contact-form-error-uk")
    listed = (await ui.api("GET", "/api/contacts")).json()
    assert listed["total"] == 0, "nothing stored"
    # The 422 of the refused save is the only "error" the console may show.
    assert all("422" in e for e in ui.errors), ui.errors


async def test_an_attribute_the_agent_refuses_is_marked_on_the_attributes_field(
    ui_factory: UIFactory,
) -> None:
    """The agent names the attribute (``attributes.city``); the form has one field for
    them all, so the error is shown there rather than nowhere."""
    ui = await ui_factory(operator={"language": "uk"}, online=False)
    await ui.open("")
    await new_contact_form(ui)
    await ui.page.fill("#contact-form-name", "Олена")
    await ui.page.fill("#contact-form textarea[name='attributes']", '{"city": {"a": 1}}')
    await ui.page.click("button[data-action='contact-save']")
    shown = await field_error(ui, "#contact-form", "attributes")
    assert shown == UK["error.invalid_input"]
    assert "attributes.city" not in shown
    assert all("422" in e for e in ui.errors), ui.errors


async def test_an_event_field_the_agent_refuses_is_explained_in_ukrainian(
    ui_factory: UIFactory,
) -> None:
    ui = await ui_factory(operator={"language": "uk"}, online=False)
    made = await ui.api("POST", "/api/events", {"number": "0501110001"})
    assert made.status_code == 201, made.text
    await ui.open("phone")
    await ui.page.evaluate("id => window.phonetOpen(`event:${id}`)", made.json()["id"])
    await ui.page.wait_for_selector("#event-form")
    await ui.page.fill("#event-importance", "x" * 201)  # over the 200 characters it holds
    await ui.page.click("button[data-action='save']")
    shown = await field_error(ui, "#event-form", "importance")
    assert shown == UK["error.invalid_input"]
    assert "importance is longer" not in shown
    stored = (await ui.api("GET", f"/api/events/{made.json()['id']}")).json()
    assert stored["importance"] == "normal"
    assert all("422" in e for e in ui.errors), ui.errors


async def test_an_event_made_by_hand_without_a_number_is_refused_in_ukrainian(
    ui_factory: UIFactory,
) -> None:
    ui = await ui_factory(operator={"language": "uk"}, online=False)
    await ui.open("events")
    await ui.page.click("#event-new")
    await ui.page.fill(".dialog textarea[name='notes']", "передзвонити")
    await ui.page.click(".dialog button.primary")
    toast = ui.page.locator("#toasts .toast.error")
    await toast.wait_for(state="visible")
    assert await toast.inner_text() == UK["error.event_empty"]
    assert (await ui.api("GET", "/api/events")).json()["total"] == 0
    assert all("422" in e for e in ui.errors), ui.errors


LICENCE_DIALOG = ".backdrop .dialog:has(form[data-license-form])"


async def first_run_page(browser: Any, ui: UI) -> Any:
    """A window opened as at the first start: the licence dialog opens by itself (the
    conftest puts it off for every other test)."""
    context = await browser.new_context(viewport={"width": 420, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = await context.new_page()
    page.on("pageerror", lambda exc: ui.errors.append(f"uncaught: {exc}"))
    page.on(
        "console",
        lambda m: ui.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None,
    )
    await page.goto(f"{ui.url}/#token={ui.token}")
    await page.wait_for_selector(f"{LICENCE_DIALOG} input[name='client_code']")
    return page


async def test_the_first_run_licence_dialog_switches_language_with_the_window_keeping_input(
    browser: Any, ui_factory: UIFactory
) -> None:
    ui = await ui_factory(operator={"language": "en"}, online=False)
    assert (await ui.api("GET", "/api/license")).json()["required"] is True
    page = await first_run_page(browser, ui)
    try:
        dialog = page.locator(LICENCE_DIALOG)
        assert await dialog.locator("h2").inner_text() == EN["license.form_title"]
        await dialog.locator("input[name='client_code']").fill("32855961")
        await dialog.locator("input[name='count']").fill("4")
        await dialog.locator("textarea[name='key']").fill("PA1-typed-so-far")
        await dialog.locator("[data-action='install']").click()
        key_error = dialog.locator("[data-error-for='key']")
        await key_error.wait_for(state="visible")
        # In English the agent's own words are the most specific (license.js errorText).
        assert "too short" in await key_error.inner_text()

        changed = await ui.api("PUT", "/api/settings", {"operator": {"language": "uk"}})
        assert changed.status_code == 200, changed.text
        await page.wait_for_selector(f"{LICENCE_DIALOG} h2:text-is('{UK['license.form_title']}')")
        await page.wait_for_selector("#view[data-view='phone'][data-ready='1']")
        texts = await dialog.inner_text()
        for key in ("license.client_code", "license.count", "license.key", "license.later"):
            assert UK[key] in texts, key
        for key in ("license.client_code", "license.key_hint", "license.later"):
            assert EN[key] not in texts, key
        # What the operator typed is kept, and the error shown is said again in Ukrainian.
        assert await dialog.locator("input[name='client_code']").input_value() == "32855961"
        assert await dialog.locator("input[name='count']").input_value() == "4"
        assert await dialog.locator("textarea[name='key']").input_value() == "PA1-typed-so-far"
        assert (
            await dialog.locator("[data-error-for='key']").inner_text() == UK["license.malformed"]
        )
        assert await page.locator(LICENCE_DIALOG).count() == 1, "one dialog, not two"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "license-dialog-uk.png"))

        # The dialog still works: Later puts it off and closes it.
        await dialog.locator("[data-action='later']").click()
        await dialog.wait_for(state="detached")
    finally:
        await page.context.close()
    assert all("422" in e for e in ui.errors), ui.errors


async def test_a_licence_error_without_a_message_of_its_own_is_said_in_ukrainian(
    browser: Any, ui_factory: UIFactory
) -> None:
    """The window's access expired while the dialog was open (the agent answers 401
    ``unauthorized``): the dialog says so in the window's language, not in English."""
    ui = await ui_factory(operator={"language": "uk"}, online=False)
    page = await first_run_page(browser, ui)
    try:
        dialog = page.locator(LICENCE_DIALOG)
        await page.evaluate("sessionStorage.setItem('phonet-agent.token', 'expired')")
        await dialog.locator("textarea[name='key']").fill("PA1-anything")
        await dialog.locator("[data-action='install']").click()
        box = dialog.locator(".error-box")
        await box.wait_for(state="visible")
        assert await box.inner_text() == UK["error.unauthorized"]
    finally:
        await page.context.close()
    assert all("401" in e for e in ui.errors), ui.errors
