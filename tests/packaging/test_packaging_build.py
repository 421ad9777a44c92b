"""The packaging plan of ``python3 dev.py package`` (docs/packaging.md), checked without
wine: the PyInstaller command names every Windows backend, the selftest gate accepts
exactly what the frozen build must show, and ISCC gets its defines."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "packaging"))

from phonet_build import assets, freeze, inno, winpython  # noqa: E402

GOOD_WINDOWS_REPORT: dict[str, object] = {
    "selftest": 1,
    "platform": "win32",
    "frozen": True,
    "tray": {"backend": "win32", "probe": "ok: icon shown and removed"},
    "keyring": {"backend": "keyring.backends.Windows.WinVaultKeyring", "probe": "ok: write"},
    "notifier": {"backend": "WinRTDesktopNotifier", "probe": "unavailable: OSError"},
    "window": {"backend": "edgechromium", "probe": "unavailable: no .NET under wine"},
    "loopback": {"http": "ok", "websocket": "ok"},
    "windows": {
        "mutexes": "ok: held 2 of 2",
        "session_end": "ok: restart-manager",
        "quit_event": "ok",
        "app_user_model_id": "ok: Phonet.Agent",
        "webview2_runtime": "unavailable: not installed",
    },
    "ok": True,
}


def _windows_args() -> list[str]:
    return freeze.pyinstaller_args("windows", freeze.windows_paths())


def test_the_windows_freeze_is_a_windowed_onedir_with_icon_and_version() -> None:
    args = _windows_args()

    assert "--onedir" in args and "--windowed" in args
    assert any(a.startswith("--icon=Z:\\") and a.endswith("agent.ico") for a in args)
    assert any(a.startswith("--version-file=Z:\\") for a in args)
    assert args[-1].endswith("\\packaging\\entry.py")


@pytest.mark.parametrize(
    "module",
    [
        "pystray._win32",
        "keyring.backends.Windows",
        "desktop_notifier.backends.winrt",
        "webview.platforms.winforms",
        "webview.platforms.edgechromium",
        "clr_loader",
        "pythonnet",
    ],
)
def test_every_windows_backend_is_frozen_by_name(module: str) -> None:
    assert f"--hidden-import={module}" in _windows_args()


def test_the_linux_freeze_names_its_own_backends() -> None:
    paths = freeze.FreezePaths(Path("e.py"), Path("i.png"), None, Path("d"), Path("w"))
    args = freeze.pyinstaller_args("linux", paths)

    assert "--hidden-import=pystray._appindicator" in args
    assert "--hidden-import=webview.platforms.gtk" in args
    assert not any(a.startswith("--version-file") for a in args)


def test_a_good_frozen_windows_report_passes_the_gate() -> None:
    assert freeze.windows_selftest_problems(GOOD_WINDOWS_REPORT) == []


@pytest.mark.parametrize(
    ("part", "entry", "problem"),
    [
        ("tray", {"backend": "dummy", "probe": "ok"}, "tray: backend 'dummy'"),
        ("keyring", {"backend": "keyring.backends.fail.Keyring", "probe": "ok"}, "keyring"),
        ("tray", {"backend": "win32", "probe": "unavailable: no taskbar"}, "tray: unavail"),
        ("loopback", {"http": "ok", "websocket": "unavailable: refused"}, "loopback"),
        ("notifier", {"backend": "DummyNotificationCenter", "probe": "ok"}, "notifier"),
    ],
)
def test_the_gate_rejects_a_wrong_backend_or_a_broken_core(
    part: str, entry: dict[str, str], problem: str
) -> None:
    report = {**GOOD_WINDOWS_REPORT, part: entry}

    problems = freeze.windows_selftest_problems(report)

    assert any(p.startswith(problem) for p in problems), problems


def test_the_selftest_line_is_found_among_other_output() -> None:
    output = 'wine: noise\n{"selftest":1,"ok":true}\n[exit 0]'

    assert freeze.parse_selftest(output) == {"selftest": 1, "ok": True}


def test_the_version_resource_carries_the_agent_version() -> None:
    text = assets.version_file_text("1.2.3rc1")

    assert assets.version_tuple("1.2.3rc1") == (1, 2, 3, 0)
    assert assets.version_tuple("0.1.0") == (0, 1, 0, 0)
    assert "filevers=(1, 2, 3, 0)" in text
    assert "StringStruct('ProductVersion', '1.2.3rc1')" in text
    ast.parse(text)  # PyInstaller evaluates it as a Python expression


def test_iscc_gets_the_defines_and_the_sign_tool() -> None:
    cmd = inno.iscc_command(
        Path("/w/installer.iss"), {"AppVersion": "0.1.0", "Sign": None}, "cmd /c $qs.cmd$q $f"
    )

    assert cmd[:3] == ["wine", str(inno.ISCC), "/Q"]
    assert "/DAppVersion=0.1.0" in cmd and "/DSign" in cmd
    assert "/Sphonetsign=cmd /c $qs.cmd$q $f" in cmd
    assert cmd[-1] == "Z:\\w\\installer.iss"


def test_the_setup_is_named_by_version() -> None:
    assert inno.setup_name("0.1.0") == "PhonetAgent-Setup-0.1.0.exe"


def test_the_windows_python_installs_the_projects_own_dependencies() -> None:
    requirements = winpython.project_requirements()

    assert any(r.startswith("pystray") for r in requirements)
    assert any(r.startswith("pywebview") for r in requirements)


def test_the_installer_fails_the_compile_when_the_build_is_missing() -> None:
    iss = (ROOT / "installer.iss").read_text(encoding="utf-8")

    assert '#if !FileExists(SourceDir + "\\" + AppExeName)' in iss
    assert "#error" in iss


def test_build_runs_the_steps_in_order_and_refuses_unknown_ones() -> None:
    import build

    args = build.parse_args(["--steps", "smoke,toolchain", "--skip", "linux"])
    assert args.chosen == ["toolchain", "smoke"]
    with pytest.raises(SystemExit):
        build.parse_args(["--steps", "nonsense"])


def test_on_windows_the_build_skips_the_wine_steps() -> None:
    import build

    assert build.default_steps(windows=True) == ["toolchain", "freeze", "selftest", "installer"]
    assert build.default_steps(windows=False)[-2:] == ["smoke", "linux"]
