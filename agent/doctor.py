"""``phonet-agent doctor``: what is wrong with this machine's agent, in words (contracts.md §2).

Checks, in the order an operator (or the person on the phone helping them) would fix
things: the connection profile, a running agent, the keyring and the API key, the
database and its schema, the licence, the PBX (a real authorisation and the operator's
extension among its users), and the desktop backends (tray, popups, window) through the
same probes as ``--selftest``.

Each check gives a :class:`Finding`: ``ok``, ``warn`` (the agent works, with less) or
``fail`` (the agent will not work until it is fixed). The exit code follows the worst
failure, as the rest of the CLI: 4 the PBX refused the API key, 3 not configured or
something unreachable, 2 bad input; 0 when nothing failed. Secrets are never printed:
the key is only said to be present, and where it comes from.

The live stream is not opened: the PBX's behaviour with a second subscriber on the same
extension is not documented (phonet-api.md §3.3), and a running agent holds one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from agent.core.errors import (
    AgentError,
    InvalidInput,
    PbxAuthRejected,
    PbxError,
    SecretMissing,
)
from agent.paths import DataDir
from agent.profile import Profile, load_profile

EXIT_OK, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_KEY_REFUSED = 0, 2, 3, 4
PBX_TIMEOUT_S = 10.0


class Verdict(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class Finding:
    area: str
    verdict: Verdict
    words: str
    exit_code: int = EXIT_OK  # what this failure means for the CLI's exit code


def ok(area: str, words: str) -> Finding:
    return Finding(area, Verdict.OK, words)


def warn(area: str, words: str) -> Finding:
    return Finding(area, Verdict.WARN, words)


def fail(area: str, words: str, exit_code: int = EXIT_UNREACHABLE) -> Finding:
    return Finding(area, Verdict.FAIL, words, exit_code)


def exit_code(findings: list[Finding]) -> int:
    """The worst failure's code: a refused key first, then unreachable/unconfigured."""
    codes = {f.exit_code for f in findings if f.verdict is Verdict.FAIL}
    for code in (EXIT_KEY_REFUSED, EXIT_UNREACHABLE, EXIT_USAGE):
        if code in codes:
            return code
    return EXIT_OK


# ------------------------------------------------------------------ the checks


def check_profile(profile: Profile, data_dir: DataDir) -> list[Finding]:
    found = [ok("data dir", str(data_dir.root))]
    if not profile.configured:
        return [
            *found,
            fail(
                "configuration",
                "not configured: run `phonet-agent configure --domain D --ext E` "
                "(or give --domain and --ext)",
            ),
        ]
    try:
        profile.check()
    except InvalidInput as exc:
        return [*found, fail("configuration", str(exc), EXIT_USAGE)]
    where = profile.base_url or f"https://{profile.domain}"
    return [
        *found,
        ok("configuration", f"domain {profile.domain}, extension {profile.ext}, {where}"),
    ]


def check_running_agent(data_dir: DataDir) -> Finding:
    from agent.local_client import find_running_agent

    endpoint = find_running_agent(data_dir)
    if endpoint is None:
        return ok("agent", "no agent is running for this data dir")
    try:
        status = endpoint.request("GET", "/api/status", timeout=3.0).json()
    except Exception as exc:  # any failure is a finding, not a crash
        return warn("agent", f"an agent runs (pid {endpoint.pid}) but did not answer: {exc}")
    link = status.get("link", "?")
    reason = status.get("link_reason")
    words = f"an agent runs (pid {endpoint.pid}); its PBX link is {link}"
    if link != "online":
        return warn("agent", words + (f" ({reason})" if reason else ""))
    return ok("agent", words)


def check_keyring(profile: Profile) -> tuple[list[Finding], str | None]:
    """The keyring backend, and the operator's API key (returned, never printed)."""
    from agent.secrets import ENV_API_KEY, SecretName, Secrets, backend_name, backend_problem

    found: list[Finding] = []
    problem = backend_problem()
    from_env = os.environ.get(ENV_API_KEY)
    if problem is not None:
        verdict = warn if from_env else fail
        found.append(verdict("keyring", problem))
    else:
        found.append(ok("keyring", backend_name()))
    if not profile.configured:
        return found, None
    if from_env:
        found.append(ok("API key", f"from {ENV_API_KEY} (this process only)"))
        return found, from_env
    secrets = Secrets()
    try:
        key = secrets.api_key(profile.domain, profile.ext)
    except SecretMissing as exc:
        found.append(fail("API key", str(exc)))
        return found, None
    own = secrets.has(SecretName.api_key(profile.domain, profile.ext))
    where = "the operator's own" if own else f"the team's ({profile.domain}/team)"
    found.append(ok("API key", f"{where}, in the keyring"))
    return found, key


async def check_database(url: str) -> tuple[list[Finding], dict[str, Any] | None]:
    """The database (opened as the agent opens it: the schema is brought up to date)
    and the licence view it holds."""
    from agent.storage import Storage
    from agent.storage.schema import applied_versions
    from agent.storage.urls import redact_url

    shown = redact_url(url)
    try:
        async with Storage(url) as storage:
            versions = await storage.run(applied_versions, storage.db)
            found = [ok("database", f"{shown}, {len(versions)} migrations applied")]
            licence = await _licence_view(storage)
    except AgentError as exc:
        return [fail("database", f"{shown}: {exc}")], None
    return found, licence


