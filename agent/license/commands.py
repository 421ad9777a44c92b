"""``phonet-agent license show|request|install|issue|keygen`` (contracts.md §2; L1, U10).

For the customer: ``show`` (the licence tab on the console), ``request`` (the text to
send the vendor), ``install --key K``. For the vendor only: ``keygen`` (a new key pair,
once) and ``issue`` (sign a key from a request). Each refused key or field: a specific
message on stderr and exit 2; nothing changes then. Heavy imports wait inside the
commands, so ``phonet-agent dial`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from agent.core.errors import InvalidInput

EXIT_OK = 0

Common = Callable[..., None]


def add_parser(sub: Any, common: Common) -> None:
    """Add ``license`` to the CLI's sub-parsers; ``common`` adds --data-dir/--db."""
    lic = sub.add_parser("license", help="the licence: show, request, install a key (L1, U10)")
    actions = lic.add_subparsers(dest="action", required=True, metavar="ACTION")

    show = actions.add_parser("show", help="client ID, client code, licences, expiry")
    common(show, pbx=False)
    show.add_argument("--json", action="store_true", help="one JSON object")

    request = actions.add_parser("request", help="the licence request to send the vendor")
    common(request, pbx=False)
    request.add_argument("--client-code", required=True, help="the company's EDRPOU (8 digits)")
    request.add_argument("--count", type=int, default=1, help="licences wanted (default 1)")

    install = actions.add_parser("install", help="install the product key from the vendor")
    common(install, pbx=False)
    install.add_argument("--key", required=True, help="the key (PA1-…); '-' reads stdin")
    install.add_argument("--client-code", help="the company's EDRPOU, checked against the key")
    install.add_argument("--count", type=int, help="the licences bought, checked against the key")

    issue = actions.add_parser("issue", help="vendor: sign a product key")
    issue.add_argument("--private-key", required=True, type=Path, help="the vendor's key file")
    issue.add_argument("--request", help="a request file from `license request` ('-': stdin)")
    issue.add_argument("--client-id", help="the customer's client ID (instead of --request)")
    issue.add_argument("--client-code", help="the customer's EDRPOU (instead of --request)")
    issue.add_argument("--count", type=int, help="licences (overrides the request's)")
    issue.add_argument("--expires", type=_date, help="last valid day, YYYY-MM-DD (default: never)")
    issue.add_argument("--issued", type=_date, help="issue date, YYYY-MM-DD (default: today)")
    issue.add_argument(
        "--passphrase-stdin", action="store_true", help="read the key file's passphrase"
    )

    keygen = actions.add_parser("keygen", help="vendor: make the vendor key pair (once)")
    keygen.add_argument("--private-key", required=True, type=Path, help="where to write it")
    keygen.add_argument(
        "--passphrase-stdin", action="store_true", help="encrypt it with a passphrase from stdin"
    )


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from exc


def cmd_license(args: argparse.Namespace) -> int:
    handler = {
        "show": _show,
        "request": _request,
        "install": _install,
        "issue": _issue,
        "keygen": _keygen,
    }[args.action]
    return handler(args)


# ------------------------------------------------------------------ the customer's


def _database_url(args: argparse.Namespace) -> str:
    from agent.paths import DataDir
    from agent.profile import load_profile

    data_dir = DataDir.resolve(args.data_dir).ensure()
    profile = load_profile(data_dir.config).merged(db=args.db)
    return profile.db or data_dir.database_url


def _with_service(args: argparse.Namespace, work: Callable[[Any], Any]) -> Any:
    """Run ``work(service)`` against the database, opened for this command only."""
    import asyncio

    from agent.license.keys import agent_public_key
    from agent.license.service import LicenseService
    from agent.storage import Storage

    async def run() -> Any:
        async with Storage(_database_url(args)) as storage:
            service = LicenseService(
                storage, public_key=agent_public_key(), presence=await _team_presence(storage)
            )
            return await work(service)

    return asyncio.run(run())


