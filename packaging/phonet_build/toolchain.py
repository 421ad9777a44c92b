"""Step 1: wine with 32-bit support, Xvfb and Inno Setup (windows-packaging.md).

Idempotent: each part checks what is there first. The wine prefix and the npm copy of
Inno Setup live in packaging/cache/.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from phonet_build.common import CACHE, ON_WINDOWS, BuildError, is_root, run, say
from phonet_build.wineshim import install_shims

APT_PACKAGES = ["wine", "wine64", "wine32:i386", "xvfb", "xauth"]
# ISCC.exe, Setup.e32, setup.exe and unins000.exe are PE32: without wine32:i386,
# `wine ISCC.exe` exits 0 and writes nothing (windows-packaging.md, "Wine").
INNO_NPM = "innosetup-compiler@6.3.1"
NPM_PREFIX = CACHE / "npm"
ISCC = NPM_PREFIX / "node_modules" / "innosetup-compiler" / "bin" / "ISCC.exe"
WINEPREFIX = CACHE / "wine"

# The Debian-Security i386 index was seen failing (size mismatch), leaving amd64
# libraries at security versions with no i386 twin. Lowering that suite for the one
# install command lets apt pick matching pairs from the main suite.
APT_PREFERENCES = """\
Package: *
Pin: release l=Debian-Security
Pin-Priority: 100
"""


def dpkg_installed(package: str) -> bool:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.returncode == 0 and "install ok installed" in out.stdout


def wine_env(prefix: Path = WINEPREFIX) -> dict[str, str]:
    """The environment for every wine call: our prefix, quiet, no Mono/Gecko prompts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(
        WINEPREFIX=str(prefix),
        WINEARCH="win64",
        WINEDEBUG="-all",
        WINEDLLOVERRIDES="mscoree,mshtml=",
    )
    return env


def ensure_apt_packages(packages: list[str] = APT_PACKAGES) -> str:
    if ON_WINDOWS:
        return "not needed on Windows"
    missing = [p for p in packages if not dpkg_installed(p)]
    if not missing:
        return "present"
    if not is_root():
        raise BuildError(
            "wine is missing; as root run: dpkg --add-architecture i386 && apt-get update; "
            "apt-get install -y --no-install-recommends " + " ".join(packages)
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    arches = subprocess.run(
        ["dpkg", "--print-foreign-architectures"], capture_output=True, text=True, check=True
    ).stdout.split()
    if any(p.endswith(":i386") for p in missing) and "i386" not in arches:
        run(["dpkg", "--add-architecture", "i386"])
    # May exit 100 when the security i386 index fails; the pin below copes.
    run(["apt-get", "update", "-qq"], env=env, check=False, quiet=True)
    prefs = CACHE / "apt-preferences"
    prefs.parent.mkdir(parents=True, exist_ok=True)
    pins = resolve_i386_pins(packages, prefs)
    run(
        [
            "apt-get",
            "install",
            "-y",
            "-qq",
            "--no-install-recommends",
            "--allow-downgrades",
            "-o",
            f"Dir::Etc::Preferences={prefs}",
            *packages,
        ],
        env=env,
        quiet=True,
    )
    still = [p for p in packages if not dpkg_installed(p)]
    if still:
        raise BuildError("apt-get left these uninstalled: " + " ".join(still))
    downgraded = f" (matched to their i386 twins: {', '.join(pins)})" if pins else ""
    return "installed " + " ".join(missing) + downgraded


_NOT_INSTALLABLE = re.compile(r"Depends: (\S+?):i386 .*but it is not installable")


def resolve_i386_pins(packages: list[str], prefs: Path, rounds: int = 20) -> list[str]:
    """Write the preferences file, pinning libraries whose i386 twin is missing.

    A Multi-Arch: same library must have one version on both architectures. When the
    amd64 copy sits at a security version whose i386 index could not be fetched, no
    twin exists; the only pair is the main suite's version, so that library is pinned
    there (a downgrade by one security revision, printed in the step's detail).
    """
    pins: dict[str, str] = {}
    for _ in range(rounds):
        text = APT_PREFERENCES + "".join(
            f"\nPackage: {name}\nPin: version {version}\nPin-Priority: 1001\n"
            for name, version in pins.items()
        )
        prefs.write_text(text, encoding="utf-8")
        sim = subprocess.run(
            [
                "apt-get",
                "install",
                "-s",
                "--no-install-recommends",
                "-o",
                f"Dir::Etc::Preferences={prefs}",
                *packages,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if sim.returncode == 0:
            return [f"{n}={v}" for n, v in pins.items()]
        match = _NOT_INSTALLABLE.search(sim.stdout + sim.stderr)
        if match is None or match.group(1) in pins:
            print(sim.stdout[-4000:] + sim.stderr[-4000:], flush=True)
            raise BuildError("apt cannot resolve wine32:i386 (see the simulation above)")
        name = match.group(1)
        policy = subprocess.run(
            ["apt-cache", "policy", f"{name}:i386"], capture_output=True, text=True, check=False
        ).stdout
        candidate = re.search(r"Candidate: (\S+)", policy)
        if candidate is None or candidate.group(1) == "(none)":
            raise BuildError(f"{name}:i386 has no candidate version")
        pins[name] = candidate.group(1)
        say(f"pinning {name} to {pins[name]} (its i386 twin)")
    raise BuildError("apt pin resolution did not converge")


def ensure_inno() -> str:
    if ISCC.is_file():
        return "present"
    npm = shutil.which("npm")
    if npm is None:
        if not is_root():
            raise BuildError("npm is missing; as root run: apt-get install -y npm")
        ensure_apt_packages(["npm"])
        npm = shutil.which("npm") or "npm"
    NPM_PREFIX.mkdir(parents=True, exist_ok=True)
    run(
        [npm, "install", "--prefix", NPM_PREFIX, "--no-audit", "--no-fund", INNO_NPM],
        quiet=True,
    )
    if not ISCC.is_file():
        raise BuildError(f"{INNO_NPM} did not bring {ISCC}")
    return "installed " + INNO_NPM


def ensure_wine_prefix() -> str:
    if ON_WINDOWS:
        return "not needed on Windows"
    marker = WINEPREFIX / ".phonet-win10"
    if marker.exists():
        shims = install_shims(WINEPREFIX)
        return "present" + (f", added {', '.join(shims)}" if shims else "")
    env = wine_env()
    WINEPREFIX.parent.mkdir(parents=True, exist_ok=True)
    run(["wineboot", "--init"], env=env, timeout=600)
    run(["wineserver", "-w"], env=env, timeout=600)
    # wine 8 defaults to Windows 7, which MinVersion=10.0 refuses (windows-packaging.md).
    run(["winecfg", "-v", "win10"], env=env, timeout=300)
    run(["wineserver", "-w"], env=env, timeout=300)
    # What wine 8 lacks and Windows 10 has (wineshim.py): for PyInstaller's analysis,
    # which imports modules, and for the frozen agent's runs in this prefix.
    shims = install_shims(WINEPREFIX)
    marker.write_text("win10\n", encoding="utf-8")
    return "created" + (f" with {', '.join(shims)}" if shims else "")


def ensure_toolchain() -> str:
    parts = [
        f"apt: {ensure_apt_packages()}",
        f"inno: {ensure_inno()}",
        f"prefix: {ensure_wine_prefix()}",
    ]
    if ON_WINDOWS:
        from phonet_build.winpython import check_windows_lock

        parts.append(f"lock: {check_windows_lock()}")
    say("; ".join(parts))
    return "; ".join(parts)
