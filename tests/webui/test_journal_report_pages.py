"""The Journal, Report and Health pages (M3, B8, B15): filters, paging, the xlsx
downloads, the report's chart and table, the diagnostics bundle."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook

from tests.api.test_reports import JOURNAL, call
from tests.webui.conftest import UI, UIFactory

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


async def filled(ui_factory: UIFactory) -> UI:
    ui = await ui_factory(team={"time_zone": "Europe/Kyiv"})
    storage = ui.agent.services.storage
    today = datetime.now(UTC).replace(microsecond=0)
    recent = [call(100 + i, end=today - timedelta(hours=i)) for i in range(60)]
    await storage.run(storage.journal.upsert_many, [*JOURNAL, *recent])
    return ui


async def test_the_journal_pages_filters_and_exports(ui_factory: UIFactory) -> None:
    ui = await filled(ui_factory)
    await ui.open("journal")
    await ui.page.wait_for_selector("#journal-table")
    assert await ui.page.eval_on_selector_all("#journal-table tbody tr", "r => r.length") == 50
    await ui.page.click(".pager button[aria-label='Next page']")
    await ui.page.wait_for_function(
        "() => document.querySelectorAll('#journal-table tbody tr').length === 14"
    )
    await ui.page.select_option("select[name=direction]", "in")
    await ui.page.wait_for_function(
        "() => document.querySelectorAll('#journal-table tbody tr').length === 1"
    )
    async with ui.page.expect_download() as downloading:
        await ui.page.click("#journal-export")
    download = await downloading.value
    assert download.suggested_filename.startswith("journal-")
    data = (await download.path()).read_bytes()
    rows = list(load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True))
    assert len(rows) == 2 and rows[1][1] == "In"
    await ui.screenshot("journal-filtered")
    ui.assert_clean()


async def test_the_report_shows_a_chart_a_table_and_exports(ui_factory: UIFactory) -> None:
    ui = await filled(ui_factory)
    await ui.open("report")
    await ui.page.wait_for_selector("#report-table")
    assert await ui.page.query_selector("#report-body svg.chart rect.bar") is not None
    total = await ui.page.inner_text("#report-table tbody tr:last-child td:last-child")
    assert int(total) >= 1
    async with ui.page.expect_download() as downloading:
        await ui.page.click("#report-export")
    download = await downloading.value
    book = load_workbook(io.BytesIO((await download.path()).read_bytes()))
    assert book.sheetnames[0] == "Completed calls"
    await ui.screenshot("report")
    ui.assert_clean()


async def test_the_health_page_shows_the_link_and_gives_the_bundle(ui_factory: UIFactory) -> None:
    ui = await ui_factory()
    await ui.open("health")
    await ui.page.wait_for_selector("#link-state")
    assert await ui.page.inner_text("#link-state") == "Online"
    async with ui.page.expect_download() as downloading:
        await ui.page.click("#diagnostics")
    download = await downloading.value
    with zipfile.ZipFile(io.BytesIO((await download.path()).read_bytes())) as bundle:
        assert "health.json" in bundle.namelist()
        assert ui.token not in "".join(bundle.read(n).decode() for n in bundle.namelist())
    await ui.screenshot("health")
    ui.assert_clean()