async def _team_presence(storage: Any) -> Any:
    """The team's heartbeats (issue 6) read straight from the database, so ``show`` lists
    every operator active now (the command itself is none of them)."""
    import os
    import socket

    from agent.core.settings import TeamSettings, parse_settings
    from agent.jobs.identity import AgentIdentity
    from agent.jobs.presence import Presence

    stored = await storage.run(storage.settings.load, "team")
    team, _ = parse_settings(TeamSettings, stored)
    return Presence(
        storage=storage,
        identity=AgentIdentity(f"license-{os.getpid()}", socket.gethostname(), os.getpid()),
        domain="",
        ext="",
        spawn=lambda coro: coro.close(),  # never beats: it only reads
        every_s=lambda: float(team.heartbeat_s),
        stale_beats=lambda: int(team.presence_stale_beats),
    )


def _show(args: argparse.Namespace) -> int:
    async def work(service: Any) -> dict[str, Any]:
        view = await service.view()
        result: dict[str, Any] = view.json()
        return result

    data = _with_service(args, work)
    if args.json:
        print(json.dumps(data, ensure_ascii=False))
        return EXIT_OK
    print(format_view(data))
    return EXIT_OK


def format_view(data: dict[str, Any]) -> str:
    """The licence tab as text (U10)."""
    rows = [
        ("Client ID", data["client_id"]),
        ("Client code (EDRPOU)", data["client_code"] or "—"),
        ("Licences", str(data["count"])),
        ("Expires", (data["expires_on"] or "never") if data["client_code"] else "—"),
        ("State", f"{data['state']}: {data['message']}"),
    ]
    if data["active"]:
        rows.append(("Active", ", ".join(h["label"] for h in data["active"])))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name + ':':<{width + 1}} {value}" for name, value in rows)


def _request(args: argparse.Namespace) -> int:
    async def work(service: Any) -> str:
        made = await service.request(args.client_code, args.count)
        text: str = made.text
        return text

    sys.stdout.write(_with_service(args, work))
    return EXIT_OK


def _install(args: argparse.Namespace) -> int:
    key = sys.stdin.read() if args.key == "-" else args.key

    async def work(service: Any) -> dict[str, Any]:
        view = await service.install(key, client_code=args.client_code, count=args.count)
        result: dict[str, Any] = view.json()
        return result

    data = _with_service(args, work)
    print(f"installed: {data['message']} (client code {data['client_code']})")
    return EXIT_OK


# ------------------------------------------------------------------ the vendor's


def _passphrase(args: argparse.Namespace) -> str | None:
    if not args.passphrase_stdin:
        return None
    value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        raise InvalidInput("no passphrase on stdin", field="passphrase")
    return value


def _issue(args: argparse.Namespace) -> int:
    from agent.core.license import LicenseRequest, LicenseTerms, Rejection, parse_request
    from agent.license.keys import issue_key, load_vendor_key, today_utc
    from agent.license.service import rejected

    passphrase = _passphrase(args)
    if args.request:
        text = sys.stdin.read() if args.request == "-" else _read(Path(args.request))
        parsed = parse_request(text)
        if isinstance(parsed, Rejection):
            raise rejected(parsed)
        base = parsed
    elif args.client_id and args.client_code:
        base = LicenseRequest(args.client_id, args.client_code, args.count or 0)
    else:
        raise InvalidInput("give --request FILE, or --client-id, --client-code and --count")
    terms = LicenseTerms(
        client_id=base.client_id,
        client_code=base.client_code,
        count=args.count if args.count is not None else base.count,
        issued_on=args.issued or today_utc(),
        expires_on=args.expires,
    )
    key = issue_key(load_vendor_key(args.private_key, passphrase), terms)
    print(key)
    return EXIT_OK


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read {path}: {exc}", field="request") from exc


def _keygen(args: argparse.Namespace) -> int:
    from agent.license.keys import generate_vendor_key, public_key_hex

    key = generate_vendor_key(args.private_key, _passphrase(args))
    print(f"private key written to {args.private_key} (keep it off the build machine)")
    print(f"public key: {public_key_hex(key)}")
    return EXIT_OK
