"""Fixtures of the desktop tests: a real private desktop session (session.py) and the
agent running in it as a subprocess, observed by screenshots, the bus, the
simulator's request log and the agent's own API (desktop-testing.md).

- ``desktop``: the session (Xvfb, trayer, dunst, gnome-keyring on a private bus),
  started once; tests needing it skip with the reason when a binary is missing.
- ``agent``: the test module's agent (``python -m agent run`` in that session, against
  the simulator; settings from the module's ``AGENT_SETTINGS``), online again after
  the simulator's reset for the test. Tests leave it as they found it (DND off,
  connected). It quits after the module and must exit 0, leaving no secret on disk.
- ``desktop_agent``: ``start(**operator_settings)`` for a test needing an agent of its own.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.paths import DataDir
from agent.simulator import SimControl, SimulatorInfo, SimulatorThread
from agent.storage.database import Storage
from tests.desktop.session import DesktopSession, MissingPart, missing_binaries, wait_for

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts" / "desktop"
AGENT_START_S = 30.0
# Settings every desktop agent gets: fast reconnects, a DND combination (U4), popups
# that stay until replaced (the test reads them), no global hotkey unless asked.
BASE_OPERATOR: dict[str, Any] = {
    "reconnect_s": 0.05,
    "reconnect_max_s": 0.2,
    "dnd_code": "*78",
    "popup_seconds": 0,
    "hotkey": "",
}


@pytest.fixture(scope="session")
def desktop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DesktopSession]:
    missing = missing_binaries()
    if missing:
        pytest.skip("desktop session parts not installed: " + ", ".join(missing))
    try:
        import gi  # noqa: F401  the GTK tray backend (Debian's gi exposed to the venv)
    except ImportError:
        pytest.skip("Debian's python3-gi is not visible to this Python (dev.py exposes it)")
    session = DesktopSession(tmp_path_factory.mktemp("desktop"), ARTIFACTS)
    try:
        session.start()
    except MissingPart as exc:
        pytest.skip(str(exc))
    yield session
    session.stop()


@dataclass
class RunningAgent:
    process: subprocess.Popen[bytes]
    data_dir: DataDir
    desktop: DesktopSession
    sim: SimControl
    output: Path
    endpoint: tuple[str, str] = ("", "")
    exit_code: int | None = field(default=None)

    def api(self, method: str, path: str, body: Any = None) -> httpx.Response:
        url, token = self.endpoint
        return httpx.request(
            method,
            url + path,
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )

    def status(self) -> dict[str, Any]:
        response = self.api("GET", "/api/status")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def log(self) -> str:
        """The agent's log file and what it printed (either may not exist yet)."""
        parts = []
        for path in (self.data_dir.log_file, self.output):
            try:
                parts.append(path.read_text(encoding="utf-8", errors="replace"))
            except OSError:
                pass
        return "\n".join(parts)

    def requests(self, path: str) -> list[dict[str, Any]]:
        return [r for r in self.sim.requests() if r["path"] == path]

    def quit(self) -> int:
        if self.process.poll() is None:
            with contextlib.suppress(httpx.HTTPError):
                self.api("POST", "/api/quit")
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(10)
        self.exit_code = self.process.returncode
        return self.exit_code


def save_settings(data_dir: DataDir, domain: str, ext: str, values: dict[str, Any]) -> None:
    """Operator settings stored in the agent's database before it starts."""
    with Storage.open_sync(data_dir.database_url) as storage:
        storage.call(storage.settings.save, f"operator:{domain}/{ext}", values)


