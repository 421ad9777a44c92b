"""The window's dial-list import follows the agent's reading and storing once the
upload is sent (M6 «Загрузить из файла»; hub topic "import", kind "dial_list";
webui/js/import_progress.js), as the contact import's does (U7)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.webui.conftest import UIFactory, browser, ui_factory  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

ROWS = 12_000  # past two of the reader's batches of 5000 and one import chunk of 10000

# Every text the import dialog's stage line showed, with whether the bar then had a value.
STAGES = """
window.__stages = [];
new MutationObserver(() => {
  const stage = document.querySelector('#import-stage');
  const bar = document.querySelector('#import-progress');
  if (!stage || !stage.textContent) return;
  const seen = window.__stages[window.__stages.length - 1];
  const value = bar && bar.hasAttribute('value') ? bar.value : null;
  const entry = { text: stage.textContent, value };
  if (!seen || seen.text !== entry.text) window.__stages.push(entry);
}).observe(document, { childList: true, subtree: true, characterData: true, attributes: true });
"""


async def test_a_dial_list_import_shows_the_agents_reading_and_storing_m6(
    ui_factory: UIFactory,  # noqa: F811
    tmp_path: Path,
) -> None:
    table = tmp_path / "numbers.csv"
    lines = ["Name,Phone"] + [f"Client {i},+38050{2000000 + i}" for i in range(ROWS)]
    table.write_text("\n".join([*lines, "Broken,not a number"]) + "\n", encoding="utf-8")
    ui = await ui_factory()
    await ui.page.add_init_script(STAGES)
    await ui.open("dial-list")
    await ui.page.click("#dial-list-fill")
    await ui.page.set_input_files("#fill-file", str(table))
    await ui.page.wait_for_selector("#import-report", timeout=60_000)
    assert "12000" in await ui.page.inner_text("#import-report")
    stages = await ui.page.evaluate("window.__stages")
    assert any(s["text"].startswith("Reading the file: row") for s in stages), stages
    storing = [s for s in stages if s["text"].startswith("Saving:")]
    assert storing, stages
    assert storing[-1]["text"] == "Saving: 12,000 of 12,000"
    assert all(s["value"] is not None for s in storing)  # a determinate bar
    ui.assert_clean()
