"""Talking to the running agent through ``api.json`` (contracts.md §4; B1).

One agent per data dir: a second invocation (``phonet-agent dial``, a ``tel:``
link) finds the running one through ``api.json`` and forwards its request. When
none runs, the agent is started from its saved configuration and waited for: first
its API, then its PBX link (contracts.md §4 ``link``), so the forwarded dial does not
race the first connection.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from agent.core.errors import ConfigError, InvalidInput, PbxAuthRejected, PbxUnreachable
from agent.paths import DataDir
from agent.profile import load_profile

log = logging.getLogger(__name__)

START_TIMEOUT_S = 20.0
# How long a dial waits for a "connecting" link: past the default reconnect delay
# (U3 reconnect_s, 10 s), so one refused attempt still ends in the call.
LINK_TIMEOUT_S = 30.0
KEY_REFUSED = "API key refused"  # agent/phonet/live.py's reason for a refused key

Notice = Callable[[str, str], None]  # (title, body): a desktop popup, where one exists


@dataclass(frozen=True, slots=True)
class AgentEndpoint:
    url: str
    token: str
    pid: int

    def request(
        self, method: str, path: str, body: Any = None, timeout: float = 10.0
    ) -> httpx.Response:
        return httpx.request(
            method,
            self.url + path,
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=timeout,
        )


def find_running_agent(data_dir: DataDir) -> AgentEndpoint | None:
    """The agent serving this data dir, or None when ``api.json`` is absent or stale."""
    try:
        data = json.loads(data_dir.api_file.read_text(encoding="utf-8"))
        endpoint = AgentEndpoint(str(data["url"]), str(data["token"]), int(data["pid"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _pid_alive(endpoint.pid):
        return None
    try:
        if endpoint.request("GET", "/api/status", timeout=3.0).status_code == 200:
            return endpoint
    except httpx.HTTPError:
        return None
    return None


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if sys.platform == "win32":
        import ctypes

        handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, pid)  # type: ignore[attr-defined]
        if not handle:
            return False
        ctypes.windll.kernel32.CloseHandle(handle)  # type: ignore[attr-defined]
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_command(data_dir: DataDir) -> list[str]:
    """``phonet-agent run`` for this data dir: the frozen build's own exe (it takes the
    CLI's arguments itself, packaging/entry.py), else this Python with ``-m agent``."""
    frozen = getattr(sys, "frozen", False)
    base = [sys.executable] if frozen else [sys.executable, "-m", "agent"]
    return [*base, "run", "--data-dir", str(data_dir.root)]


def start_agent(data_dir: DataDir) -> AgentEndpoint:
    """Start ``phonet-agent run`` from the saved profile and wait for its API."""
    if not load_profile(data_dir.config).configured:
        raise ConfigError(
            "no agent is running and none is configured: run `phonet-agent configure` first"
        )
    command = run_command(data_dir)
    kwargs: dict[str, Any] = {
        "stdin": subprocess.DEVNULL,
        "stdout": subprocess.DEVNULL,
        "stderr": subprocess.DEVNULL,
    }
    if sys.platform == "win32":
        kwargs["creationflags"] = 0x00000008 | 0x00000200  # DETACHED_PROCESS | NEW_PROCESS_GROUP
    else:
        kwargs["start_new_session"] = True
    process = subprocess.Popen(command, **kwargs)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        endpoint = find_running_agent(data_dir)
        if endpoint is not None:
            return endpoint
        code = process.poll()
        if code is not None:
            raise ConfigError(f"the agent could not start (exit {code}); see {data_dir.log_file}")
        time.sleep(0.1)
    raise PbxUnreachable("the agent did not come up in time")


def wait_for_link(
    endpoint: AgentEndpoint, data_dir: DataDir, timeout: float = LINK_TIMEOUT_S
) -> None:
    """Return once the agent's PBX link is online (contracts.md §4 ``link``).

    ``connecting`` is waited for (a just-started agent, or one retrying); ``offline`` is
    final (Disconnect, or the live client gave up): it raises at once with the agent's
    reason, as does a link still not up at the deadline.
    """
    deadline = time.monotonic() + timeout
    while True:
        status = _status(endpoint)
        link, reason = status.get("link"), status.get("link_reason")
        if link == "online":
            return
        if link == "offline":
            if reason == KEY_REFUSED:
                raise PbxAuthRejected("the PBX refused the API key; the agent cannot dial")
            why = f" ({reason})" if reason else ""
            raise PbxUnreachable(
                f"the agent is not connected to the PBX{why}: use Connect in the tray, "
                f"or see {data_dir.log_file}"
            )
        if time.monotonic() >= deadline:
            why = f" (last problem: {reason})" if reason else ""
            raise PbxUnreachable(
                f"the agent could not connect to the PBX within {timeout:g} s{why}; "
                f"it keeps trying: see {data_dir.log_file}"
            )
        time.sleep(0.1)


def _status(endpoint: AgentEndpoint) -> dict[str, Any]:
    try:
        response = endpoint.request("GET", "/api/status", timeout=5.0)
    except httpx.HTTPError as exc:
        raise PbxUnreachable(f"the agent stopped answering: {type(exc).__name__}") from exc
    if response.status_code != 200:
        raise PbxUnreachable(f"the agent answered {response.status_code} to /api/status")
    body: dict[str, Any] = response.json()
    return body


def dial_via_running_agent(data_dir: DataDir, number: str, notice: Notice | None = None) -> int:
    """Forward a dial (a ``tel:`` link, ``phonet-agent dial``) to the agent, starting it
    when none runs; ``notice`` shows what the operator must know (a popup)."""
    endpoint = find_running_agent(data_dir) or start_agent(data_dir)
    wait_for_link(endpoint, data_dir)
    response = endpoint.request("POST", "/api/dial", {"number": number})
    if response.status_code == 202:
        print(f"dialling {number}: call {response.json().get('uuid')}")
        _tell_extension_ignored(number, notice)
        return 0
    message = _error_message(response)
    if response.status_code in (400, 422):
        raise InvalidInput(message)
    if response.status_code == 503:
        raise PbxUnreachable(message)
    if response.status_code == 401:
        raise PbxAuthRejected("the running agent refused our token (api.json is stale?)")
    raise PbxUnreachable(f"the agent answered {response.status_code}: {message}")


def _tell_extension_ignored(number: str, notice: Notice | None) -> None:
    """RFC 3966 ``;ext=`` (or "x12" typed after a number) cannot be dialled: the PBX API
    places a call and has no way to send tones into it (phonet-api.md, "Not found":
    no DTMF-send endpoint). Say so rather than drop it silently."""
    from agent.core.numbers import DialTarget, parse_dial_target
    from agent.i18n import Translator, resolve_language

    target = parse_dial_target(number)
    if not isinstance(target, DialTarget) or not target.extension:
        return
    t = Translator(resolve_language(""))
    body = t("popup.extension_ignored", ext=target.extension)
    log.info("extension %s of %s not dialled: the PBX API cannot send it", target.extension, number)
    print(body)
    if notice is not None:
        try:
            notice(t("popup.dial", number=target.number), body)
        except Exception:
            log.exception("the extension notice could not be shown")


def _error_message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:200]
