"""``phonet-agent simulator [...]`` and ``python -m agent.simulator`` (contracts.md §2, §3).

stdout carries exactly one line, the JSON banner, flushed at once; everything else
goes to stderr through a masking filter. SIGINT and SIGTERM stop it with exit 0;
a port that cannot be bound is exit 2 (bad input).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence

from agent.simulator.masking import MaskingFilter
from agent.simulator.options import DEFAULT_DOMAIN, SimulatorInfo, SimulatorOptions
from agent.simulator.server import serve_simulator
from agent.simulator.state import random_api_key

log = logging.getLogger("agent.simulator.server")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="phonet-agent simulator",
        description="The Phonet PBX simulator: REST and live WebSocket on one port.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 (default): a free port")
    parser.add_argument("--tls", action="store_true", help="HTTPS/WSS with a generated CA")
    parser.add_argument(
        "--seconds", action="store_true", help="live and active-call times in seconds, not ms"
    )
    parser.add_argument("--domain", default=DEFAULT_DOMAIN)
    parser.add_argument("--api-key", default=None, help="default: 32 random alphanumerics")
    parser.add_argument(
        "--dashed-uuids", action="store_true", help="history uuids in the 36-character form"
    )
    parser.add_argument(
        "--operator-answer-s",
        type=float,
        default=1.0,
        help="seconds before the operator's phone answers a makeCall (default 1)",
    )
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    return parser


def run_cli(argv: Sequence[str]) -> int:
    try:
        args = build_parser().parse_args(list(argv))
    except SystemExit as exc:  # --help (0) or bad usage (2)
        return exc.code if isinstance(exc.code, int) else 2
    if args.operator_answer_s < 0:
        print("phonet-agent simulator: --operator-answer-s must be >= 0", file=sys.stderr)
        return 2
    options = SimulatorOptions(
        host=args.host,
        port=args.port,
        tls=args.tls,
        seconds=args.seconds,
        domain=args.domain,
        api_key=args.api_key or random_api_key(),
        dashed_uuids=args.dashed_uuids,
        operator_answer_s=args.operator_answer_s,
    )
    _log_to_stderr(args.log_level, options.api_key or "")
    return asyncio.run(_main(options))


def _log_to_stderr(level: str, api_key: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    # Belt and braces: the handler masks too, so records of any logger are covered.
    handler.addFilter(MaskingFilter(lambda: [api_key]))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level.upper())


def _print_banner(info: SimulatorInfo) -> None:
    sys.stdout.write(info.banner() + "\n")
    sys.stdout.flush()


async def _main(options: SimulatorOptions) -> int:
    loop = asyncio.get_running_loop()
    serving = asyncio.create_task(serve_simulator(options, _print_banner))
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, serving.cancel)
        except NotImplementedError:  # Windows: no loop signal handlers
            signal.signal(sig, lambda *_: loop.call_soon_threadsafe(serving.cancel))
    try:
        await serving
    except asyncio.CancelledError:
        if not serving.cancelled():
            raise
        log.info("simulator stopped")
        return 0
    except OSError as exc:
        log.error("simulator cannot listen on %s:%s: %s", options.host, options.port, exc)
        return 2
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, ValueError):
                loop.remove_signal_handler(sig)
    return 0