async def _licence_view(storage: Any) -> dict[str, Any] | None:
    from agent.license.keys import agent_public_key
    from agent.license.service import LicenseService

    try:
        service = LicenseService(storage, public_key=agent_public_key(), presence=None)
        view: dict[str, Any] = (await service.view()).json()
    except Exception:  # the licence check must not hide the others
        return None
    return view


def check_licence(view: dict[str, Any] | None) -> list[Finding]:
    if view is None:
        return []
    state = str(view.get("state", ""))
    words = f"{state}: {view.get('message', '')}".strip(": ")
    if state == "licensed":
        return [ok("licence", words)]
    if state == "unlicensed":
        return [warn("licence", words or "no product key: runs as one seat")]
    return [fail("licence", words, EXIT_UNREACHABLE)]


async def check_pbx(profile: Profile, api_key: str) -> list[Finding]:
    from agent.phonet.rest import PhonetRest

    rest = PhonetRest(
        domain=profile.domain,
        api_key=api_key,
        base_url=profile.base_url or None,
        ca_file=profile.ca_file or None,
        timeout_s=PBX_TIMEOUT_S,
    )
    where = profile.base_url or f"https://{profile.domain}"
    try:
        started = time.perf_counter()
        await rest.authorize()
        took_ms = (time.perf_counter() - started) * 1000
        found = [ok("PBX", f"{where} accepted the API key ({took_ms:.0f} ms)")]
        users = await rest.users()
    except PbxAuthRejected:
        return [fail("PBX", f"{where} refused the API key", EXIT_KEY_REFUSED)]
    except PbxError as exc:
        return [fail("PBX", f"{where}: {exc}")]
    finally:
        await rest.aclose()
    exts = {u.ext for u in users}
    if profile.ext in exts:
        found.append(ok("extension", f"{profile.ext} is a user of the PBX"))
    else:
        found.append(
            warn("extension", f"{profile.ext} is not among the PBX's {len(exts)} users' extensions")
        )
    return found


def check_desktop(probe: Callable[[], dict[str, object]] | None = None) -> list[Finding]:
    """Tray, popups and window through ``--selftest``'s probes: a missing one is a
    warning (the agent falls back to the console and the browser)."""
    from agent.selftest import run_selftest

    report = (probe or run_selftest)()
    found: list[Finding] = []
    for area, key in (("tray", "tray"), ("popups", "notifier"), ("window", "window")):
        part = report.get(key)
        if not isinstance(part, dict):
            continue
        result = str(part.get("probe", ""))
        words = f"{part.get('backend', '?')}: {result}"
        found.append(ok(area, words) if result.startswith("ok") else warn(area, words))
    return found


# ------------------------------------------------------------------ the command


async def diagnose(
    profile: Profile,
    data_dir: DataDir,
    *,
    desktop: Callable[[], dict[str, object]] | None = None,
    with_desktop: bool = True,
) -> list[Finding]:
    findings = check_profile(profile, data_dir)
    findings.append(check_running_agent(data_dir))
    keyring_findings, api_key = check_keyring(profile)
    findings += keyring_findings
    db_findings, licence = await check_database(profile.db or data_dir.database_url)
    findings += db_findings + check_licence(licence)
    if profile.configured and api_key is not None:
        findings += await check_pbx(profile, api_key)
    if with_desktop:
        findings += await asyncio.to_thread(check_desktop, desktop)
    return findings


def format_findings(findings: list[Finding]) -> str:
    width = max((len(f.area) for f in findings), default=0)
    marks = {Verdict.OK: "ok  ", Verdict.WARN: "warn", Verdict.FAIL: "FAIL"}
    lines = [f"{marks[f.verdict]}  {f.area.ljust(width)}  {f.words}" for f in findings]
    failed = sum(f.verdict is Verdict.FAIL for f in findings)
    warned = sum(f.verdict is Verdict.WARN for f in findings)
    if failed:
        lines.append(f"{failed} problem(s) stop the agent; {warned} warning(s).")
    else:
        lines.append(f"The agent can run; {warned} warning(s).")
    return "\n".join(lines)


def add_parser(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    doctor = sub.add_parser(
        "doctor", help="check configuration, keyring, database, desktop and the PBX"
    )
    common(doctor)
    doctor.add_argument("--json", action="store_true", help="one JSON document")
    doctor.add_argument("--no-desktop", action="store_true", help="skip the desktop probes")


def cmd_doctor(args: argparse.Namespace) -> int:
    data_dir = DataDir.resolve(args.data_dir).ensure()
    profile = load_profile(data_dir.config).merged(
        domain=args.domain, ext=args.ext, base_url=args.base_url, ca_file=args.ca_file, db=args.db
    )
    findings = asyncio.run(diagnose(profile, data_dir, with_desktop=not args.no_desktop))
    code = exit_code(findings)
    if args.json:
        print(
            json.dumps(
                {"findings": [asdict(f) for f in findings], "exit_code": code},
                ensure_ascii=False,
            )
        )
    else:
        print(format_findings(findings))
    return code
