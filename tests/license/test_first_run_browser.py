"""The first-run licence form in a real browser (L1, U10; issue 8 item 3): Debian's
chromium driven by Playwright, on the agent's own web UI at 127.0.0.1.

The page is the shell's (``{url}/#token=…``); the licence page (webui/js/views/
license.js) shows the form while the agent has no valid key. The session says "later"
to the first-run dialog up front, so the form on the page is the one under test.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agent.simulator import SimulatorInfo
from tests.license.conftest import CODE, OTHER_CODE, Vendor
from tests.scenarios.conftest import AgentFactory, AgentHandle

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
# desktop-testing.md, "Browser tests of the web UI": never a downloaded browser.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-default-apps",
    "--no-default-browser-check",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
WAIT_MS = 15_000


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.skip("needs Debian's chromium at /usr/bin/chromium (apt install chromium)")
    playwright_api = pytest.importorskip("playwright.async_api")
    async with playwright_api.async_playwright() as p:
        launched = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def agent(
    agent_factory: AgentFactory, simulator: SimulatorInfo, test_pubkey: str
) -> AgentHandle:
    handle = await agent_factory(simulator)
    await handle.online()
    return handle


async def open_licence_page(browser: Any, agent: AgentHandle) -> Any:
    assert agent.agent.api is not None
    context = await browser.new_context(viewport={"width": 480, "height": 900})
    await context.grant_permissions(
        ["clipboard-read", "clipboard-write"], origin=agent.agent.api.url
    )
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Put off the first-run dialog for this session: the page's own form is under test.
    await page.add_init_script("sessionStorage.setItem('phonet-agent.license-later', '1')")
    await page.goto(f"{agent.agent.api.url}/#token={agent.agent.api.token}")
    await page.wait_for_selector("body[data-ready='1']", timeout=WAIT_MS)
    await page.click("nav.tabs a[data-view='license']", timeout=WAIT_MS)
    await page.wait_for_selector("main#view[data-view='license'] form[data-license-form]",
                                 timeout=WAIT_MS)  # fmt: skip
    page.errors = errors
    return page


async def field_error(page: Any, name: str) -> str:
    locator = page.locator(f"[data-error-for='{name}']")
    await locator.wait_for(state="visible", timeout=WAIT_MS)
    text: str = await locator.inner_text()
    return text


async def test_the_first_run_form_requests_a_key_and_registers_the_agent_at_once(
    browser: Any, agent: AgentHandle, vendor: Vendor
) -> None:
    client_id = (await agent.api("GET", "/api/license")).json()["client_id"]
    page = await open_licence_page(browser, agent)
    form = page.locator("main#view form[data-license-form]")

    # L1: the client ID is there to send; the admin types the code and the count.
    assert await form.locator("input[name='client_id']").input_value() == client_id
    await form.locator("input[name='client_code']").fill(CODE)
    await form.locator("input[name='count']").fill("3")

    # The request data is copied in one click.
    await form.locator("[data-action='copy-request']").click()
    request = form.locator("textarea[name='request']")
    await request.wait_for(state="visible", timeout=WAIT_MS)
    expected = (
        f"Phonet Agent licence request\nClient ID: {client_id}\n"
        f"Client code (EDRPOU): {CODE}\nLicences: 3\n"
    )
    assert await request.input_value() == expected
    assert await page.evaluate("navigator.clipboard.readText()") == expected
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "license-form.png"), full_page=True)

    # A mistyped key: the key field says so; nothing is installed.
    key = vendor.key(client_id, CODE, 3)
    typo = key[:40] + ("B" if key[40] != "B" else "C") + key[41:]
    await form.locator("textarea[name='key']").fill(typo)
    await form.locator("[data-action='install']").click()
    assert "does not add up" in await field_error(page, "key")
    assert (await agent.api("GET", "/api/license")).json()["state"] == "unlicensed"

    # A key for another company: the client code field says so.
    await form.locator("textarea[name='key']").fill(vendor.key(client_id, OTHER_CODE, 3))
    await form.locator("[data-action='install']").click()
    assert f"client code {OTHER_CODE}, not {CODE}" in await field_error(page, "client_code")

    # The right key: registered at once, the form closes, the tab shows the licence.
    await form.locator("textarea[name='key']").fill(key)
    await form.locator("[data-action='install']").click()
    await page.wait_for_selector("main#view[data-license-state='licensed']", timeout=WAIT_MS)
    assert await page.locator("[data-value='count']").inner_text() == "3"
    assert await page.locator("[data-value='client_code']").inner_text() == CODE
    assert await page.locator("main#view form[data-license-form]").count() == 0
    shot = ARTIFACTS / "license-first-run.png"
    await page.screenshot(path=str(shot), full_page=True)
    print(f"screenshots: {ARTIFACTS / 'license-form.png'}, {shot}")
    shown = (await agent.api("GET", "/api/license")).json()
    assert shown["state"] == "licensed" and shown["count"] == 3
    assert (await agent.status())["connected"]
    assert page.errors == []


async def test_changing_the_key_later_raises_the_count(
    browser: Any, agent: AgentHandle, vendor: Vendor
) -> None:
    client_id = (await agent.api("GET", "/api/license")).json()["client_id"]
    installed = await agent.api("POST", "/api/license", {"key": vendor.key(client_id, CODE, 2)})
    assert installed.status_code == 200
    assert agent.agent.api is not None
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{agent.agent.api.url}/#token={agent.agent.api.token}")
    await page.wait_for_selector("body[data-ready='1']", timeout=WAIT_MS)
    await page.click("nav.tabs a[data-view='license']", timeout=WAIT_MS)
    await page.wait_for_selector("main#view[data-license-state='licensed']", timeout=WAIT_MS)
    assert await page.locator("[data-value='count']").inner_text() == "2"

    await page.click("[data-action='change-key']")  # U10
    form = page.locator("main#view form[data-license-form]")
    await form.locator("textarea[name='key']").fill(vendor.key(client_id, CODE, 5))
    await form.locator("input[name='count']").fill("5")
    await form.locator("[data-action='install']").click()
    await page.wait_for_selector("[data-value='count']:text-is('5')", timeout=WAIT_MS)
    assert (await agent.api("GET", "/api/license")).json()["count"] == 5


OFFER = """async () => {
  sessionStorage.removeItem('phonet-agent.license-later');
  const [view, api, i18n, dom] = await Promise.all([
    import('/js/views/license.js'), import('/js/api.js'),
    import('/js/i18n.js'), import('/js/dom.js'),
  ]);
  const ctx = { api, t: i18n.t, i18n, h: dom.h, toast: dom.toast, modal: dom.modal };
  return view.offerAtFirstRun(ctx);
}"""


async def test_the_first_run_dialog_opens_until_put_off_and_installs_the_key(
    browser: Any, agent: AgentHandle, vendor: Vendor
) -> None:
    """``offerAtFirstRun(ctx)``, what the shell calls once it has started (L1)."""
    client_id = (await agent.api("GET", "/api/license")).json()["client_id"]
    page = await open_licence_page(browser, agent)
    dialog = page.locator(".backdrop form[data-license-form]")

    assert await page.evaluate(OFFER) is True
    await dialog.wait_for(state="visible", timeout=WAIT_MS)
    await dialog.locator("[data-action='later']").click()
    await dialog.wait_for(state="detached", timeout=WAIT_MS)
    later = await page.evaluate("sessionStorage.getItem('phonet-agent.license-later')")
    assert later == "1"  # put off for this session: the page's own form stays

    assert await page.evaluate(OFFER) is True
    await dialog.wait_for(state="visible", timeout=WAIT_MS)
    assert await dialog.locator("input[name='client_id']").input_value() == client_id
    await dialog.locator("input[name='client_code']").fill(CODE)
    await dialog.locator("input[name='count']").fill("2")
    await dialog.locator("textarea[name='key']").fill(vendor.key(client_id, CODE, 2))
    await dialog.locator("[data-action='install']").click()
    await dialog.wait_for(state="detached", timeout=WAIT_MS)
    assert (await agent.api("GET", "/api/license")).json()["state"] == "licensed"
    assert await page.evaluate(OFFER) is False  # registered: never again
    assert page.errors == []


async def test_the_window_opens_the_licence_dialog_at_the_first_connection(
    browser: Any, agent: AgentHandle
) -> None:
    """Manual §4: after the settings, the first connection opens the licence request form
    (the shell calls ``offerAtFirstRun``); it does not block the agent."""
    assert agent.agent.api is not None
    page = await (await browser.new_context()).new_page()
    await page.goto(f"{agent.agent.api.url}/#token={agent.agent.api.token}")
    dialog = page.locator(".backdrop form[data-license-form]")
    await dialog.wait_for(state="visible", timeout=WAIT_MS)
    assert (await agent.status())["connected"]  # one seat, working meanwhile
    await dialog.locator("[data-action='later']").click()
    await dialog.wait_for(state="detached", timeout=WAIT_MS)
    await page.reload()  # put off for this session: no dialog on a reload
    await page.wait_for_selector("body[data-ready='1']", timeout=WAIT_MS)
    assert await page.evaluate("sessionStorage.getItem('phonet-agent.license-later')") == "1"
    assert await dialog.count() == 0
