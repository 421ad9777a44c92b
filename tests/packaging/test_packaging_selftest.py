"""``--selftest`` (contracts.md §2): one JSON line naming each backend with a probe
result, a real loopback HTTP and WebSocket round trip, exit 0 when the core works."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.selftest import (
    _with_timeout,
    choose_tray_backend,
    choose_window_backend,
    run_selftest,
)

ROOT = Path(__file__).resolve().parents[2]
HEADLESS: dict[str, str] = {}
pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the native run is Linux's")


def _probe_shape(entry: object) -> None:
    assert isinstance(entry, dict)
    assert isinstance(entry["backend"], str) and entry["backend"]
    probe = entry["probe"]
    assert isinstance(probe, str)
    assert probe == "ok" or probe.startswith(("ok: ", "unavailable: "))


def test_run_selftest_names_every_backend_and_round_trips_http_and_websocket() -> None:
    report = run_selftest(environ=HEADLESS, timeout=5)

    for part in ("tray", "keyring", "notifier", "window"):
        _probe_shape(report[part])
    assert report["loopback"] == {"http": "ok", "websocket": "ok"}
    assert report["ok"] is True
    assert report["platform"] == "linux"
    assert report["frozen"] is False


def test_without_a_display_the_tray_is_dummy_and_the_window_unavailable() -> None:
    report = run_selftest(environ=HEADLESS, timeout=5)

    assert report["tray"] == {
        "backend": "dummy",
        "probe": "unavailable: no display (DISPLAY and WAYLAND_DISPLAY unset)",
    }
    window = report["window"]
    assert isinstance(window, dict)
    assert window["probe"].startswith("unavailable: no display")
    assert report["windows"] == {"all": "unavailable: not Windows"}


def test_main_prints_exactly_one_json_line_and_exits_zero() -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS")
    }
    proc = subprocess.run(
        [sys.executable, "-m", "agent.selftest"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    lines = proc.stdout.splitlines()
    assert proc.returncode == 0, proc.stderr
    assert len(lines) == 1
    assert json.loads(lines[0])["ok"] is True


def test_the_windows_build_chooses_the_windows_backends_explicitly() -> None:
    assert choose_tray_backend("win32", {}) == "win32"
    assert choose_window_backend("win32", {}) == "edgechromium"


def test_linux_backends_follow_the_display() -> None:
    assert choose_tray_backend("linux", {}) == "dummy"
    assert choose_tray_backend("linux", {"DISPLAY": ":1", "PYSTRAY_BACKEND": "xorg"}) == "xorg"
    assert choose_tray_backend("linux", {"WAYLAND_DISPLAY": "w"}) in {"appindicator", "gtk", "xorg"}
    assert choose_window_backend("linux", {"PYWEBVIEW_GUI": "qt"}) == "qt"
    assert choose_window_backend("linux", {}) in {"gtk", "qt"}


def test_the_tray_choice_is_the_agents_own_decision_answered_by_the_selftests_probes() -> None:
    """agent/tray_backend.py decides for both the tray and --selftest (issue 3)."""
    x11 = {"DISPLAY": ":1"}

    def desktop(*present: str) -> Callable[[str], bool]:
        return lambda what: what in present

    assert choose_tray_backend("linux", x11, desktop("bus", "gtk", "xembed")) == "gtk"
    assert choose_tray_backend("linux", x11, desktop("bus", "appindicator", "sni")) == (
        "appindicator"
    )
    # Without a session bus only the bare X11 icon works, whatever typelibs exist.
    assert choose_tray_backend("linux", x11, desktop("appindicator", "gtk")) == "xorg"
    assert choose_tray_backend("linux", x11) == "xorg"  # this test's env names no bus


def test_an_unknown_tray_backend_is_reported_not_raised() -> None:
    report = run_selftest(environ={"DISPLAY": ":1", "PHONET_TRAY_BACKEND": "qt"}, timeout=5)

    tray = report["tray"]
    assert isinstance(tray, dict) and tray["backend"] == "qt"
    assert tray["probe"].startswith("unavailable: unknown tray backend 'qt'")


def test_a_probe_that_never_answers_is_abandoned_not_awaited() -> None:
    never = threading.Event()

    result = _with_timeout(lambda: str(never.wait(30)), 0.05)

    assert result == "unavailable: no answer within 0.05 s"
    never.set()


def test_a_probe_that_raises_reports_the_reason() -> None:
    def broken() -> str:
        raise ImportError("No module named 'winrt'\nsecond line")

    assert _with_timeout(broken, 5) == (
        "unavailable: ImportError: No module named 'winrt' second line"
    )


def test_a_windows_error_carries_its_hresult_in_hex() -> None:
    error = OSError("[WinError -2147221164] Class not registered")
    error.winerror = -2147221164  # type: ignore[attr-defined]

    def winrt() -> str:
        raise error

    assert _with_timeout(winrt, 5).endswith("(HRESULT 0x80040154)")
