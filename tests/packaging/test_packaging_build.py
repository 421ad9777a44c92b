"""The packaging plan of ``python3 dev.py package`` (docs/packaging.md), checked without
wine: the PyInstaller command names every Windows backend, the selftest gate accepts
exactly what the frozen build must show, and ISCC gets its defines."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "packaging"))

from phonet_build import assets, freeze, inno, winpython  # noqa: E402

ENTRY = ROOT / "packaging" / "entry.py"

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
    "imports": {"agent.app": "ok", "agent": "ok: 154 modules", "python_calamine": "ok"},
    "features": {"files": "ok: xlsx written and read back (4995 bytes)", "licence": "ok"},
    "ok": True,
}
DEMO_OUTPUT = """demo data dir: Z:\\tmp\\phonet-demo-1
journal:
  in       +380442249895  answered    talk=3s Іван Петренко
  out      +380501234567  answered    talk=3s Олена Коваль
  in       +380671112233  no_answer   talk=0s Андрій Шевченко
  out      +380931234567  busy        talk=0s
  internal 002            answered    talk=1s
"""


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


@pytest.mark.parametrize(
    ("section", "entries", "problem"),
    [
        (
            "imports",
            {"python_calamine": "unavailable: ImportError: DLL load failed (Module not found)"},
            "imports.python_calamine: unavailable: ImportError: DLL load failed",
        ),
        ("imports", {}, "no imports section"),
        ("features", {"files": "unavailable: InvalidInput: damaged"}, "features.files"),
    ],
)
def test_the_gate_rejects_a_start_path_that_does_not_load(
    section: str, entries: dict[str, str], problem: str
) -> None:
    """issue 9: a lazily loaded library or an agent module that fails to import, or the
    file path behind them, fails the frozen build's selftest."""
    report = {**GOOD_WINDOWS_REPORT, section: entries}

    problems = freeze.windows_selftest_problems(report)

    assert any(p.startswith(problem) for p in problems), problems


def test_a_demo_that_journals_every_scripted_call_and_exits_0_passes() -> None:
    assert freeze.demo_problems(0, DEMO_OUTPUT) == []


@pytest.mark.parametrize(
    ("code", "output", "problem"),
    [
        (None, "simulator: http://127.0.0.1:1\n[killed after 300 s]", "did not finish in time"),
        (70, "Traceback…\nModuleNotFoundError: No module named 'agent.dialer'", "exited 70"),
        (0, "demo data dir: x\n", "printed no journal"),
        (0, DEMO_OUTPUT.replace("  internal 002", "  note"), "journal directions"),
    ],
)
def test_a_demo_that_hangs_crashes_or_loses_a_call_fails(
    code: int | None, output: str, problem: str
) -> None:
    assert any(p.startswith(problem) for p in freeze.demo_problems(code, output))


def test_the_demos_session_token_is_never_kept() -> None:
    line = "web-ui: http://127.0.0.1:47415/#token=opNUl2O4t7-WsoUaLrD1ZdhcKH3YsSyl"

    assert freeze.TOKEN.sub("#token=…", line) == "web-ui: http://127.0.0.1:47415/#token=…"


def test_the_entry_script_hands_every_argument_to_the_cli_unchanged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """issue 9 item 2: the CLI strips --selftest/--quit/--autostart itself (contracts.md
    §2), so the frozen agent waits 20 s for the tray at logon and exits as the CLI does."""
    import entry

    import agent.cli

    seen: list[list[str]] = []
    monkeypatch.setattr(agent.cli, "main", lambda argv: seen.append(list(argv)) or 3)

    assert entry.main(["--autostart", "run"]) == 3
    assert entry.main(["--quit"]) == 3
    assert seen == [["--autostart", "run"], ["--quit"]]


