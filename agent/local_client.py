"""Talking to the running agent through ``api.json`` (contracts.md §4; B1).

One agent per data dir: a second invocation (``phonet-agent dial``, a ``tel:``
link) finds the running one through ``api.json`` and forwards its request. When
none runs, the agent is started from its saved configuration and waited for.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import httpx

from agent.core.errors import ConfigError, InvalidInput, PbxAuthRejected, PbxUnreachable
from agent.paths import DataDir
from agent.profile import load_profile

START_TIMEOUT_S = 20.0


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


def start_agent(data_dir: DataDir) -> AgentEndpoint:
    """Start ``phonet-agent run`` from the saved profile and wait for its API."""
    if not load_profile(data_dir.config).configured:
        raise ConfigError(
            "no agent is running and none is configured: run `phonet-agent configure` first"
        )
    command = [sys.executable, "-m", "agent", "run", "--data-dir", str(data_dir.root)]
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


def dial_via_running_agent(data_dir: DataDir, number: str) -> int:
    endpoint = find_running_agent(data_dir) or start_agent(data_dir)
    response = endpoint.request("POST", "/api/dial", {"number": number})
    if response.status_code == 202:
        print(f"dialling {number}: call {response.json().get('uuid')}")
        return 0
    message = _error_message(response)
    if response.status_code in (400, 422):
        raise InvalidInput(message)
    if response.status_code == 503:
        raise PbxUnreachable(message)
    if response.status_code == 401:
        raise PbxAuthRejected("the running agent refused our token (api.json is stale?)")
    raise PbxUnreachable(f"the agent answered {response.status_code}: {message}")


def _error_message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:200]
