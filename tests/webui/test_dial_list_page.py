"""The Dial list page (M6, A2): a file import shows a progress bar and the report of
rejected rows; calling paused for N minutes shows a countdown; entries move and go."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.simulator import SimControl
from tests.webui.conftest import UI, UIFactory

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

# Remembers every element id ever added to the page, so a progress bar that came and
# went between two looks is still seen.
SEEN_IDS = """
window.__seen = new Set();
new MutationObserver((records) => {
  for (const r of records) for (const n of r.addedNodes) {
    if (n.nodeType !== 1) continue;
    if (n.id) window.__seen.add(n.id);
    for (const inner of n.querySelectorAll('[id]')) window.__seen.add(inner.id);
  }
}).observe(document, { childList: true, subtree: true });
"""


async def seen(ui: UI, element_id: str) -> bool:
    return bool(await ui.page.evaluate("id => window.__seen.has(id)", element_id))


async def test_a_file_import_shows_progress_and_the_rejected_rows(
    ui_factory: UIFactory, tmp_path: Path
) -> None:
    table = tmp_path / "numbers.csv"
    rows = ["Name,Phone,Note"]
    rows += [f"Client {i},+38050{1000000 + i},ok" for i in range(300)]
    rows += ["Broken one,not a number,x", "Empty,,y"]
    table.write_text("\n".join(rows) + "\n", encoding="utf-8")
    ui = await ui_factory()
    await ui.page.add_init_script(SEEN_IDS)
    await ui.open("dial-list")
    await ui.page.click("#dial-list-fill")
    await ui.page.set_input_files("#fill-file", str(table))
    await ui.page.wait_for_selector("#rejected-rows")
    assert await seen(ui, "import-progress")
    report = await ui.page.inner_text("#import-report")
    assert "300" in report
    rejected = await ui.page.eval_on_selector_all(
        "#rejected-rows tbody tr", "rows => rows.map(r => r.cells[0].textContent)"
    )
    assert rejected == ["302", "303"]  # spreadsheet rows, the header being row 1
    await ui.screenshot("dial-list-import-report")
    await ui.page.keyboard.press("Escape")
    await ui.page.wait_for_selector("#dial-list-table tbody tr")
    count = await ui.page.eval_on_selector_all("#dial-list-table tbody tr", "r => r.length")
    assert count == 100  # the first page of the 300
    assert "300" in await ui.page.inner_text(".pager-label")
    await ui.page.click(".pager button[aria-label='Next page']")
    await ui.page.wait_for_function(
        "() => document.querySelector('#dial-list-table tbody tr td').textContent === '101'"
    )
    await ui.screenshot("dial-list")
    assert all("404" not in e for e in ui.errors)
    ui.assert_clean()


async def test_pausing_calls_for_five_minutes_shows_a_countdown(
    ui_factory: UIFactory, sim: SimControl
) -> None:
    sim.script("+380501234001", answer=False, ring_s=30)
    sim.script("+380501234002", answer=False, ring_s=30)
    ui = await ui_factory()
    await ui.open("dial-list")
    for number in ("+380501234001", "+380501234002"):
        await ui.page.click("#dial-list-fill")
        await ui.page.fill("#add-number", number)
        await ui.page.click("#add-number-ok")
        await ui.page.wait_for_selector(f"#dial-list-table td:has-text('{number}')")
    await ui.page.click("#dialer-start")
    await ui.page.wait_for_selector("#dialer-pause:not([hidden])")
    await ui.page.click("#dialer-pause")
    await ui.page.click("button[data-minutes='5']")
    await ui.page.wait_for_selector("#pause-countdown:not([hidden])")
    first = await ui.page.inner_text("#pause-countdown")
    assert first in ("5:00", "4:59", "4:58")
    await ui.page.wait_for_function(
        "first => document.querySelector('#pause-countdown').textContent !== first", arg=first
    )
    assert await ui.page.inner_text("#dialer-state") == "Paused"
    await ui.screenshot("dial-list-paused")
    await ui.page.click("#dialer-resume")
    await ui.page.wait_for_selector("#pause-countdown", state="hidden")
    await ui.page.click("#dialer-stop")
    await ui.page.wait_for_function(
        "() => document.querySelector('#dialer-state').textContent === 'Stopped'"
    )
    for call in sim.calls():
        if call["state"] != "ended":
            sim.hangup(call["uuid"])
    ui.assert_clean()


async def test_a_custom_pause_and_entry_actions(ui_factory: UIFactory) -> None:
    ui = await ui_factory()
    await ui.open("dial-list")
    for number in ("+380501230001", "+380501230002"):
        await ui.page.click("#dial-list-fill")
        await ui.page.fill("#add-number", number)
        await ui.page.click("#add-number-ok")
        await ui.page.wait_for_selector(f"#dial-list-table td:has-text('{number}')")
    second = await ui.page.get_attribute("#dial-list-table tbody tr:nth-child(2)", "data-id")
    await ui.page.click(f"button[data-act='up'][data-id='{second}']")
    await ui.page.wait_for_function(
        "id => document.querySelector('#dial-list-table tbody tr').dataset.id === id", arg=second
    )
    await ui.page.click(f"button[data-act='skip'][data-id='{second}']")
    await ui.page.wait_for_selector(f"tr[data-id='{second}'][data-state='skipped']")
    await ui.page.click(f"button[data-act='trash'][data-id='{second}']")
    await ui.page.click(".dialog button.danger")
    await ui.page.wait_for_selector(f"tr[data-id='{second}']", state="detached")
    ui.assert_clean()


async def test_the_list_selector_counts_follow_adding_and_deleting_entries_m6(
    ui_factory: UIFactory,
) -> None:
    ui = await ui_factory()
    await ui.open("dial-list")
    selected = "#dial-list-select option:checked"
    await ui.page.wait_for_selector("#dial-list-select:not([hidden])")
    assert (await ui.page.inner_text(selected)).endswith("(0)")
    for count, number in enumerate(("+380501230011", "+380501230012"), 1):
        await ui.page.click("#dial-list-fill")
        await ui.page.fill("#add-number", number)
        await ui.page.click("#add-number-ok")
        await ui.page.wait_for_function(
            "([sel, n]) => document.querySelector(sel).textContent.endsWith(`(${n})`)",
            arg=[selected, count],
        )
    first = await ui.page.get_attribute("#dial-list-table tbody tr:first-child", "data-id")
    await ui.page.click(f"button[data-act='trash'][data-id='{first}']")
    await ui.page.click(".dialog button.danger")
    await ui.page.wait_for_function(
        "sel => document.querySelector(sel).textContent.endsWith('(1)')", arg=selected
    )
    await ui.screenshot("dial-list-counts")
    ui.assert_clean()


async def test_replacing_a_list_from_a_file_asks_first_m6(
    ui_factory: UIFactory, tmp_path: Path
) -> None:
    """F8: "Replace" drops the entries and their attempts, so the window asks."""
    table = tmp_path / "new.csv"
    table.write_text("Phone\n+380501239001\n", encoding="utf-8")
    ui = await ui_factory()
    await ui.open("dial-list")
    selected = "#dial-list-select option:checked"
    for count, number in enumerate(("+380501230021", "+380501230022"), 1):
        await ui.page.click("#dial-list-fill")
        await ui.page.fill("#add-number", number)
        await ui.page.click("#add-number-ok")
        await ui.page.wait_for_function(
            "([sel, n]) => document.querySelector(sel).textContent.endsWith(`(${n})`)",
            arg=[selected, count],
        )

    async def choose_file_to_replace() -> str:
        await ui.page.click("#dial-list-fill")
        await ui.page.select_option("#fill-mode", "replace")
        await ui.page.set_input_files("#fill-file", str(table))
        await ui.page.wait_for_selector(".dialog button.danger")
        return await ui.page.inner_text(".dialog")

    asked = await choose_file_to_replace()
    assert "Replace the 2 entries" in asked
    await ui.page.click(".dialog button:not(.danger)")
    await ui.page.wait_for_selector(".dialog", state="detached")
    assert (await ui.page.inner_text(selected)).endswith("(2)")

    await choose_file_to_replace()
    await ui.page.click(".dialog button.danger")
    await ui.page.wait_for_selector("#dial-list-table td:has-text('+380501239001')")
    assert (await ui.page.inner_text(selected)).endswith("(1)")
    ui.assert_clean()
