"""The ``phonet-agent`` command line (contracts.md §2)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="phonet-agent", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="the tray agent (the product)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    print(f"phonet-agent: {args.command or 'run'}: not built yet", file=sys.stderr)
    return 2
