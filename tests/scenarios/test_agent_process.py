"""The agent as operators run it: a process of its own, found through api.json by
the next command (contracts.md §2, §4; B1)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agent.simulator import SimControl, SimulatorInfo

ROOT = Path(__file__).resolve().parents[2]


def cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent", *args],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env,
    )  # fmt: skip


def wait_for(condition: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {condition}")


@pytest.fixture
def running_agent(
    simulator: SimulatorInfo, tmp_path: Path
) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    data = tmp_path / "data"
    env = {**os.environ, "PHONET_API_KEY": simulator.api_key}
    env.pop("DISPLAY", None)
    configure = cli(
        "configure", "--data-dir", str(data), "--domain", simulator.domain, "--ext", "001",
        "--base-url", simulator.base_url, env=env,
    )  # fmt: skip
    assert configure.returncode == 0, configure.stderr
    log = (tmp_path / "agent.out").open("w")
    agent = subprocess.Popen(
        [sys.executable, "-m", "agent", "run", "--headless", "--data-dir", str(data)],
        stdout=log, stderr=subprocess.STDOUT, text=True, cwd=ROOT, env=env,
    )  # fmt: skip

    def connected() -> bool:
        try:
            api = json.loads((data / "api.json").read_text())
            status = httpx.get(
                api["url"] + "/api/status", headers={"Authorization": f"Bearer {api['token']}"}
            ).json()
            return bool(status["connected"])
        except (OSError, ValueError, KeyError, httpx.HTTPError):
            return False

    try:
        wait_for(connected)
        yield data, agent
    finally:
        agent.kill()
        agent.wait()
        log.close()


def test_a_tel_link_given_to_the_command_line_reaches_the_running_agent_and_the_pbx_b1(
    running_agent: tuple[Path, subprocess.Popen[str]], sim: SimControl
) -> None:
    data, _ = running_agent
    sim.script("+380442249895", answer=False, ring_s=0.1)
    result = cli("tel:+380-44-224-98-95", "--data-dir", str(data))
    assert result.returncode == 0, result.stderr
    calls = [r for r in sim.requests() if r["path"].startswith("/rest/user/makeCall")]
    assert len(calls) == 1 and "+380442249895" in calls[0]["body"] and "001" in calls[0]["body"]


def test_quit_stops_the_running_agent_cleanly_and_removes_api_json(
    running_agent: tuple[Path, subprocess.Popen[str]],
) -> None:
    data, agent = running_agent
    result = cli("--quit", "--data-dir", str(data))
    assert result.returncode == 0, result.stderr
    assert agent.wait(timeout=20) == 0
    assert not (data / "api.json").exists()


def test_a_second_agent_on_the_same_data_dir_says_one_runs_and_leaves(
    running_agent: tuple[Path, subprocess.Popen[str]], simulator: SimulatorInfo
) -> None:
    data, _ = running_agent
    env = {**os.environ, "PHONET_API_KEY": simulator.api_key}
    env.pop("DISPLAY", None)
    second = cli("run", "--headless", "--data-dir", str(data), env=env, timeout=30)
    assert second.returncode == 0
    assert "already runs" in second.stderr


def test_dial_with_nothing_configured_exits_3_with_a_message(tmp_path: Path) -> None:
    result = cli("dial", "0442249895", "--data-dir", str(tmp_path / "empty"))
    assert result.returncode == 3
    assert "configure" in result.stderr


def test_a_wrong_number_is_refused_with_exit_2(
    running_agent: tuple[Path, subprocess.Popen[str]],
) -> None:
    data, _ = running_agent
    result = cli("dial", "not a number", "--data-dir", str(data))
    assert result.returncode == 2, result.stderr
