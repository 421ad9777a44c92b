"""Steps 3 and 4: PyInstaller under wine (onedir, windowed) and the frozen selftest.

The backend modules are named explicitly (windows-packaging.md, "PyInstaller notes"):
libraries that pick their backend at run time import it by a computed name, which
PyInstaller's import scan cannot see.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from phonet_build.assets import make_icon, version_file_text
from phonet_build.common import (
    BUILD,
    CACHE,
    EXE_NAME,
    ON_WINDOWS,
    PACKAGING,
    BuildError,
    agent_version,
    python_exe,
    run,
    say,
)
from phonet_build.display import virtual_display
from phonet_build.dllaudit import audit_onedir
from phonet_build.toolchain import WINEPREFIX, wine_env
from phonet_build.wineshim import install_shims
from phonet_build.winpython import (
    WIN_PY,
    ensure_windows_python,
    install_project_wheel,
    to_windows_path,
    windows_wine_env,
)

Target = Literal["windows", "linux"]

# Imported by computed names at run time, so named here.
BACKENDS: dict[Target, list[str]] = {
    "windows": [
        "pystray._win32",
        "keyring.backends.Windows",  # set explicitly by agent.winsupport.windows_keyring
        "desktop_notifier.backends.winrt",
        "webview.platforms.winforms",
        "webview.platforms.edgechromium",
        "clr",
        "clr_loader",
        "pythonnet",
    ],
    "linux": [
        "pystray._appindicator",
        "pystray._gtk",
        "pystray._xorg",
        "pystray._dummy",
        "keyring.backends.SecretService",
        "desktop_notifier.backends.dbus",
        "webview.platforms.gtk",
    ],
}
COLLECT_SUBMODULES: dict[Target, list[str]] = {
    # winrt's compiled modules import each other from C, out of PyInstaller's sight.
    "windows": ["agent", "uvicorn", "winrt", "desktop_notifier"],
    "linux": ["agent", "uvicorn", "desktop_notifier"],
}
# Package data read through importlib.resources (the web UI, desktop-notifier's sounds).
COLLECT_DATA = ["agent", "desktop_notifier"]
# keyring finds backends through entry points, which need the distribution metadata.
COPY_METADATA = ["keyring", "phonet-agent"]
EXCLUDES: dict[Target, list[str]] = {
    "windows": ["tkinter", "PySide6", "qtpy"]
    + [f"webview.platforms.{gui}" for gui in ("qt", "gtk", "cef")],
    "linux": ["tkinter", "webview.platforms.cef", "webview.platforms.winforms"],
}


@dataclass(frozen=True)
class FreezePaths:
    entry: Path
    icon: Path
    version_file: Path | None
    dist: Path
    work: Path


def pyinstaller_args(target: Target, paths: FreezePaths, to_host: type[str] = str) -> list[str]:
    """The PyInstaller command line (after ``python -m PyInstaller``) for one target."""

    def p(path: Path) -> str:
        return to_windows_path(path) if target == "windows" else str(path)

    args = [
        "--noconfirm",
        "--log-level=WARN",
        f"--name={EXE_NAME}",
        "--onedir",
        "--windowed",
        f"--icon={p(paths.icon)}",
        f"--distpath={p(paths.dist)}",
        f"--workpath={p(paths.work)}",
        f"--specpath={p(paths.work)}",
    ]
    args += [f"--collect-data={m}" for m in COLLECT_DATA]
    if paths.version_file is not None:
        args.append(f"--version-file={p(paths.version_file)}")
    args += [f"--hidden-import={m}" for m in BACKENDS[target]]
    args += [f"--collect-submodules={m}" for m in COLLECT_SUBMODULES[target]]
    args += [f"--copy-metadata={m}" for m in COPY_METADATA]
    args += [f"--exclude-module={m}" for m in EXCLUDES[target]]
    args.append(p(paths.entry))
    return args


def windows_paths() -> FreezePaths:
    work = CACHE / "pyi-windows"
    return FreezePaths(
        entry=PACKAGING / "entry.py",
        icon=BUILD / "assets" / "agent.ico",
        version_file=BUILD / "assets" / "version-info.txt",
        dist=BUILD / "windows",
        work=work,
    )


WINDOWS_EXE = BUILD / "windows" / EXE_NAME / f"{EXE_NAME}.exe"


def freeze_windows() -> str:
    paths = windows_paths()
    make_icon(paths.icon)
    assert paths.version_file is not None
    paths.version_file.write_text(version_file_text(agent_version()), encoding="utf-8")
    if paths.dist.exists():
        shutil.rmtree(paths.dist)
    args = pyinstaller_args("windows", paths)
    if ON_WINDOWS:
        # Native (windows.yml): the running Python holds the agent and PyInstaller.
        run([python_exe(), "-m", "PyInstaller", *args], timeout=3600)
    else:
        if not WIN_PY.is_file():
            ensure_windows_python()
        install_project_wheel()
        install_shims(WINEPREFIX)  # PyInstaller's hooks import cryptography (wineshim.py)
        run(["wine", WIN_PY, "-m", "PyInstaller", *args], env=windows_wine_env(), timeout=3600)
    if not WINDOWS_EXE.is_file():
        raise BuildError(f"PyInstaller made no {WINDOWS_EXE}")
    # What wine cannot tell: every DLL a binary imports is bundled or part of Windows.
    problems = audit_onedir(WINDOWS_EXE.parent)
    if problems:
        raise BuildError("the onedir's DLLs: " + "; ".join(problems))
    size = sum(f.stat().st_size for f in WINDOWS_EXE.parent.rglob("*") if f.is_file())
    return f"{WINDOWS_EXE.relative_to(BUILD)} ({size / 1e6:.0f} MB onedir, DLL imports resolved)"


def parse_selftest(output: str) -> dict[str, object]:
    """The one JSON line among whatever else the process printed."""
    for line in reversed(output.splitlines()):
        line = line.strip()
        if line.startswith("{") and '"selftest"' in line:
            report: dict[str, object] = json.loads(line)
            return report
    raise BuildError("the selftest printed no JSON line")


def _probe(report: dict[str, object], part: str) -> tuple[str, str]:
    entry = report.get(part)
    if not isinstance(entry, dict):
        return "", ""
    return str(entry.get("backend", "")), str(entry.get("probe", ""))


def windows_selftest_problems(report: dict[str, object], *, under_wine: bool = True) -> list[str]:
    """What the frozen Windows build must show (issue 9): the Windows backends chosen,
    the ones wine can run working, and the core's loopback round trip.

    On a CI runner (``under_wine=False``) the tray probe is only reported: a runner's
    session may have no notification area. The release checklist covers the rest.
    """
    problems = []
    if report.get("platform") != "win32" or report.get("frozen") is not True:
        problems.append(f"not a frozen Windows run: {report.get('platform')}")
    expected = {
        "tray": ("win32", under_wine),
        "keyring": ("keyring.backends.Windows.WinVaultKeyring", True),
        "notifier": ("WinRTDesktopNotifier", False),  # WinRT: not under wine
        "window": ("edgechromium", False),  # WebView2 (.NET): not under wine
    }
    for part, (backend, must_work) in expected.items():
        chosen, probe = _probe(report, part)
        if chosen != backend:
            problems.append(f"{part}: backend {chosen!r}, expected {backend!r}")
        if must_work and not probe.startswith("ok"):
            problems.append(f"{part}: {probe}")
    loopback = report.get("loopback")
    if not isinstance(loopback, dict) or any(v != "ok" for v in loopback.values()):
        problems.append(f"loopback: {loopback}")
    windows = report.get("windows")
    if isinstance(windows, dict):
        for name in ("mutexes", "session_end", "quit_event", "app_user_model_id"):
            if not str(windows.get(name, "")).startswith("ok"):
                problems.append(f"windows.{name}: {windows.get(name)}")
    else:
        problems.append("no windows section")
    problems += start_path_problems(report)
    if report.get("ok") is not True:
        problems.append("ok is not true")
    return problems


def start_path_problems(report: dict[str, object]) -> list[str]:
    """The agent's own modules, the libraries it loads on first use, and the paths
    behind them (agent/selftest.py ``imports`` and ``features``): all must be ok."""
    problems = []
    for section in ("imports", "features"):
        entries = report.get(section)
        if not isinstance(entries, dict) or not entries:
            problems.append(f"no {section} section")
            continue
        problems += [
            f"{section}.{name}: {result}"
            for name, result in entries.items()
            if not str(result).startswith("ok")
        ]
    return problems


def partial_output(exc: subprocess.TimeoutExpired) -> str:
    """What a killed process printed before its timeout (always bytes, whatever text=)."""
    partial = exc.stdout or b""
    text = partial.decode("utf-8", "replace") if isinstance(partial, bytes) else partial
    return text + f"\n[killed after {exc.timeout:g} s]"


def run_under_wine(
    exe: Path, *args: str, timeout: float = 300, env: dict[str, str] | None = None,
    quiet: bool = False,
) -> tuple[int | None, str]:  # fmt: skip
    """Run a Windows program on a private virtual screen and wait for every wine
    process; on a timeout the prefix's wine processes are killed (exit code None)."""
    wine = {**wine_env(), **(env or {})}
    with virtual_display() as display:
        wine["DISPLAY"] = display
        code: int | None = None
        try:
            proc = run(["wine", exe, *args], env=wine, timeout=timeout, check=False, quiet=quiet)
            code, output = proc.returncode, proc.stdout
        except subprocess.TimeoutExpired as exc:
            output = partial_output(exc)
            run(["wineserver", "-k"], env=wine, check=False, quiet=True)
        try:
            run(["wineserver", "-w"], env=wine, timeout=120, check=False, quiet=True)
        except subprocess.TimeoutExpired:  # a child left behind (e.g. a window process)
            output += "\n[wine processes left behind: killed]"
            run(["wineserver", "-k"], env=wine, check=False, quiet=True)
    return code, output


