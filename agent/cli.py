"""The ``phonet-agent`` command line (contracts.md §2).

Exit codes: 0 ok; 2 bad usage or input; 3 PBX or database unreachable, or not
configured; 4 the PBX refused the API key; 5 the licence refused the start.
Heavy modules are imported inside the commands that need them, so ``dial`` from a
``tel:`` link starts fast.
"""

from __future__ import annotations

import argparse
import io
import logging
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from agent.core.errors import AgentError, ConfigError, InvalidInput
from agent.jobs.cli import add_parsers as add_job_parsers
from agent.jobs.cli import cmd_import_history, cmd_import_robot
from agent.paths import DataDir

if TYPE_CHECKING:
    from agent.profile import Profile

EXIT_OK, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_KEY_REFUSED, EXIT_LICENSE = 0, 2, 3, 4, 5

log = logging.getLogger("agent.cli")


def _common(parser: argparse.ArgumentParser, *, pbx: bool = True) -> None:
    parser.add_argument("--data-dir", help="where the agent keeps its files")
    parser.add_argument("--db", help="sqlite:///… (default: in the data dir) or postgresql://…")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    if pbx:
        parser.add_argument("--base-url", help="the PBX's URL (default https://DOMAIN)")
        parser.add_argument("--domain", help="the Phonet domain, e.g. company.phonet.com.ua")
        parser.add_argument("--ext", help="the operator's extension, e.g. 001")
        parser.add_argument("--ca-file", help="a CA bundle to trust for the PBX's TLS")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="phonet-agent", description="Phonet Agent: the Phonet PBX in your system tray."
    )
    # --quit, --autostart and --selftest are taken out before parsing (main); listed for --help.
    parser.add_argument("--quit", action="store_true", help="ask a running agent to exit")
    parser.add_argument("--autostart", action="store_true", help="started at logon: quietly")
    parser.add_argument("--selftest", action="store_true", help="print one JSON line of probes")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="the tray agent (the default)")
    _common(run)
    run.add_argument("--headless", action="store_true", help="no tray, popups on stdout")

    demo = sub.add_parser("demo", help="simulator + agent with demo data and scripted calls")
    demo.add_argument("--data-dir", help="keep the demo's data here (default: a temp dir)")
    demo.add_argument("--cycle-s", type=float, default=30.0, help="seconds between script runs")
    demo.add_argument("--once", action="store_true", help="play the script once, then exit")
    demo.add_argument("--speed", type=float, default=1.0, help=argparse.SUPPRESS)
    demo.add_argument("-v", "--verbose", action="store_true")

    sim = sub.add_parser("simulator", help="the Phonet PBX simulator alone", add_help=False)
    sim.add_argument("args", nargs=argparse.REMAINDER)

    window = sub.add_parser("window", help="the agent window (started by the agent)")
    window.add_argument("--url", required=True, help="the local API's URL (api.json's url)")
    window.add_argument("--open", dest="target", help="call:UUID, contact:ID, event:ID, page:NAME")
    window.add_argument("--debug", action="store_true", help="allow the web inspector")
    window.add_argument("-v", "--verbose", action="store_true", help="debug logging")

    dial = sub.add_parser("dial", help="ask the running agent to dial")
    dial.add_argument("number", help="a number in any format, or a tel:/callto: URL")
    _common(dial)

    configure = sub.add_parser("configure", help="save the connection profile (no secret)")
    _common(configure)
    configure.add_argument("--login", help="the operator's e-mail in Phonet")

    secret = sub.add_parser("secret", help="store a secret in the OS keyring")
    secret_sub = secret.add_subparsers(dest="action", required=True)
    secret_set = secret_sub.add_parser(
        "set", help="store a secret: typed at a prompt (not shown), or one line of stdin"
    )
    secret_set.add_argument("name", choices=["api-key", "team-api-key", "robot-password"])
    _common(secret_set)
    secret_set.add_argument("--server", help="robot-password: the MS SQL server")
    secret_set.add_argument("--user", help="robot-password: the MS SQL user")

    from agent.license.commands import add_parser as add_license_parser

    add_license_parser(sub, _common)  # license show|request|install|issue|keygen (L1, U10)

    add_job_parsers(sub, _common)  # import-history, import-robot (J1, J2)

    from agent.doctor import add_parser as add_doctor_parser

    add_doctor_parser(sub, _common)  # what is wrong, in words (contracts.md §2)
    return parser