def launch(
    desktop: DesktopSession,
    info: SimulatorInfo,
    sim: SimControl,
    root: Path,
    *,
    key_in_env: bool = True,
    env: dict[str, str] | None = None,
    **operator: Any,
) -> RunningAgent:
    """``python -m agent run`` in the desktop session, against the simulator; online."""
    desktop.close_all_popups()
    data_dir = DataDir(root).ensure()
    save_settings(data_dir, info.domain, "001", {**BASE_OPERATOR, **operator})
    output = root.with_suffix(".out")
    args = [sys.executable, "-m", "agent", "run", "--data-dir", str(data_dir.root)]
    args += ["--base-url", info.base_url, "--domain", info.domain, "--ext", "001", "-v"]
    environ = {**desktop.env, "PYTHONPATH": str(ROOT), **(env or {})}
    if key_in_env:
        environ["PHONET_API_KEY"] = info.api_key
    with output.open("wb") as out:  # the child keeps its own copy
        process = subprocess.Popen(
            args, env=environ, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
        )
    agent = RunningAgent(process, data_dir, desktop, sim, output)

    def endpoint() -> tuple[str, str] | None:
        if process.poll() is not None:
            raise AssertionError(f"the agent exited ({process.returncode}):\n{agent.log()}")
        try:
            data = json.loads(data_dir.api_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return str(data["url"]), str(data["token"])

    agent.endpoint = wait_for(endpoint, AGENT_START_S, "the agent's api.json")
    wait_for(lambda: agent.status()["connected"], AGENT_START_S, "the agent online")
    return agent


def finish(agent: RunningAgent, api_key: str) -> None:
    """Quit cleanly (exit 0, api.json removed), and the API key is nowhere on disk: not
    in the database, the logs (debug level, the live-stream URL included), the config,
    nor what the agent printed."""
    code = agent.quit()
    assert code == 0, f"the agent exited {code}:\n{agent.log()[-3000:]}"
    assert not agent.data_dir.api_file.exists(), "api.json left behind by a clean exit"
    assert files_holding(api_key, agent.data_dir.root, agent.output) == []


@pytest.fixture(scope="module")
def module_agent(
    request: pytest.FixtureRequest,
    desktop: DesktopSession,
    _simulator_thread: SimulatorThread,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningAgent]:
    """One agent for a test module (starting one costs seconds); the module's
    ``AGENT_SETTINGS`` are its operator settings."""
    info = _simulator_thread.info
    settings = getattr(request.module, "AGENT_SETTINGS", {})
    with SimControl(info.base_url) as control:
        agent = launch(
            desktop, info, control, tmp_path_factory.mktemp("agent") / "data", **settings
        )
        yield agent
        finish(agent, info.api_key)


@pytest.fixture
def agent(module_agent: RunningAgent, sim: SimControl, desktop: DesktopSession) -> RunningAgent:
    """The module's agent, online again after the simulator's reset for this test.

    The reset dropped the live link (tests/conftest.py); the agent reconnects at once
    (reconnect_s 0.05). Online means: the simulator sees a connection and the agent
    says it is connected (it processed the drop before it reconnected)."""
    module_agent.sim = sim
    wait_for(
        lambda: sim.connections() and module_agent.status()["connected"],
        AGENT_START_S,
        "the agent online again",
    )
    desktop.close_all_popups()
    return module_agent


@pytest.fixture
def desktop_agent(
    desktop: DesktopSession, simulator: SimulatorInfo, sim: SimControl, tmp_path: Path
) -> Iterator[Callable[..., RunningAgent]]:
    """``start(key_in_env=True, **operator_settings)``: an agent of the test's own."""
    started: list[RunningAgent] = []

    def start(
        *, key_in_env: bool = True, env: dict[str, str] | None = None, **operator: Any
    ) -> RunningAgent:
        root = tmp_path / f"agent-{len(started)}"
        agent = launch(desktop, simulator, sim, root, key_in_env=key_in_env, env=env, **operator)
        started.append(agent)
        return agent

    yield start
    for agent in started:
        finish(agent, simulator.api_key)


def files_holding(secret: str, *places: Path) -> list[Path]:
    found = []
    needle = secret.encode()
    for place in places:
        for path in [place] if place.is_file() else place.rglob("*"):
            if path.is_file() and needle in path.read_bytes():
                found.append(path)
    return found
