"""Every page of the window, in each language (B7), renders without console errors, at
the 420×640 the window opens with and on a wide screen; a screenshot of each is saved
as a test artifact (tests/artifacts/webui/)."""

from __future__ import annotations

import pytest

from tests.webui.conftest import UI, UIFactory

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

NAV_PHONE = {"en": "Phone", "uk": "Телефон", "ru": "Телефон"}
NAV_JOURNAL = {"en": "Journal", "uk": "Журнал", "ru": "Журнал"}
DIAL = {"en": "Dial", "uk": "Дзвонити", "ru": "Позвонить"}


@pytest.mark.parametrize("lang", ["en", "uk", "ru"])
async def test_each_page_renders_in_each_language_without_console_errors(
    ui_factory: UIFactory, lang: str
) -> None:
    ui = await ui_factory(operator={"language": lang})
    await ui.open("phone")
    assert await ui.page.get_attribute("html", "lang") == lang
    assert (await ui.page.inner_text("#dial")).strip() == DIAL[lang]
    views = await ui.page.eval_on_selector_all(
        "nav.tabs a", "links => links.map(a => a.dataset.view)"
    )
    assert {"phone", "journal", "report", "settings", "health"} <= set(views)
    titles = await ui.page.eval_on_selector_all("nav.tabs a", "links => links.map(a => a.title)")
    assert NAV_PHONE[lang] in titles and NAV_JOURNAL[lang] in titles
    sections: list[str] = []
    for view in views:
        await ui.goto(view)
        await ui.page.wait_for_load_state("networkidle")
        await ui.screenshot(f"{view}-{lang}")
        assert await clipped_tabs(ui) == [], f"{view}: tabs out of the 420 px row"
        sections += await ui.page.eval_on_selector_all(
            "#sections a", "links => links.map(a => a.dataset.view)"
        )
    assert "jobs" in sections  # a section of Health (the tab row has no room for it)
    for view in sorted(set(sections) - set(views)):
        await ui.goto(view)
        await ui.page.wait_for_load_state("networkidle")
        await ui.screenshot(f"{view}-{lang}")
        active = await ui.page.eval_on_selector("nav.tabs a.active", "a => a.dataset.view")
        assert active != view and active in views
    ui.assert_clean()


async def clipped_tabs(ui: UI) -> list[str]:
    """The tabs not wholly inside the tab row (every icon must show at 420 px)."""
    found: list[str] = await ui.page.evaluate(
        """() => {
          const row = document.querySelector('nav.tabs').getBoundingClientRect();
          return [...document.querySelectorAll('nav.tabs a')]
            .filter(a => {
              const r = a.getBoundingClientRect();
              return r.left < row.left - 0.5 || r.right > row.right + 0.5;
            })
            .map(a => a.dataset.view);
        }"""
    )
    return found


async def test_the_window_grows_into_a_side_bar_layout(ui_factory: UIFactory) -> None:
    ui = await ui_factory(viewport=(1100, 720))
    await ui.open("phone")
    direction = await ui.page.eval_on_selector("nav.tabs", "n => getComputedStyle(n).flexDirection")
    assert direction == "column"
    await ui.screenshot("phone-wide")
    await ui.goto("report")
    await ui.screenshot("report-wide")
    await ui.goto("jobs")
    await ui.page.wait_for_selector("#presence-list")
    await ui.screenshot("jobs-wide")
    ui.assert_clean()


async def test_without_a_token_the_page_says_how_to_open_it(ui_factory: UIFactory) -> None:
    ui = await ui_factory(online=False)
    await ui.page.goto(f"{ui.url}/")
    await ui.page.wait_for_selector(".fatal")
    assert "tray" in (await ui.page.inner_text(".fatal")).lower()
    await ui.page.goto(f"{ui.url}/#token=wrong")
    await ui.page.reload()  # a new fragment alone does not load the page again
    await ui.page.wait_for_selector(".fatal h1")
    assert "expired" in await ui.page.inner_text(".fatal h1")


async def test_the_token_leaves_the_address_bar_at_once(ui_factory: UIFactory) -> None:
    ui = await ui_factory()
    await ui.open("")
    assert ui.token not in ui.page.url
    stored = await ui.page.evaluate("sessionStorage.getItem('phonet-agent.token')")
    assert stored == ui.token
