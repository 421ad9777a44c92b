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

from agent.core.errors import PbxUnreachable
from agent.local_client import find_running_agent, run_command, wait_for_link
from agent.paths import DataDir
from agent.simulator import SimControl, SimulatorInfo
from agent.storage.database import Storage

ROOT = Path(__file__).resolve().parents[2]
NUMBER = "+380442249895"


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


# ------------------------------------------------------------------ an agent started by a link


def headless_env(api_key: str) -> dict[str, str]:
    env = {**os.environ, "PHONET_API_KEY": api_key}
    for name in ("DISPLAY", "WAYLAND_DISPLAY"):
        env.pop(name, None)
    return env


def _gone(pid: int) -> bool:
    """Exited (a zombie waiting for init to reap it counts as exited)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return True


@pytest.fixture
def configured(simulator: SimulatorInfo, tmp_path: Path) -> Iterator[Path]:
    """A configured data dir and no agent running. An agent a test starts through a
    link is asked to quit afterwards, and waited for. Its reconnect delay (1 s) leaves
    its API answering well before a refused first attempt is retried."""
    data = tmp_path / "data"
    env = headless_env(simulator.api_key)
    configure = cli(
        "configure", "--data-dir", str(data), "--domain", simulator.domain, "--ext", "001",
        "--base-url", simulator.base_url, env=env,
    )  # fmt: skip
    assert configure.returncode == 0, configure.stderr
    delays = {"reconnect_s": 1.0, "reconnect_max_s": 1.0}
    with Storage.open_sync(DataDir(data).database_url) as storage:
        storage.call(storage.settings.save, f"operator:{simulator.domain}/001", delays)
    yield data
    try:
        pid = int(json.loads((data / "api.json").read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return
    cli("--quit", "--data-dir", str(data), env=env)
    try:
        wait_for(lambda: _gone(pid), 20)
    finally:
        if not _gone(pid):
            os.kill(pid, 9)  # the agent this test started, by its id


def makecalls(sim: SimControl) -> list[str]:
    return [r["body"] for r in sim.requests() if r["path"].startswith("/rest/user/makeCall")]


def test_a_tel_link_starts_the_agent_and_dials_once_its_pbx_link_is_up_b1(
    configured: Path, simulator: SimulatorInfo, sim: SimControl
) -> None:
    """The started agent's first WebSocket attempt is refused: the link is "connecting"
    when its API answers, and the dial is forwarded only once the link is online."""
    sim.faults(ws_refuse=1)
    sim.script(NUMBER, answer=False, ring_s=0.1)
    result = cli("tel:+380-44-224-98-95", "--data-dir", str(configured),
                 env=headless_env(simulator.api_key))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert sim.faults()["ws_refuse"] == 0  # the refused attempt happened
    assert [json.loads(body)["otherLegNum"] for body in makecalls(sim)] == [NUMBER]


def test_a_tel_link_whose_agent_is_refused_by_the_pbx_says_so_and_exits_4(
    configured: Path, simulator: SimulatorInfo, sim: SimControl
) -> None:
    """The link goes offline for good (the key is refused): a final state, told at once
    with the reason instead of a dial that cannot work."""
    result = cli("tel:+380442249895", "--data-dir", str(configured),
                 env=headless_env("not-the-key"))  # fmt: skip
    assert result.returncode == 4, result.stdout + result.stderr
    assert "refused the API key" in result.stderr
    assert makecalls(sim) == []


def test_a_link_still_connecting_at_the_deadline_is_told_clearly(
    running_agent: tuple[Path, subprocess.Popen[str]], sim: SimControl
) -> None:
    data, _ = running_agent
    endpoint = find_running_agent(DataDir(data))
    assert endpoint is not None
    sim.faults(ws_refuse=1000)
    sim.drop()  # the agent retries after reconnect_s (10 s by default): "connecting"
    wait_for(lambda: endpoint.request("GET", "/api/status").json()["link"] == "connecting")

    with pytest.raises(PbxUnreachable, match=r"could not connect to the PBX within 0.2 s"):
        wait_for_link(endpoint, DataDir(data), timeout=0.2)


def test_a_tel_link_with_an_extension_dials_the_number_and_says_the_extension_was_not(
    running_agent: tuple[Path, subprocess.Popen[str]], sim: SimControl
) -> None:
    """RFC 3966 ``;ext=``: the PBX API has no way to send it into the call (no DTMF
    endpoint, phonet-api.md), so the number is dialled and the operator told."""
    data, _ = running_agent
    sim.script(NUMBER, answer=False, ring_s=0.1)
    result = cli("tel:+380-44-224-98-95;ext=12", "--data-dir", str(data))
    assert result.returncode == 0, result.stderr
    assert "Extension 12 was not dialled" in result.stdout
    calls = makecalls(sim)
    assert len(calls) == 1 and NUMBER in calls[0] and '12"' not in calls[0].replace(NUMBER, "")


def test_the_agent_a_link_starts_is_this_python_or_the_frozen_exe_itself(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    data = DataDir(tmp_path / "d")
    command = run_command(data)
    assert command == [sys.executable, "-m", "agent", "run", "--data-dir", str(data.root)]
    from agent.cli import build_parser

    args = build_parser().parse_args(command[3:])
    assert (args.command, args.data_dir) == ("run", str(data.root))

    exe = r"C:\Program Files\Phonet Agent\phonet-agent.exe"
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", exe)
    assert run_command(data) == [exe, "run", "--data-dir", str(data.root)]
