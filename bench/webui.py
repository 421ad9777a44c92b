"""Web UI: the Journal API page with 1M calls, and the Dial list page's first render with 1M entries (issue 7).

- **Journal API page, 1M calls (p50)**: ``GET /api/journal/search?scope=team&limit=50``
  over HTTP (keep-alive, the bearer token, the Guard, JSON) from an agent whose SQLite
  journal holds a million finished calls. Baseline, in the same run on the same
  database: the bare page query (``journal_query.page_sync``) through the same storage
  worker, without HTTP. A filtered page (direction + outcome) is measured beside it.
  Goal ≤ 20 ms.
- **Dial list page, first render, 1M entries (p50)**: headless Debian chromium opens
  the window's URL straight at the Dial list (``?open=page:dial-list``); the figure is
  ``performance.now()`` when the first table row is in the DOM (navigation start →
  rows shown: page load, i18n, the OpenAPI feature check, ``/api/dialer``,
  ``/api/dial-lists`` with its counts, the first 100 entries). Baseline: the same page
  on an empty list in the same agent.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CALLS = 1_000_000
ENTRIES = 1_000_000
REQUESTS = 300
RENDERS = 7
CHROMIUM = "/usr/bin/chromium"
NOW = datetime(2024, 5, 6, 10, 0, tzinfo=UTC)

NOTES = """Both agents run in this process with the live link off (no PBX): the figures are
the local API's and the page's own. The render figure is measured inside the page
(a MutationObserver added before any script runs), so it excludes Playwright's own
round trips; each run is a fresh browser context (no HTTP cache)."""

FIRST_ROW = """
window.__firstRow = null;
new MutationObserver((records, observer) => {
  if (document.querySelector('#dial-list-table tbody tr, #dial-list-empty')) {
    window.__firstRow = performance.now();
    observer.disconnect();
  }
}).observe(document, { childList: true, subtree: true });
sessionStorage.setItem('phonet-agent.license-later', '1');
"""


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _agent(data: Path, db_url: str) -> Any:
    from agent.app import Agent, AgentOptions
    from agent.paths import DataDir

    return Agent(
        AgentOptions(
            data_dir=DataDir(data).ensure(),
            domain="bench.phonet.local",
            ext="001",
            api_key="bench-key-not-used",
            db_url=db_url,
            base_url="http://127.0.0.1:9",  # nothing listens: the live link stays off
            headless=True,
            operator_overrides={"auto_connect": False},
            banner=lambda line: None,
        )
    )


# ------------------------------------------------------------------ journal page


async def _journal(tmp: Path) -> list[dict[str, Any]]:
    import httpx

    from agent.api.journal_query import JournalFilter, page_sync
    from agent.core.events import Direction
    from agent.core.outcomes import Outcome
    from agent.storage import Storage
    from tests.storage.bench_journal_page import fill

    url = f"sqlite:///{tmp / 'journal.db'}"
    with Storage.open_sync(url) as storage:
        fill(storage, CALLS)
    agent = _agent(tmp / "journal", url)
    await agent.start()
    try:
        assert agent.api is not None
        storage = agent.storage

        async def bare() -> float:
            t0 = time.perf_counter()
            await storage.run(page_sync, storage.db, JournalFilter(), limit=50, offset=0)
            return (time.perf_counter() - t0) * 1000

        headers = {"Authorization": f"Bearer {agent.api.token}"}
        async with httpx.AsyncClient(base_url=agent.api.url, headers=headers) as client:

            async def over_http(params: dict[str, Any]) -> float:
                t0 = time.perf_counter()
                response = await client.get("/api/journal/search", params=params)
                elapsed = (time.perf_counter() - t0) * 1000
                assert response.status_code == 200 and len(response.json()["items"]) == 50
                return elapsed

            team = {"scope": "team", "limit": 50}
            filtered = {**team, "direction": Direction.IN.value, "outcome": Outcome.ANSWERED.value}
            for _ in range(20):  # warm the page cache and the connection
                await over_http(team)
                await bare()
            http_times = [await over_http(team) for _ in range(REQUESTS)]
            bare_times = [await bare() for _ in range(REQUESTS)]
            filtered_times = [await over_http(filtered) for _ in range(REQUESTS)]
    finally:
        await agent.stop()
    http50, bare50 = statistics.median(http_times), statistics.median(bare_times)
    filtered50 = statistics.median(filtered_times)
    return [
        {
            "name": "journal API page, 1M calls, p50",
            "value": http50,
            "unit": "ms",
            "baseline_name": "bare page query on the storage worker",
            "baseline_value": bare50,
            "ratio": http50 / bare50,
            "goal": "≤ 20 ms",
        },
        {
            "name": "journal API page, 1M calls, p95",
            "value": _pct(http_times, 0.95),
            "unit": "ms",
            "baseline_name": "bare page query, p95",
            "baseline_value": _pct(bare_times, 0.95),
            "ratio": _pct(http_times, 0.95) / _pct(bare_times, 0.95),
            "goal": "—",
        },
        {
            "name": "journal API page filtered (in, completed), 1M calls, p50",
            "value": filtered50,
            "unit": "ms",
            "baseline_name": "unfiltered page over HTTP",
            "baseline_value": http50,
            "ratio": filtered50 / http50,
            "goal": "≤ 20 ms",
        },
    ]


# ------------------------------------------------------------------ dial list page


def _fill_dial_list(url: str) -> tuple[int, int]:
    from agent.storage import Storage
    from agent.storage.dialer_repository import DialerRepository, NewEntry

    with Storage.open_sync(url) as storage:
        repo = DialerRepository(storage.db)
        full = storage.call(repo.create_list, "001", "a million", NOW)
        empty = storage.call(repo.create_list, "001", "empty", NOW)
        batch = 100_000
        for start in range(0, ENTRIES, batch):
            rows = [
                NewEntry(number=f"+38067{i:07d}", next_dial_at=NOW + timedelta(seconds=i))
                for i in range(start, start + batch)
            ]
            storage.call(repo.add_entries, full, rows, NOW, replace=False)
        storage.call(repo.execute, "ANALYZE")
    return full, empty


async def _renders(browser: Any, url: str, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        context = await browser.new_context(viewport={"width": 420, "height": 640})
        await context.add_init_script(FIRST_ROW)
        page = await context.new_page()
        await page.goto(url)
        await page.wait_for_function("() => window.__firstRow !== null", timeout=120_000)
        times.append(float(await page.evaluate("() => window.__firstRow")))
        # Let the page finish (the list of lists comes after the rows), so its queries
        # do not hold the database while the next run is measured.
        await page.wait_for_selector("#dial-list-select option", state="attached", timeout=120_000)
        await context.close()
    return times


async def _dial_list(tmp: Path) -> list[dict[str, Any]]:
    import httpx
    from playwright.async_api import async_playwright

    from tests.webui.conftest import FLAGS

    url = f"sqlite:///{tmp / 'dial.db'}"
    full, empty = _fill_dial_list(url)
    agent = _agent(tmp / "dial", url)
    await agent.start()
    try:
        assert agent.api is not None
        headers = {"Authorization": f"Bearer {agent.api.token}"}
        page_url = f"{agent.api.url}/?open=page:dial-list#token={agent.api.token}"
        async with (
            httpx.AsyncClient(base_url=agent.api.url, headers=headers) as client,
            async_playwright() as playwright,
        ):
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            await client.post(f"/api/dial-lists/{empty}/activate")
            await _renders(browser, page_url, 2)  # warm: the files, the first queries
            empty_times = await _renders(browser, page_url, RENDERS)
            await client.post(f"/api/dial-lists/{full}/activate")
            await _renders(browser, page_url, 2)
            full_times = await _renders(browser, page_url, RENDERS)
            await browser.close()
    finally:
        await agent.stop()
    full50, empty50 = statistics.median(full_times), statistics.median(empty_times)
    return [
        {
            "name": "Dial list page, first render, 1M entries, p50",
            "value": full50,
            "unit": "ms",
            "baseline_name": "the same page on an empty list",
            "baseline_value": empty50,
            "ratio": full50 / empty50,
            "goal": "—",
        }
    ]


def run() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        rows += asyncio.run(_journal(Path(tmp)))
    if Path(CHROMIUM).exists():
        with tempfile.TemporaryDirectory() as tmp:
            rows += asyncio.run(_dial_list(Path(tmp)))
    return rows


if __name__ == "__main__":
    from bench.run import table

    print("\n".join(table(run())))