def run_frozen(
    exe: Path, *args: str, timeout: float, env: dict[str, str] | None = None, quiet: bool = False
) -> tuple[int | None, str]:
    """The frozen Windows agent: natively on Windows, else under wine."""
    if not ON_WINDOWS:
        return run_under_wine(exe, *args, timeout=timeout, env=env, quiet=quiet)
    environ = {**os.environ, **(env or {})}
    try:
        proc = run([exe, *args], env=environ, check=False, timeout=timeout, quiet=quiet)
    except subprocess.TimeoutExpired as exc:
        return None, partial_output(exc)
    return proc.returncode, proc.stdout


# A crash at start prints its traceback and exits 70 instead of PyInstaller's dialog,
# which would wait for a click until the timeout (packaging/entry.py).
NO_ERROR_DIALOG = {"PHONET_AGENT_NO_ERROR_DIALOG": "1"}
DEMO_TIMEOUT_S = 300.0
DEMO_DIRECTIONS = ["in", "out", "in", "out", "internal"]  # agent/demo.py's SCRIPT
TOKEN = re.compile(r"#token=[^\s\"']+")


def demo_problems(code: int | None, output: str) -> list[str]:
    """What ``agent.exe demo --once`` must show: the simulator, the agent and its tray
    started, every scripted call journaled, and a clean exit (agent/demo.py)."""
    problems = []
    if code is None:
        problems.append("did not finish in time")
    elif code != 0:
        problems.append(f"exited {code}")
    if "journal:" not in output:
        problems.append("printed no journal")
        return problems
    rows = [line.split() for line in output[output.index("journal:") :].splitlines()[1:]]
    directions = [row[0] for row in rows if row and row[0] in ("in", "out", "internal")]
    if directions != DEMO_DIRECTIONS:
        problems.append(f"journal directions {directions}, expected {DEMO_DIRECTIONS}")
    return problems


