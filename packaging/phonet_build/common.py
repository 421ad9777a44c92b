"""Paths, the command runner and step timing shared by every packaging step."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
CACHE = PACKAGING / "cache"
BUILD = PACKAGING / "build"

# On Windows (the windows.yml workflow) the same steps run natively, without wine.
ON_WINDOWS = sys.platform == "win32"
APP_NAME = "Phonet Agent"
EXE_NAME = "agent"


class BuildError(RuntimeError):
    """A packaging step failed; the message says which and why."""


def say(message: str) -> None:
    print(f"package: {message}", flush=True)


def agent_version() -> str:
    """The version from agent/__init__.py, read without importing the agent."""
    for line in (ROOT / "agent" / "__init__.py").read_text(encoding="utf-8").splitlines():
        if line.startswith("__version__"):
            return line.split("=", 1)[1].strip().strip("\"'")
    raise BuildError("agent/__init__.py has no __version__")


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def run(
    cmd: Sequence[str | Path],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 1800,
    check: bool = True,
    quiet: bool = False,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command and return its output (stdout and stderr joined).

    Output always goes through a pipe, never a file: a Windows Python under wine whose
    standard streams are files dies at start (windows-packaging.md).
    """
    args = [str(c) for c in cmd]
    say("$ " + shlex.join(args))
    proc = subprocess.run(
        args,
        env=dict(env) if env is not None else None,
        cwd=cwd or ROOT,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        timeout=timeout,
        check=False,
    )
    if not quiet and proc.stdout.strip():
        print(_indent(proc.stdout), flush=True)
    if check and proc.returncode != 0:
        if quiet:
            print(_indent(proc.stdout), flush=True)
        raise BuildError(f"{args[0]} exited {proc.returncode}")
    return proc


def _indent(text: str, limit: int = 12000) -> str:
    if len(text) > limit:
        text = "…\n" + text[-limit:]
    return "\n".join("    " + line for line in text.rstrip().splitlines())


def need_tool(name: str, hint: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BuildError(f"{name} is missing: {hint}")
    return path


@dataclass
class StepResult:
    name: str
    seconds: float
    status: str  # "ok", "skipped", "failed", "cached"
    detail: str = ""


@dataclass
class Timings:
    results: list[StepResult] = field(default_factory=list)

    @contextmanager
    def step(self, name: str) -> Iterator[StepResult]:
        say(f"== {name}")
        result = StepResult(name, 0.0, "ok")
        started = time.monotonic()
        try:
            yield result
        except BaseException as exc:
            result.status = "failed"
            result.detail = result.detail or str(exc)
            raise
        finally:
            result.seconds = time.monotonic() - started
            self.results.append(result)
            say(f"== {name}: {result.status} in {result.seconds:.1f} s {result.detail}".rstrip())

    def table(self) -> str:
        lines = [f"{'step':<12} {'status':<8} {'seconds':>8}  detail"]
        lines += [f"{r.name:<12} {r.status:<8} {r.seconds:>8.1f}  {r.detail}" for r in self.results]
        total = sum(r.seconds for r in self.results)
        lines.append(f"{'total':<12} {'':<8} {total:>8.1f}")
        return "\n".join(lines)


def python_exe() -> str:
    return sys.executable


def windows_runner() -> list[str]:
    """What runs a Windows program here: wine on Linux, nothing on Windows."""
    return [] if ON_WINDOWS else ["wine"]
