"""The desktop wiring of a real agent in this process, where no display is needed.

The agent is the real one (agent/app.py) against the real simulator, with its real
desktop wiring (agent/desktop/wiring.py: popups, tray feed, settings listener,
autostart); only the tray icon is a stand-in (:class:`StandInTray`), because pystray
needs a display and the GUI is not what these tests are about. Popups find no
notification server here and take their console fallback.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.app import Agent, AgentOptions
from agent.desktop.view import TrayView
from agent.desktop.wiring import Desktop, attach_desktop
from agent.paths import DataDir
from agent.simulator import SimulatorInfo

# Fast reconnects; no global hotkey (it would grab keys of whatever X display is set).
OPERATOR: dict[str, Any] = {"reconnect_s": 0.05, "reconnect_max_s": 0.2, "hotkey": ""}


class StandInTray:
    """What the shell and the wiring use of agent/desktop/tray.py's Tray, without a
    display: it records the views it is shown; :meth:`run` blocks until :meth:`stop`."""

    has_balloon = False

    def __init__(
        self,
        backend: str = "test",
        *,
        run_command: Callable[[Any], None] | None = None,
        tz: Any = None,
    ) -> None:
        self.backend = backend
        self.run_command = run_command
        self.views: list[TrayView] = []
        self._stopped = threading.Event()

    def run(self, on_ready: Callable[[], None] | None = None) -> None:
        if on_ready is not None:
            on_ready()
        self._stopped.wait()

    def stop(self) -> None:
        self._stopped.set()

    def wait_stopped(self, timeout: float) -> bool:
        return self._stopped.wait(timeout)

    def show(self, view: TrayView) -> None:
        self.views.append(view)

    def balloon(self, title: str, text: str) -> None:
        pass


def no_desktop_session(monkeypatch: pytest.MonkeyPatch, config_home: Path) -> None:
    """No display and no session bus (nothing of the developer's desktop is touched);
    the XDG autostart entry lives under ``config_home``."""
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config_home))


def agent_options(
    info: SimulatorInfo, root: Path, *, team: dict[str, Any] | None = None, **operator: Any
) -> AgentOptions:
    return AgentOptions(
        data_dir=DataDir(root).ensure(),
        domain=info.domain,
        ext="001",
        api_key=info.api_key,
        base_url=info.base_url,
        headless=False,
        team_overrides=team or {},
        operator_overrides={**OPERATOR, **operator},
        banner=lambda _line: None,
    )


@dataclass
class DesktopAgent:
    agent: Agent
    tray: StandInTray
    desktops: list[Desktop] = field(default_factory=list)

    async def api(self, method: str, path: str, body: Any = None) -> httpx.Response:
        assert self.agent.api is not None
        async with httpx.AsyncClient(base_url=self.agent.api.url) as client:
            return await client.request(
                method, path, json=body, headers={"Authorization": f"Bearer {self.agent.api.token}"}
            )


@contextlib.asynccontextmanager
async def desktop_agent(
    info: SimulatorInfo, root: Path, *, team: dict[str, Any] | None = None, **operator: Any
) -> AsyncIterator[DesktopAgent]:
    """A started agent with its desktop wiring (``team``/``operator`` settings on top of
    the stored ones); stopped as the shell stops it."""
    tray = StandInTray()
    handle: DesktopAgent | None = None

    async def attach(agent: Agent) -> None:
        assert handle is not None
        handle.desktops.append(await attach_desktop(agent, tray))  # type: ignore[arg-type]

    agent = Agent(replace(agent_options(info, root, team=team, **operator), desktop=attach))
    handle = DesktopAgent(agent, tray)
    await agent.start()
    try:
        yield handle
    finally:
        for desktop in handle.desktops:
            await desktop.close()
        await agent.stop()
