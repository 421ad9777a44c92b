"""The benchmark runner: ``python3 dev.py bench [--only NAME ...]``.

Each module of bench/ has ``run() -> list[dict]`` whose rows are
``{"name", "value", "unit", "baseline_name", "baseline_value", "ratio", "goal"}``:
every figure beside a baseline measured in the same run (DEVELOPERS.md). The runner
prints a table and rewrites BENCHMARKS.md with the machine noted. Tests never assert
timings; this is where speed and memory are watched.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import os
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# In the order they run; a module that does not exist yet is skipped.
MODULES = ["foundation", "contacts", "imports", "dialer", "jobs", "webui"]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    load = ""
    if hasattr(os, "getloadavg"):
        load = f", load {os.getloadavg()[0]:.1f} at start"
    return (
        f"{cpu}, {os.cpu_count()} cores{mem}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}{load}"
    )


def fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        text = f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    else:
        text = str(value)
    return f"{text} {unit}".strip()


def table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| figure | value | baseline | baseline value | ratio | goal |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        ratio = row.get("ratio")
        lines.append(
            "| {name} | {value} | {bname} | {bvalue} | {ratio} | {goal} |".format(
                name=row["name"],
                value=fmt(row.get("value"), row.get("unit", "")),
                bname=row.get("baseline_name", "—"),
                bvalue=fmt(
                    row.get("baseline_value"), row.get("baseline_unit", row.get("unit", ""))
                ),
                ratio=f"{ratio:.2f}×" if isinstance(ratio, int | float) else "—",
                goal=row.get("goal", "—"),
            )
        )
    return lines


HEADER = [
    "# Benchmarks",
    "",
    "Written by `python3 dev.py bench` (bench/run.py). Every figure stands beside a",
    "baseline measured in the same run on the same machine; ratios are figure ÷",
    "baseline. Goals come from the issues; tests never assert timings. Each section",
    "names the run and the machine it was measured on: `--only NAME` re-measures one",
    "section and keeps the others as they were.",
    "",
]


def kept_sections(text: str, replaced: set[str]) -> dict[str, list[str]]:
    """The sections of an existing BENCHMARKS.md (by ``## name``) not measured again."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("## "):
            name = line[3:].strip()
            current = None if name in replaced else found.setdefault(name, [])
        if current is not None:
            current.append(line)
    return found


def write(sections: dict[str, list[str]], chosen: list[str], took: str) -> None:
    path = ROOT / "BENCHMARKS.md"
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    merged = kept_sections(old, set(sections))
    stamp = f"_Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC ({took} for {', '.join(chosen)}); {machine()}._"
    for name, lines in sections.items():
        merged[name] = [lines[0], "", stamp, *lines[1:]]
    order = [m for m in MODULES if m in merged] + [m for m in merged if m not in MODULES]
    body = [line for name in order for line in merged[name]]
    path.write_text("\n".join([*HEADER, *body]).rstrip() + "\n", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", help="run only these modules")
    parser.add_argument("--no-write", action="store_true", help="do not rewrite BENCHMARKS.md")
    args = parser.parse_args()
    chosen = args.only or MODULES
    sections: dict[str, list[str]] = {}
    all_ok = True
    started = time.monotonic()
    for name in chosen:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as exc:
            if exc.name in (f"bench.{name}",):
                print(f"bench: {name}: not present yet, skipped")
                continue
            raise
        print(f"bench: {name} …", flush=True)
        t0 = time.monotonic()
        try:
            rows = module.run()
        except Exception:
            all_ok = False
            traceback.print_exc()
            sections[name] = [f"## {name}", "", "Failed in this run; see the runner's output.", ""]
            continue
        lines = table(rows)
        print("\n".join(lines), flush=True)
        doc = (module.__doc__ or "").strip().splitlines()
        section = [f"## {name}", "", *(doc[:1] or []), "", *lines, ""]
        notes = getattr(module, "NOTES", "")
        if notes:
            section += [notes.strip(), ""]
        sections[name] = section
        print(f"bench: {name} took {time.monotonic() - t0:.0f} s", flush=True)
    if not args.no_write and sections:
        write(sections, chosen, f"{time.monotonic() - started:.0f} s")
        print("bench: BENCHMARKS.md rewritten")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
