#!/usr/bin/env python3
"""Developer entry point: ``python3 dev.py demo|test|bench|package|lint``.

Standard library only (contracts.md §1): it runs on a fresh Debian machine before
anything is installed. It makes ``.venv``, installs the project into it (again only
when pyproject.toml or setup.py changed), and then runs the asked-for task.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")

# System packages the whole test suite needs (desktop-testing.md), installed when
# root. Each group says why; dev.py installs only those missing.
APT_TEST_PACKAGES = [
    # PostgreSQL for team mode (B5): storage, job and team tests run on it too.
    "postgresql",
    # A virtual screen, a real tray host, a real notification server, a keyring.
    "xvfb",
    "xauth",
    "xdotool",
    "imagemagick",
    "x11-apps",
    "trayer",
    "dunst",
    "libnotify-bin",
    "gnome-keyring",
    "libsecret-tools",
    "dbus",
    "dbus-x11",
    # GTK backends for pystray's menu and pywebview (Debian's gi exposed to .venv).
    "python3-gi",
    "gir1.2-gtk-3.0",
    "gir1.2-webkit2-4.1",
    "gir1.2-ayatanaappindicator3-0.1",
    # Qt from PyPI needs these xcb libraries.
    "libxcb-icccm4",
    "libxcb-keysyms1",
    # A real browser for the web UI tests (never a downloaded one).
    "chromium",
]


def say(message: str) -> None:
    print(f"dev.py: {message}", flush=True)


def run(cmd: list[str | Path], **kwargs: object) -> int:
    say(" ".join(str(c) for c in cmd))
    return subprocess.call([str(c) for c in cmd], cwd=ROOT, **kwargs)  # type: ignore[call-overload]


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def apt_install(packages: list[str]) -> None:
    """Install the missing Debian packages; print the command when not root."""
    if not shutil.which("dpkg-query") or not shutil.which("apt-get"):
        return
    missing = [p for p in packages if not _dpkg_installed(p)]
    if not missing:
        return
    if not is_root():
        say("missing system packages; as root run:")
        print("  apt-get install -y --no-install-recommends " + " ".join(missing))
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # Where i386 is enabled its index can fail and a plain update exits 100.
    run(["apt-get", "update", "-o", "APT::Architectures=amd64", "-qq"], env=env)
    code = run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], env=env)
    if code != 0:
        say(f"apt-get install failed ({code}); tests that need those parts will be skipped")


def _dpkg_installed(package: str) -> bool:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True, check=False
    )
    return out.returncode == 0 and "install ok installed" in out.stdout


def ensure_venv() -> None:
    if PY.exists():
        return
    try:
        import ensurepip  # noqa: F401
    except ImportError:
        version = f"python3.{sys.version_info.minor}-venv"
        if is_root() and shutil.which("apt-get"):
            say(f"ensurepip is missing; installing {version}")
            apt_install(["python3-venv", version])
        else:
            say("python3 -m venv needs ensurepip; as root run:")
            print(f"  apt-get install -y python3-venv {version}")
            sys.exit(3)
    say(f"creating {VENV}")
    venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    _expose_debian_gi()


def _expose_debian_gi() -> None:
    """Make Debian's PyGObject importable in the venv (desktop-testing.md, pystray gtk).

    A .pth pointing at a folder that holds only a ``gi`` symlink keeps the rest of
    dist-packages out of the venv.
    """
    gi = Path("/usr/lib/python3/dist-packages/gi")
    if not gi.is_dir():
        return
    shim = VENV / "debian-gi"
    shim.mkdir(exist_ok=True)
    link = shim / "gi"
    if not link.exists():
        link.symlink_to(gi)
    site = next((VENV / "lib").glob("python3*/site-packages"), None)
    if site is not None:
        (site / "debian-gi.pth").write_text(str(shim) + "\n")


def ensure_installed(extras: str) -> None:
    ensure_venv()
    _expose_debian_gi()
    digest = hashlib.sha256()
    for name in ("pyproject.toml", "setup.py"):
        digest.update((ROOT / name).read_bytes())
    digest.update(extras.encode())
    stamp = VENV / ".installed"
    if stamp.exists() and stamp.read_text() == digest.hexdigest():
        return
    target = f".[{extras}]" if extras else "."
    code = run([PY, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-e", target])
    if code != 0:
        say("pip install failed")
        sys.exit(code)
    stamp.write_text(digest.hexdigest())


def cmd_demo(args: list[str]) -> int:
    ensure_installed("")
    return run([BIN / "phonet-agent", "demo", *args])


def cmd_lint(_: list[str]) -> int:
    ensure_installed("dev")
    for step in (
        [BIN / "ruff", "format", "--check", "."],
        [BIN / "ruff", "check", "."],
        [BIN / "mypy"],
    ):
        code = run(step)
        if code != 0:
            say(f"lint step failed: {step[1:]}")
            return code
    return 0


def cmd_test(args: list[str]) -> int:
    if sys.platform.startswith("linux"):
        apt_install(APT_TEST_PACKAGES)
    ensure_installed("dev")
    code = cmd_lint([])
    if code != 0:
        return code
    (ROOT / "tests" / "artifacts").mkdir(parents=True, exist_ok=True)
    code = run([PY, "-m", "pytest", *args])
    if code == 5:  # pytest: no tests collected (e.g. a filter matched nothing)
        say("no tests were collected; treating as success")
        return 0
    return code


def cmd_bench(args: list[str]) -> int:
    ensure_installed("dev")
    return run([PY, ROOT / "bench" / "run.py", *args])


def cmd_package(args: list[str]) -> int:
    ensure_installed("dev")
    return run([PY, ROOT / "packaging" / "build.py", *args])


COMMANDS = {
    "demo": cmd_demo,
    "test": cmd_test,
    "lint": cmd_lint,
    "bench": cmd_bench,
    "package": cmd_package,
}


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__)
        print("usage: python3 dev.py {" + "|".join(COMMANDS) + "} [args...]")
        return 2
    return COMMANDS[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