def _run_entry_over_a_broken_agent(
    tmp_path: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """entry.py over an ``agent`` package whose import fails as a frozen build's did."""
    broken = tmp_path / "agent"
    broken.mkdir()
    (broken / "__init__.py").write_text(
        'raise ImportError("DLL load failed while importing _python_calamine")\n', "utf-8"
    )
    return subprocess.run(
        [sys.executable, str(ENTRY), "demo", "--once"],
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(tmp_path), **env},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_with_the_no_dialog_switch_a_crash_at_start_prints_and_exits_70(tmp_path: Path) -> None:
    proc = _run_entry_over_a_broken_agent(tmp_path, {"PHONET_AGENT_NO_ERROR_DIALOG": "1"})

    assert proc.returncode == 70
    assert "ImportError: DLL load failed while importing _python_calamine" in proc.stderr


def test_without_the_switch_a_crash_is_left_to_pyinstallers_dialog(tmp_path: Path) -> None:
    proc = _run_entry_over_a_broken_agent(tmp_path, {})

    assert proc.returncode == 1  # an unhandled exception: the windowed bootloader's dialog
    assert "DLL load failed" in proc.stderr


def test_redirected_output_is_utf8_whatever_the_code_page(tmp_path: Path) -> None:
    """Under wine (and on Windows) a pipe gets the ANSI code page, where the demo's
    Cyrillic journal raised UnicodeEncodeError and the demo never quit."""
    (tmp_path / "agent").mkdir()
    (tmp_path / "agent" / "__init__.py").write_text("", "utf-8")
    (tmp_path / "agent" / "cli.py").write_text(
        'def main(argv):\n    print("journal: Іван Петренко")\n    return 0\n', "utf-8"
    )
    proc = subprocess.run(
        [sys.executable, str(ENTRY)],
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(tmp_path),
             "PYTHONIOENCODING": "cp1252"},
        capture_output=True, timeout=60, check=False,
    )  # fmt: skip

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode("utf-8") == "journal: Іван Петренко\n"


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


def test_a_wheel_that_leaves_out_a_folder_without_init_is_refused(tmp_path: Path) -> None:
    """agent/dialer once had no __init__.py: find_packages() left it out of the wheel and
    the frozen agent stopped at start with "No module named 'agent.dialer'"."""
    import zipfile

    root = tmp_path / "src"
    for module in ("agent/__init__.py", "agent/app.py", "agent/dialer/service.py"):
        (root / module).parent.mkdir(parents=True, exist_ok=True)
        (root / module).write_text("", "utf-8")
    wheel = tmp_path / "phonet_agent-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("agent/__init__.py", "")
        zf.writestr("agent/app.py", "")

    assert winpython.wheel_problems(wheel, root) == [
        "agent/dialer/ (1 modules) is not in the wheel: it has no __init__.py"
    ]
    with zipfile.ZipFile(wheel, "a") as zf:
        zf.writestr("agent/dialer/service.py", "")
    assert winpython.wheel_problems(wheel, root) == []


def test_the_windows_lock_pins_what_the_venv_holds() -> None:
    """windows.yml installs with packaging/constraints-windows.txt; it must carry the
    .venv's versions (the ones the tests ran on), as the wine build does. After a change
    of the .venv: python3 dev.py package --steps winpython rewrites it."""
    lock = winpython.read_lock(winpython.WINDOWS_LOCK.read_text(encoding="utf-8"))
    shared = [
        pin for pin in winpython.constraints_from_venv()
        if pin.split("==")[0].lower().replace("_", "-") in lock
    ]  # fmt: skip

    assert winpython.lock_problems(shared, lock) == []
    for requirement in [*winpython.project_requirements(), "pyinstaller"]:
        name = re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0]
        assert name.lower().replace("_", "-") in lock, f"{name} is not locked"


def test_the_lock_check_names_what_differs() -> None:
    lock = winpython.read_lock("# header\nhttpx==0.28.1\nPython_Calamine==0.9.1\n")

    assert winpython.lock_problems(["httpx==0.28.1", "python-calamine==0.9.1"], lock) == []
    assert winpython.lock_problems(["httpx==0.29.0", "rich==14.0"], lock) == [
        "httpx 0.29.0, locked at 0.28.1",
        "rich 14.0 is not in constraints-windows.txt",
    ]


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
