"""``--selftest`` (contracts.md §2): one JSON line naming each backend with a probe
result, a real loopback HTTP and WebSocket round trip, exit 0 when the core works."""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.core.errors import ConfigError
from agent.selftest import (
    LAZY_MODULES,
    STARTUP_MODULES,
    WINDOW_GUI_ENV,
    _with_timeout,
    choose_tray_backend,
    choose_window_backend,
    run_selftest,
)
from agent.window import BROWSER, GUI_ENV, choose_gui

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
    assert choose_window_backend("linux", {"PHONET_AGENT_WINDOW_GUI": "qt"}) == "qt"
    assert choose_window_backend("linux", {}) in {"gtk", "qt", "browser"}


def test_the_window_choice_is_the_windows_own_decision() -> None:
    """agent/window.py choose_gui decides for both the window and --selftest (issue 3):
    GTK with WebKit2, else Qt with Qt WebEngine, else the default browser."""
    yes, no = (lambda: True), (lambda: False)
    assert choose_window_backend("linux", {}, gtk=yes, qt=yes) == "gtk"
    assert choose_window_backend("linux", {}, gtk=no, qt=yes) == "qt"
    assert choose_window_backend("linux", {}, gtk=no, qt=no) == "browser"
    forced = {"PHONET_AGENT_WINDOW_GUI": "browser"}
    assert choose_window_backend("linux", forced, gtk=yes, qt=yes) == "browser"
    assert WINDOW_GUI_ENV == GUI_ENV
    assert choose_window_backend("linux", {}) == choose_gui_or_browser()


def choose_gui_or_browser() -> str:
    try:
        return choose_gui("linux", {})
    except ConfigError:
        return BROWSER


def test_a_qt_binding_without_qt_webengine_is_not_a_window_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PySide6-Essentials alone: QtWidgets but no QtWebEngineWidgets, which pywebview's Qt
    # backend needs; the selftest said "qt" for it whenever WebKit2 was missing.
    package = tmp_path / "PySide6"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "QtWidgets.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in sys.modules if m == "PySide6" or m.startswith("PySide6.")]:
        monkeypatch.delitem(sys.modules, name)
    try:
        no_gtk = {"gtk": lambda: False}
        assert choose_window_backend("linux", {}, **no_gtk) == "browser"
        (package / "QtWebEngineWidgets.py").write_text("")
        importlib.invalidate_caches()
        assert choose_window_backend("linux", {}, **no_gtk) == "qt"
    finally:
        for name in [m for m in sys.modules if m == "PySide6" or m.startswith("PySide6.")]:
            del sys.modules[name]


def test_a_window_backend_forced_wrongly_is_reported_not_raised() -> None:
    report = run_selftest(environ={"PHONET_AGENT_WINDOW_GUI": "webkit"}, timeout=5)

    window = report["window"]
    assert isinstance(window, dict) and window["backend"] == "webkit"
    assert window["probe"].startswith("unavailable: InvalidInput: PHONET_AGENT_WINDOW_GUI must")


def test_without_a_webview_the_selftest_names_the_browser_the_window_falls_back_to() -> None:
    report = run_selftest(environ={"PHONET_AGENT_WINDOW_GUI": "browser"}, timeout=5)

    assert report["window"] == {
        "backend": "browser",
        "probe": "unavailable: no display (DISPLAY and WAYLAND_DISPLAY unset)",
    }


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


# Imported inside functions but probed elsewhere in the selftest (tray, window, keyring)
# or Debian's own (gi: the Linux onedir's GTK, probed by the tray and window backends).
PROBED_BY_BACKENDS = {"gi", "gi.repository", "gi.repository.GLib", "keyring.backends.Windows"}


def _lazy_third_party_imports() -> dict[str, set[str]]:
    """Every module agent/ imports inside a function, outside the standard library and
    the agent: ``import a.b`` names a.b; ``from a.b import c`` names a.b, and a.b.c when
    that is a module. (agent/selftest.py's own probes are not the agent's paths.)"""
    found: dict[str, set[str]] = {}

    def submodule(name: str) -> bool:
        try:
            return importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            return False

    for path in sorted((ROOT / "agent").rglob("*.py")):
        if path.name == "selftest.py" and path.parent.name == "agent":
            continue
        for func in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(func):
                names: list[str] = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module] + [
                        f"{node.module}.{a.name}"
                        for a in node.names
                        if submodule(f"{node.module}.{a.name}")
                    ]
                for name in names:
                    top = name.partition(".")[0]
                    if top != "agent" and top not in sys.stdlib_module_names:
                        found.setdefault(name, set()).add(path.relative_to(ROOT).as_posix())
    return found


def test_every_library_the_agent_loads_on_first_use_is_import_checked() -> None:
    """issue 9: a frozen build can miss a module imported inside a function (or its DLL),
    and nothing fails until an operator uses the feature; --selftest imports each."""
    listed = {name for names in LAZY_MODULES.values() for name in names}

    def covered(name: str) -> bool:
        return (
            name in listed
            or name in PROBED_BY_BACKENDS
            or any(other.startswith(name + ".") for other in listed)  # a parent package
        )

    missing = {n: sorted(f) for n, f in _lazy_third_party_imports().items() if not covered(n)}

    assert missing == {}, f"add these to agent/selftest.py LAZY_MODULES: {missing}"


def test_the_selftest_imports_the_agent_and_walks_the_paths_behind_it() -> None:
    report = run_selftest(environ=HEADLESS, timeout=5)

    imports = report["imports"]
    assert isinstance(imports, dict)
    for module in (*STARTUP_MODULES, *LAZY_MODULES["all"], *LAZY_MODULES["linux"]):
        assert imports[module] == "ok", module
    assert imports["agent"].startswith("ok: ")
    assert int(imports["agent"].split()[1]) > 100  # every agent module, not a few
    features = report["features"]
    assert isinstance(features, dict)
    assert features["files"].startswith("ok: xlsx written and read back")
    assert features["numbers"].startswith("ok: ")
    assert features["licence"] == "ok: Ed25519 sign and verify"


def test_a_module_that_fails_to_import_fails_the_report(monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing DLL shows as the import's reason, and ``ok`` turns false (exit 1)."""
    import agent.selftest as selftest

    monkeypatch.setitem(
        selftest.LAZY_MODULES, "linux", (*LAZY_MODULES["linux"], "phonet_not_a_module")
    )

    report = run_selftest(environ=HEADLESS, timeout=5)

    imports = report["imports"]
    assert isinstance(imports, dict)
    assert imports["phonet_not_a_module"] == (
        "unavailable: ModuleNotFoundError: No module named 'phonet_not_a_module'"
    )
    assert report["ok"] is False
