"""A file import's progress follows the agent's own work once the upload is sent (U7,
M6; live topic "import", kinds "contacts" and "dial_list"; webui/js/import_progress.js):
the bar does not sit indeterminate while the agent reads and stores a large file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.webui.conftest import UIFactory

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

ROWS = 12_000  # past two batches of 5000 read and one dial-list chunk of 10000


def stages_seen(stage_id: str, bar_id: str) -> str:
    """A script recording every text the import dialog's stage line showed, with whether
    the bar then had a value (``window.__stages``)."""
    return """
window.__stages = [];
new MutationObserver(() => {
  const stage = document.querySelector('#STAGE');
  const bar = document.querySelector('#BAR');
  if (!stage || !stage.textContent) return;
  const seen = window.__stages[window.__stages.length - 1];
  const value = bar && bar.hasAttribute('value') ? bar.value : null;
  const entry = { text: stage.textContent, value };
  if (!seen || seen.text !== entry.text) window.__stages.push(entry);
}).observe(document, { childList: true, subtree: true, characterData: true, attributes: true });
""".replace("STAGE", stage_id).replace("BAR", bar_id)


def assert_read_then_stored(stages: list[dict[str, object]]) -> None:
    assert any(str(s["text"]).startswith("Reading the file: row") for s in stages), stages
    storing = [s for s in stages if str(s["text"]).startswith("Saving:")]
    assert storing, stages
    assert storing[-1]["text"] == "Saving: 12,000 of 12,000"
    assert all(s["value"] is not None for s in storing)  # a determinate bar


async def test_a_contacts_import_shows_the_agents_reading_and_storing_u7(
    ui_factory: UIFactory, tmp_path: Path
) -> None:
    table = tmp_path / "contacts.csv"
    lines = ["Name,Phone"] + [f"Client {i},+38050{2000000 + i}" for i in range(ROWS)]
    table.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ui = await ui_factory()
    await ui.page.add_init_script(stages_seen("contact-import-stage", "contact-import-progress"))
    await ui.open("contacts")
    await ui.page.click("#contact-import")
    await ui.page.set_input_files("#contact-import-file", str(table))
    await ui.page.wait_for_function(
        "() => /Added 12000/.test(document.querySelector('.dialog').textContent)", timeout=60_000
    )
    assert_read_then_stored(await ui.page.evaluate("window.__stages"))
    ui.assert_clean()


async def test_a_dial_list_import_shows_the_agents_reading_and_storing_m6(
    ui_factory: UIFactory, tmp_path: Path
) -> None:
    table = tmp_path / "numbers.csv"
    lines = ["Name,Phone"] + [f"Client {i},+38050{2000000 + i}" for i in range(ROWS)]
    table.write_text("\n".join([*lines, "Broken,not a number"]) + "\n", encoding="utf-8")
    ui = await ui_factory()
    await ui.page.add_init_script(stages_seen("import-stage", "import-progress"))
    await ui.open("dial-list")
    await ui.page.click("#dial-list-fill")
    await ui.page.set_input_files("#fill-file", str(table))
    await ui.page.wait_for_selector("#import-report", timeout=60_000)
    assert "12000" in await ui.page.inner_text("#import-report")
    assert_read_then_stored(await ui.page.evaluate("window.__stages"))
    ui.assert_clean()