def _utf8_redirected_output() -> None:
    """Output to a pipe or a file is UTF-8: Windows gives a redirected program its ANSI
    code page, in which Cyrillic names raise UnicodeEncodeError (packaging/entry.py does
    the same for the frozen build). A console keeps Python's own writer."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and not stream.isatty():
            stream.reconfigure(encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    if sys.platform == "win32":
        _utf8_redirected_output()
    args_list = list(sys.argv[1:] if argv is None else argv)
    # The Windows URL handler calls `phonet-agent tel:…` (contracts.md §2).
    if args_list and args_list[0].lower().startswith(("tel:", "callto:")):
        args_list = ["dial", *args_list]
    if args_list[:1] == ["simulator"]:
        from agent.simulator import run_cli

        return run_cli(args_list[1:])
    parser = build_parser()
    # The agent process's own options (contracts.md §2) come before any command.
    flags = {"--quit", "--autostart", "--selftest"}
    given = {a for a in args_list if a in flags}
    rest = [a for a in args_list if a not in flags]
    if "--selftest" in given:
        from agent.selftest import main as selftest_main

        return selftest_main()
    if "--quit" in given:
        return quit_running_agent(rest)
    args = parser.parse_args(rest)
    handler = COMMANDS.get(args.command or "run")
    if handler is None:
        parser.print_help()
        return EXIT_USAGE
    if args.command is None:
        args = parser.parse_args(["run", *rest])
    args.autostart = "--autostart" in given
    try:
        return handler(args)
    except AgentError as exc:
        print(f"phonet-agent: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return EXIT_OK


# ------------------------------------------------------------------ commands


def quit_running_agent(rest: list[str]) -> int:
    """``--quit``: ask the running agent to exit (the installer does this first)."""
    data_dir = None
    if "--data-dir" in rest and rest.index("--data-dir") + 1 < len(rest):
        data_dir = rest[rest.index("--data-dir") + 1]
    if sys.platform == "win32":
        from agent import winsupport

        return EXIT_OK if winsupport.request_quit() else EXIT_UNREACHABLE
    from agent.local_client import find_running_agent

    endpoint = find_running_agent(DataDir.resolve(data_dir))
    if endpoint is None:
        print("phonet-agent: no agent is running")
        return EXIT_OK
    endpoint.request("POST", "/api/quit")
    print("phonet-agent: asked the running agent to quit")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from agent.app import AgentOptions, has_display, run_desktop, run_headless, tell_start_refused
    from agent.logs import setup_logging

    data_dir = DataDir.resolve(args.data_dir).ensure()
    setup_logging(data_dir.log_file, verbose=args.verbose)
    headless = args.headless or not has_display()
    try:
        profile, api_key = _run_profile(args, data_dir)
    except AgentError as exc:
        # stderr is nothing a tray user sees (started at logon, from a shortcut): on a
        # desktop the refusal is a popup too, as the licence's is (issue 3).
        if not headless:
            tell_start_refused(exc)
        raise
    options = AgentOptions(
        data_dir=data_dir,
        domain=profile.domain,
        ext=profile.ext,
        api_key=api_key,
        db_url=profile.db or None,
        base_url=profile.base_url or None,
        ca_file=profile.ca_file or None,
        headless=headless,
    )
    if headless:
        return run_headless(options)
    # Started at logon, the panel (the tray host) may come up after us (contracts.md §2).
    return run_desktop(options, wait_for_tray_s=20.0 if getattr(args, "autostart", False) else 2.0)


def _run_profile(args: argparse.Namespace, data_dir: DataDir) -> tuple[Profile, str]:
    """The connection profile and the API key the agent starts with, or why not."""
    from agent.profile import load_profile
    from agent.secrets import Secrets

    profile = load_profile(data_dir.config).merged(
        domain=args.domain, ext=args.ext, base_url=args.base_url, ca_file=args.ca_file, db=args.db
    )
    if not profile.configured:
        raise ConfigError(
            "not configured: run `phonet-agent configure --domain D --ext E` "
            "or give --domain and --ext"
        )
    profile.check()
    return profile, Secrets().api_key(profile.domain, profile.ext)


def cmd_demo(args: argparse.Namespace) -> int:
    from agent.demo import run_demo

    return run_demo(
        data_dir=args.data_dir,
        cycle_s=args.cycle_s,
        once=args.once,
        verbose=args.verbose,
        speed=max(args.speed, 0.1),
    )


def cmd_dial(args: argparse.Namespace) -> int:
    from agent.local_client import dial_via_running_agent

    data_dir = DataDir.resolve(args.data_dir)
    return dial_via_running_agent(data_dir, args.number, notice=_desktop_notice)


def _desktop_notice(title: str, body: str) -> None:
    """A popup from this short-lived process (a ``tel:`` click has no console to read);
    the desktop adapters load only when there is something to say."""
    from agent.app import has_display, show_notice

    if has_display():
        show_notice(title, body)


def cmd_configure(args: argparse.Namespace) -> int:
    from agent.profile import load_profile, save_profile

    data_dir = DataDir.resolve(args.data_dir).ensure()
    profile = load_profile(data_dir.config).merged(
        domain=args.domain,
        ext=args.ext,
        login=args.login,
        base_url=args.base_url,
        ca_file=args.ca_file,
        db=args.db,
    )
    save_profile(data_dir.config, profile.check())
    print(f"saved {data_dir.config}")
    return EXIT_OK


def cmd_secret(args: argparse.Namespace) -> int:
    from agent.profile import load_profile
    from agent.secrets import SecretName, Secrets

    data_dir = DataDir.resolve(args.data_dir)
    profile = load_profile(data_dir.config).merged(domain=args.domain, ext=args.ext)
    value = read_secret(f"{args.name}: ")
    if args.name == "robot-password":
        if not (args.server and args.user):
            raise InvalidInput("robot-password needs --server and --user")
        name = SecretName.robot_password(args.server, args.user)
    elif not profile.domain:
        raise ConfigError("no domain: run `phonet-agent configure` first or give --domain")
    elif args.name == "team-api-key":
        name = SecretName.team_api_key(profile.domain)
    else:
        if not profile.ext:
            raise ConfigError("no extension: run `phonet-agent configure` first or give --ext")
        name = SecretName.api_key(profile.domain, profile.ext)
    Secrets().set(name, value)
    print(f"stored {args.name} for {name.user} in the OS keyring")
    return EXIT_OK


def read_secret(prompt: str) -> str:
    """One secret: typed at a terminal without echo (getpass), else one line of stdin
    (piped from a password manager or a script). Never shown, never logged."""
    if sys.stdin is not None and sys.stdin.isatty():
        import getpass

        try:
            value = getpass.getpass(prompt)
        except EOFError:
            value = ""
    else:
        value = sys.stdin.readline() if sys.stdin is not None else ""
    value = value.rstrip("\r\n")
    if not value.strip():
        raise InvalidInput("no secret given (type it at the prompt, or pipe it on stdin)")
    return value


def cmd_window(args: argparse.Namespace) -> int:
    """The pywebview child (agent/window.py): the token comes on stdin or in
    PHONET_AGENT_TOKEN, never on the command line."""
    from agent.window import main as window_main

    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    return window_main(args.url, args.target, debug=args.debug)


def cmd_doctor(args: argparse.Namespace) -> int:
    from agent.doctor import cmd_doctor as doctor

    return doctor(args)


def cmd_license(args: argparse.Namespace) -> int:
    from agent.license.commands import cmd_license as run_license

    return run_license(args)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": cmd_run,
    "demo": cmd_demo,
    "dial": cmd_dial,
    "configure": cmd_configure,
    "secret": cmd_secret,
    "window": cmd_window,
    "license": cmd_license,
    "import-history": cmd_import_history,
    "import-robot": cmd_import_robot,
    "doctor": cmd_doctor,
}
