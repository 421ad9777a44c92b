"""The tray agent holds the Windows hooks the headless one holds (issue 9 with issue 3):
the installer's AppMutex, the ``--quit`` event and the session-end hook, installed once
the agent has started and released once it has stopped.

The Win32 calls themselves cannot run here: a stand-in for agent/winsupport.py records
what the agent holds and lets the test do what Windows would (signal the quit event,
end the session). The agent, its desktop shell and the simulator are real; only the
tray icon is a stand-in (tests/desktop/inprocess.py). What these tests cannot show —
the real mutex seen by the installer, the real WM_ENDSESSION — is the packaging
smoke test's on Windows (agent/selftest.py).
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent import app, winsupport
from agent.app import Agent, _windows_hooks, platform_hooks
from agent.simulator import SimulatorInfo
from tests.desktop.inprocess import StandInTray, agent_options, no_desktop_session
from tests.desktop.session import wait_for


class StandInWindows:
    """agent/winsupport.py's parts as agent/app.py uses them, recording the agent's
    state (is its ``api.json`` still there?) whenever one is released."""

    def __init__(self, api_file: Path) -> None:
        self.api_file = api_file
        self.held: list[str] = []
        self.released: dict[str, bool] = {}  # part -> api.json existed at its release
        self.quit: Callable[[str], None] | None = None
        self.session_end: Callable[[str], None] | None = None
        self.installed_while_serving: bool | None = None

    def _part(self, name: str) -> Any:
        self.held.append(name)
        windows = self

        class Part:
            def release(self) -> None:
                windows.released[name] = windows.api_file.exists()

            close = release

        return Part()

    def hold_instance_mutexes(self) -> Any:
        self.installed_while_serving = self.api_file.exists()
        return self._part("mutexes")

    def QuitListener(self, on_quit: Callable[[str], None]) -> Any:
        self.quit = on_quit
        return self._part("quit listener")

    def SessionEndHook(self, on_end: Callable[[str], None]) -> Any:
        self.session_end = on_end
        return self._part("session-end hook")

    def set_app_user_model_id(self) -> None:
        pass


@pytest.fixture
def shell_signals() -> Iterator[None]:
    """DesktopShell.run installs SIGINT/SIGTERM handlers: give pytest its own back."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def run_tray_agent(
    info: SimulatorInfo,
    root: Path,
    windows: StandInWindows,
    act: Callable[[Agent], None],
    monkeypatch: pytest.MonkeyPatch,
) -> int:
    """``run_desktop`` as ``phonet-agent run`` calls it on a desktop, with the stand-ins
    for the tray icon and the Win32 parts; ``act(agent)`` runs on a thread of its own
    once the hooks are set up."""
    from agent.desktop import shell

    shells: list[shell.DesktopShell] = []

    class Shell(shell.DesktopShell):
        def __init__(self, **_: Any) -> None:
            super().__init__(backend="test", tray_factory=StandInTray)
            shells.append(self)

    monkeypatch.setattr(shell, "DesktopShell", Shell)
    hooked: list[Agent] = []

    def hooks(agent: Agent, loop: Any) -> Any:
        hooked.append(agent)
        return _windows_hooks(agent, loop, support=windows)

    monkeypatch.setattr(app, "platform_hooks", hooks)
    failed: list[BaseException] = []

    def actor() -> None:
        try:
            wait_for(lambda: windows.session_end is not None, 120, "the hooks set up")
            act(hooked[0])
        except BaseException as exc:  # never leave the tray agent running: fail instead
            failed.append(exc)
            wait_for(lambda: shells, 30, "the shell made")
            shells[0].request_quit()

    thread = threading.Thread(target=actor, name="windows")
    thread.start()
    try:
        code = app.run_desktop(agent_options(info, root))
    finally:
        thread.join(150)
    if failed:
        raise failed[0]
    return code


def test_the_quit_event_stops_the_tray_agent_cleanly_and_the_mutex_goes_last(
    simulator: SimulatorInfo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    shell_signals: None,
) -> None:
    """``phonet-agent --quit`` (and the installer) set the quit event and wait for the
    AppMutex to go: the tray agent holds it while serving, and lets it go only after
    it stopped cleanly (api.json removed)."""
    no_desktop_session(monkeypatch, tmp_path / "config")
    windows = StandInWindows(tmp_path / "data" / "api.json")

    def quit_event(_agent: Agent) -> None:
        assert windows.quit is not None
        windows.quit("quit")  # what the listener's thread calls when the event is set

    code = run_tray_agent(simulator, tmp_path / "data", windows, quit_event, monkeypatch)

    assert code == 0
    assert windows.held == ["mutexes", "quit listener", "session-end hook"]
    assert windows.installed_while_serving is True
    assert windows.released == {
        "mutexes": False,
        "quit listener": False,
        "session-end hook": False,
    }  # all released, each after the agent had stopped


def test_at_logoff_the_session_end_callback_returns_only_once_the_agent_has_stopped(
    simulator: SimulatorInfo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    shell_signals: None,
) -> None:
    """Windows may kill the process as soon as WM_ENDSESSION's handler returns."""
    no_desktop_session(monkeypatch, tmp_path / "config")
    windows = StandInWindows(tmp_path / "data" / "api.json")
    seen: dict[str, bool] = {}

    def logoff(agent: Agent) -> None:
        assert windows.session_end is not None
        windows.session_end("logoff")
        seen["stopped"] = agent.stopped_sync.is_set()
        seen["api.json"] = windows.api_file.exists()

    assert run_tray_agent(simulator, tmp_path / "data", windows, logoff, monkeypatch) == 0
    assert seen == {"stopped": True, "api.json": False}


def test_off_windows_there_are_no_platform_hooks_and_winsupport_refuses_clearly() -> None:
    """What runs on Linux: the same call on both paths, holding nothing."""
    if sys.platform == "win32":
        pytest.skip("on Windows the hooks are real")
    held = platform_hooks(None, None)  # type: ignore[arg-type]
    assert held.parts == []
    held.close()
    with pytest.raises(winsupport.NotOnWindows):
        winsupport.hold_instance_mutexes()
