"""Step 7: a Linux onedir built natively, and its selftest.

Built in a venv of its own (packaging/cache/linux-venv) so PyInstaller never enters
the .venv that ``dev.py test`` uses. Versions are pinned to the .venv's. Debian's
PyGObject is exposed the way dev.py does it, so the GTK tray and window backends are
frozen too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

from phonet_build.assets import make_icon
from phonet_build.common import BUILD, CACHE, EXE_NAME, PACKAGING, ROOT, BuildError, run, say
from phonet_build.freeze import (
    TOKEN,
    FreezePaths,
    demo_problems,
    parse_selftest,
    partial_output,
    pyinstaller_args,
    start_path_problems,
)
from phonet_build.winpython import BUILD_REQUIREMENTS, constraints_from_venv

LINUX_VENV = CACHE / "linux-venv"
LINUX_PY = LINUX_VENV / "bin" / "python"
LINUX_EXE = BUILD / "linux" / EXE_NAME / EXE_NAME
DEBIAN_GI = Path("/usr/lib/python3/dist-packages/gi")


def _expose_debian_gi() -> None:
    if not DEBIAN_GI.is_dir():
        return
    shim = LINUX_VENV / "debian-gi"
    shim.mkdir(exist_ok=True)
    # PyInstaller's gi hook reads PyGObject's distribution metadata, so link that too.
    for source in [DEBIAN_GI, *DEBIAN_GI.parent.glob("PyGObject-*.egg-info")]:
        link = shim / source.name
        if not link.exists():
            link.symlink_to(source)
    site = next((LINUX_VENV / "lib").glob("python3*/site-packages"))
    (site / "debian-gi.pth").write_text(f"{shim}\n", encoding="utf-8")


def ensure_linux_venv() -> str:
    constraints = constraints_from_venv()
    requirements = ["pip", "-r", str(BUILD_REQUIREMENTS)]
    stamp_text = "\n".join([*requirements, *constraints]) + "\n"
    stamp = LINUX_VENV / ".requirements"
    if not LINUX_PY.exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(LINUX_VENV)
    _expose_debian_gi()
    if not (stamp.exists() and stamp.read_text("utf-8") == stamp_text):
        con = LINUX_VENV / "constraints.txt"
        con.write_text("\n".join(constraints) + "\n", encoding="utf-8")
        run([LINUX_PY, "-m", "pip", "install", "-q", "-r", BUILD_REQUIREMENTS, "-c", con],
            quiet=True)  # fmt: skip
        run([LINUX_PY, "-m", "pip", "install", "-q", str(ROOT), "-c", con], quiet=True)
        stamp.write_text(stamp_text, encoding="utf-8")
        return "venv built"
    run([LINUX_PY, "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(ROOT)],
        quiet=True)  # fmt: skip
    return "venv present"


def linux_paths() -> FreezePaths:
    return FreezePaths(
        entry=PACKAGING / "entry.py",
        icon=BUILD / "assets" / "agent.png",
        version_file=None,
        dist=BUILD / "linux",
        work=CACHE / "pyi-linux",
    )


def freeze_linux() -> str:
    paths = linux_paths()
    make_icon(BUILD / "assets" / "agent.ico")  # also writes agent.png
    if paths.dist.exists():
        shutil.rmtree(paths.dist)
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    # pystray's hook imports pystray, which fails on a headless build box without this.
    env["PYSTRAY_BACKEND"] = "dummy"
    run([LINUX_PY, "-m", "PyInstaller", *pyinstaller_args("linux", paths)], env=env, timeout=3600)
    if not LINUX_EXE.is_file():
        raise BuildError(f"PyInstaller made no {LINUX_EXE}")
    size = sum(f.stat().st_size for f in LINUX_EXE.parent.rglob("*") if f.is_file())
    return f"{LINUX_EXE.relative_to(BUILD)} ({size / 1e6:.0f} MB onedir)"


def linux_selftest_problems(report: dict[str, object], *, desktop: bool) -> list[str]:
    problems = []
    if report.get("platform") != "linux" or report.get("frozen") is not True:
        problems.append(f"not a frozen Linux run: {report.get('platform')}")
    problems += start_path_problems(report)
    if report.get("ok") is not True:
        problems.append(f"the core failed: {report.get('loopback')}")
    if desktop:
        for part in ("tray", "notifier", "window"):
            entry = report.get(part)
            probe = str(entry.get("probe", "")) if isinstance(entry, dict) else ""
            if not probe.startswith("ok"):
                problems.append(f"{part}: {probe}")
    return problems


DESKTOP_SCRIPT = 'dunst >/dev/null 2>&1 & sleep 1; "$@"; code=$?; kill %1 2>/dev/null; exit $code'


def selftest_linux() -> str:
    headless_env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS")
    }
    out = run([LINUX_EXE, "--selftest"], env=headless_env, check=False, timeout=120).stdout
    headless = parse_selftest(out)
    results = {"headless": headless}
    problems = linux_selftest_problems(headless, desktop=False)
    desktop_tools = all(shutil.which(t) for t in ("xvfb-run", "dbus-run-session", "dunst"))
    if desktop_tools:
        cmd: list[str | Path] = ["xvfb-run", "-a", "dbus-run-session", "--", "sh", "-c",
               DESKTOP_SCRIPT, "sh",
               LINUX_EXE, "--selftest"]  # fmt: skip
        desktop = parse_selftest(run(cmd, env=headless_env, check=False, timeout=180).stdout)
        results["desktop"] = desktop
        problems += [f"desktop {p}" for p in linux_selftest_problems(desktop, desktop=True)]
    (BUILD / "selftest-linux.json").write_text(json.dumps(results, indent=2) + "\n", "utf-8")
    if problems:
        raise BuildError("Linux selftest: " + "; ".join(problems))
    chosen = results.get("desktop", headless)
    summary = ", ".join(
        f"{part}={entry.get('backend')}"
        for part in ("tray", "keyring", "notifier", "window")
        if isinstance(entry := chosen.get(part), dict)
    )
    return summary + ("" if desktop_tools else " (headless only: no Xvfb/D-Bus/dunst)")


def demo_linux(timeout: float = 180) -> str:
    """A real start of the frozen agent, headless: ``demo --once`` (freeze.demo_windows)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    with tempfile.TemporaryDirectory(prefix="phonet-demo-") as data:
        cmd: list[str | Path] = [LINUX_EXE, "demo", "--once", "--speed", "4", "--data-dir", data]
        try:
            proc = run(cmd, env=env, check=False, timeout=timeout, quiet=True)
            code: int | None = proc.returncode
            output = proc.stdout
        except subprocess.TimeoutExpired as exc:
            code, output = None, partial_output(exc)
    output = TOKEN.sub("#token=…", output)  # the web UI's session token: never kept
    print(output, flush=True)
    (BUILD / "demo-linux.log").write_text(f"{output}\n[exit {code}]\n", "utf-8")
    problems = demo_problems(code, output)
    if problems:
        raise BuildError("Linux demo --once: " + "; ".join(problems) + " (demo-linux.log)")
    return "demo --once: 5 calls journaled"


def build_linux() -> str:
    if not sys.platform.startswith("linux"):
        raise BuildError("the Linux onedir is built on Linux")
    notes = [ensure_linux_venv(), freeze_linux(), selftest_linux(), demo_linux()]
    say("; ".join(notes))
    return "; ".join(notes)
