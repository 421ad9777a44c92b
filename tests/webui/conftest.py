"""Browser tests of the web UI: Playwright for Python driving Debian's chromium
(``/usr/bin/chromium``, never a downloaded browser; desktop-testing.md), against an
in-process agent wired to the real simulator.

One chromium per test module (its loop is the module's: test modules here set
``pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]``),
a fresh browser context and agent per test. Each page's console errors and uncaught
exceptions are collected; ``UI.assert_clean()`` fails on any. Screenshots go to
``tests/artifacts/webui/`` and their paths are printed into the test log.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from agent.app import Agent, AgentOptions
from agent.paths import DataDir
from agent.simulator import SimulatorInfo
from tests.api.conftest import MemorySecrets
from tests.scenarios.conftest import FAST_OPERATOR

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts" / "webui"
TIMEOUT_MS = 15_000
# desktop-testing.md, "Browser tests of the web UI": the flags that keep Debian's
# chromium quiet, sandbox-free as root, and away from Google hosts.
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
# The licence view (issue 8) offers its form at the first start of a session without a
# key; the window's tests put it off as an operator would ("Later").
LICENSE_LATER = "sessionStorage.setItem('phonet-agent.license-later', '1')"

log = logging.getLogger("tests.webui")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt install chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        await launched.close()


@dataclass
class UI:
    """One agent and one browser page on its web UI."""

    agent: Agent
    page: Any
    secrets: MemorySecrets
    lines: list[str]
    errors: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        assert self.agent.api is not None
        return self.agent.api.url

    @property
    def token(self) -> str:
        assert self.agent.api is not None
        return self.agent.api.token

    async def open(self, view: str = "phone", *, query: str = "") -> None:
        await self.page.goto(f"{self.url}/{query}#token={self.token}")
        await self.page.wait_for_selector("body[data-ready='1']")
        if view:
            await self.goto(view)

    async def goto(self, view: str) -> None:
        await self.page.evaluate("hash => { location.hash = hash; }", f"#/{view}")
        name = view.split("/")[0].split("?")[0]
        await self.page.wait_for_selector(f"#view[data-view='{name}'][data-ready='1']")

    async def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        await self.page.screenshot(path=str(path))
        print(f"screenshot: {path}")
        return path

    def assert_clean(self) -> None:
        assert self.errors == [], "console errors or uncaught exceptions:\n" + "\n".join(
            self.errors
        )

    async def api(self, method: str, path: str, body: Any = None) -> Any:
        import httpx

        async with httpx.AsyncClient(base_url=self.url) as client:
            response = await client.request(
                method, path, json=body, headers={"Authorization": f"Bearer {self.token}"}
            )
        return response


UIFactory = Callable[..., Awaitable[UI]]


@pytest_asyncio.fixture(loop_scope="module")
async def ui_factory(
    browser: Any, simulator: SimulatorInfo, tmp_path: Path
) -> AsyncIterator[UIFactory]:
    started: list[tuple[Agent, Any]] = []

    async def start(
        *,
        operator: dict[str, Any] | None = None,
        team: dict[str, Any] | None = None,
        viewport: tuple[int, int] = (420, 640),
        locale: str = "en-GB",
        online: bool = True,
        timezone: str | None = None,
        db_url: str | None = None,
        ext: str = "001",
    ) -> UI:
        lines: list[str] = []
        agent = Agent(
            AgentOptions(
                data_dir=DataDir(tmp_path / f"agent-{len(started)}").ensure(),
                domain=simulator.domain,
                ext=ext,
                api_key=simulator.api_key,
                db_url=db_url,
                base_url=simulator.base_url,
                headless=True,
                team_overrides={"completed_talk_s": 0, **(team or {})},
                operator_overrides={**FAST_OPERATOR, **(operator or {})},
                banner=lines.append,
            )
        )
        await agent.start()
        secrets = MemorySecrets()
        agent.services.secrets = secrets
        context = await browser.new_context(
            viewport={"width": viewport[0], "height": viewport[1]},
            locale=locale,
            timezone_id=timezone,
            accept_downloads=True,
        )
        context.set_default_timeout(TIMEOUT_MS)
        await context.add_init_script(LICENSE_LATER)
        page = await context.new_page()
        started.append((agent, context))
        ui = UI(agent, page, secrets, lines)
        page.on(
            "console",
            lambda m: (
                ui.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None
            ),
        )
        page.on("pageerror", lambda exc: ui.errors.append(f"uncaught: {exc}"))
        if online:
            from tests.scenarios.conftest import wait_until

            await wait_until(lambda: agent.runtime is not None and agent.runtime.phone.link_up)
        return ui

    yield start
    for agent, context in reversed(started):
        await context.close()
        await agent.stop()


def chromium_missing() -> bool:
    return shutil.which(CHROMIUM) is None
