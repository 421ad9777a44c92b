"""``python -m agent.simulator`` (= ``phonet-agent simulator``): banner, logs, signals."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agent.simulator import SimulatorInfo, run_cli

TIMEOUT_S = 10.0
ROOT = Path(__file__).resolve().parents[2]
KEY = "TestKeyTestKeyTestKeyTestKey1234"


class Running:
    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "agent.simulator", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # blocks until the banner (or exit)
        assert line, self.process.stderr.read() if self.process.stderr else ""
        self.banner = json.loads(line)
        self.info = SimulatorInfo(**self.banner)

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str, str]:
        self.process.send_signal(sig)
        out, err = self.process.communicate(timeout=TIMEOUT_S)
        return self.process.returncode, out, err


@pytest.fixture
def running() -> Iterator[list[Running]]:
    started: list[Running] = []
    yield started
    for item in started:
        if item.process.poll() is None:
            item.process.kill()
            item.process.communicate()


def test_the_banner_is_one_json_line_and_sigterm_exits_0(running: list[Running]) -> None:
    sim = Running("--api-key", KEY, "--domain", "acme.sim")
    running.append(sim)
    assert set(sim.banner) == {"base_url", "ws_url", "domain", "api_key", "ca_file"}
    assert sim.banner["domain"] == "acme.sim" and sim.banner["api_key"] == KEY
    assert sim.banner["ca_file"] is None
    assert sim.info.base_url.startswith("http://127.0.0.1:") and not sim.info.base_url.endswith(
        ":0"
    )
    with httpx.Client(base_url=sim.info.base_url, verify=False) as client:
        login = {"domain": "acme.sim", "apiKey": KEY}
        assert client.post("/rest/security/authorize", json=login).status_code == 200
    code, out, err = sim.stop(signal.SIGTERM)
    assert code == 0
    assert out == ""  # the banner was the only line
    assert "authorize ok" in err


def test_sigint_exits_0(running: list[Running]) -> None:
    sim = Running()
    running.append(sim)
    assert len(sim.banner["api_key"]) == 32 and sim.banner["api_key"].isalnum()
    code, _, _ = sim.stop(signal.SIGINT)
    assert code == 0


def test_logs_go_to_stderr_with_the_api_key_masked(running: list[Running]) -> None:
    sim = Running("--api-key", KEY)
    running.append(sim)
    ws_url = f"{sim.info.ws_url}?domain={sim.info.domain}&apiKey={KEY}&subscriber=001"
    with httpx.Client(verify=False) as client:
        # A plain GET of the live URL: uvicorn logs its path and query.
        client.get(ws_url.replace("ws://", "http://"))
        client.post(f"{sim.info.base_url}/rest/security/authorize", json={"apiKey": KEY})
        client.post(f"{sim.info.base_url}/rest/security/authorize", json={"apiKey": "wrong"})
    code, _, err = sim.stop()
    assert code == 0
    assert "/live/connector/v3/easy" in err and "apiKey=***" in err
    assert KEY not in err
    assert "JSESSIONID" not in err


def test_tls_banner_names_a_ca_file_that_verifies(running: list[Running]) -> None:
    sim = Running("--tls")
    running.append(sim)
    ca_file = sim.banner["ca_file"]
    assert sim.info.base_url.startswith("https://") and Path(ca_file).is_file()
    with httpx.Client(verify=ssl.create_default_context(cafile=ca_file)) as client:
        assert client.get(f"{sim.info.base_url}/rest/users").status_code == 403
    code, _, _ = sim.stop()
    assert code == 0
    assert not Path(ca_file).exists()  # removed at exit


def test_bad_usage_is_exit_2() -> None:
    assert run_cli(["--port", "not-a-port"]) == 2
    assert run_cli(["--operator-answer-s", "-1"]) == 2


def test_a_port_in_use_is_exit_2() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = subprocess.run(
            [sys.executable, "-m", "agent.simulator", "--port", port],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
    assert result.returncode == 2 and result.stdout == ""
    assert "cannot listen" in result.stderr