def demo_windows() -> str:
    """A real start of the frozen agent: ``demo --once`` runs the simulator, the agent's
    whole start path (licence, database, PBX link, tray, local API) and five scripted
    calls, then quits (issue 9: ``--selftest`` alone loads none of agent.app)."""
    with tempfile.TemporaryDirectory(prefix="phonet-demo-") as data:
        data_dir = to_windows_path(Path(data)) if not ON_WINDOWS else data
        args = ["demo", "--once", "--speed", "4", "--data-dir", data_dir]
        code, output = run_frozen(
            WINDOWS_EXE, *args, timeout=DEMO_TIMEOUT_S, env=NO_ERROR_DIALOG, quiet=True
        )
        log = next(Path(data).glob("logs/*.log"), None)
        log_tail = log.read_text("utf-8", "replace")[-3000:] if log else ""
    # The demo prints its web UI's URL with the session token: never kept or shown.
    output = TOKEN.sub("#token=…", output)
    print(output, flush=True)
    text = f"{output}\n[exit {code}]\n--- the agent's log (its end)\n{log_tail}"
    (BUILD / "demo-windows.log").write_text(TOKEN.sub("#token=…", text), "utf-8")
    problems = demo_problems(code, output)
    if problems:
        raise BuildError("Windows demo --once: " + "; ".join(problems) + " (demo-windows.log)")
    return "demo --once: 5 calls journaled"


def selftest_windows() -> str:
    if not WINDOWS_EXE.is_file():
        raise BuildError(f"{WINDOWS_EXE} is missing: run the freeze step first")
    if not ON_WINDOWS:
        install_shims(WINEPREFIX)
    code, output = run_frozen(WINDOWS_EXE, "--selftest", timeout=300, env=NO_ERROR_DIALOG)
    report = parse_selftest(output + f"\n[exit {code}]")
    (BUILD / "selftest-windows.json").write_text(json.dumps(report, indent=2) + "\n", "utf-8")
    problems = windows_selftest_problems(report, under_wine=not ON_WINDOWS)
    if problems:
        raise BuildError("Windows selftest: " + "; ".join(problems))
    summary = ", ".join(f"{part}={_probe(report, part)[0]}" for part in
                        ("tray", "keyring", "notifier", "window"))  # fmt: skip
    imports = report.get("imports")
    count = len(imports) if isinstance(imports, dict) else 0
    summary += f"; {count} import probes and the file, numbers and licence paths ok"
    say(f"Windows selftest: {summary}")
    return summary + "; " + demo_windows()
