"""Crash safety (issue 5, item 8): a real agent process dials through a list, is killed
with SIGKILL mid-list three times (talking, ringing, between calls) and restarted each
time; the dialer resumes by itself. The simulator's makeCall log must then show nobody
dialled twice inside their postpone window, and the attempts in the database must be
exactly the calls made. Killed while the last call's event is open, the restarted
agent still waits for that event (A5)."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from agent.paths import DataDir
from agent.simulator import SimControl, SimulatorInfo
from agent.storage import Storage, operator_scope

T = TypeVar("T")
POSTPONE_S = 3.0
TIMEOUT_S = 60.0
NUMBERS: dict[str, dict[str, Any]] = {
    "+380501230001": {"answer": True, "ring_s": 0.2, "talk_s": 1.5},
    "+380501230002": {"answer": False, "ring_s": 0.6},
    "+380501230003": {"answer": False, "ring_s": 0.3, "disposition": 4},
    "+380501230004": {"answer": False, "ring_s": 0.3, "disposition": 3},
}


def wait_for(predicate: Callable[[], T], what: str, timeout: float = TIMEOUT_S) -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class AgentProcess:
    """``python -m agent run --headless`` on a data dir, talked to over its local API."""

    def __init__(self, info: SimulatorInfo, data: DataDir, log: Path) -> None:
        self.info = info
        self.data = data
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.token = ""

    def start(self) -> None:
        self.data.api_file.unlink(missing_ok=True)
        env = {**os.environ, "PHONET_API_KEY": self.info.api_key}
        command = [
            sys.executable, "-m", "agent", "run", "--headless",
            "--data-dir", str(self.data.root), "--base-url", self.info.base_url,
            "--domain", self.info.domain, "--ext", "001",
        ]  # fmt: skip
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(command, env=env, stdout=out, stderr=out)
        api: dict[str, Any] = wait_for(self._api, "the agent's local API")  # type: ignore[arg-type]
        self.url, self.token = api["url"], api["token"]
        wait_for(lambda: self.get("/api/status")["connected"], "the live link")

    def _api(self) -> dict[str, Any] | None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"the agent exited: {self.log.read_text()[-3000:]}")
        try:
            api: dict[str, Any] = json.loads(self.data.api_file.read_text())
        except (OSError, ValueError):
            return None
        return api if api.get("pid") == self.proc.pid else None

    def call(self, method: str, path: str, body: Any = None) -> Any:
        response = httpx.request(
            method, self.url + path, json=body,
            headers={"Authorization": f"Bearer {self.token}"}, timeout=10,
        )  # fmt: skip
        assert response.status_code < 300, f"{path}: {response.status_code} {response.text}"
        return response.json()

    def get(self, path: str) -> Any:
        return self.call("GET", path)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def prepared(simulator: SimulatorInfo, tmp_path: Path, **operator: Any) -> AgentProcess:
    data = DataDir(tmp_path / "agent").ensure()
    rule = {"postpone_min": POSTPONE_S / 60, "retries": 1}
    retry = dict.fromkeys(("no_answer", "busy", "failed"), rule)
    with Storage.open_sync(data.database_url) as storage:
        storage.call(storage.settings.save, "team", {"completed_talk_s": 0, "calling_window": None})
        storage.call(
            storage.settings.save,
            operator_scope(simulator.domain, "001"),
            {
                "dial_pause_s": 0.1, "retry": retry, "reconnect_s": 0.05,
                "reconnect_max_s": 0.2, **operator,
            },
        )  # fmt: skip
    return AgentProcess(simulator, data, tmp_path / "agent.log")


@pytest.fixture
def agent_process(simulator: SimulatorInfo, tmp_path: Path) -> Iterator[AgentProcess]:
    process = prepared(simulator, tmp_path)
    yield process
    process.stop()


@pytest.fixture
def gated_agent_process(simulator: SimulatorInfo, tmp_path: Path) -> Iterator[AgentProcess]:
    """An agent that makes an event on answer, so the next call waits for it (A5)."""
    process = prepared(simulator, tmp_path, create_event_on_answer=True)
    yield process
    process.stop()


def calls_by_state(sim: SimControl, state: str) -> bool:
    return any(c["state"] == state for c in sim.calls())


def test_kill_9_mid_list_resumes_without_dialling_anyone_twice_and_attempts_stay_exact(
    agent_process: AgentProcess, sim: SimControl
) -> None:
    for number, script in NUMBERS.items():
        sim.script(number, **script)
    agent = agent_process
    agent.start()
    agent.call("POST", "/api/dial-list", {"entries": [{"number": n} for n in NUMBERS]})
    agent.call("POST", "/api/dialer/start", {})

    kills = [
        ("talking", lambda: calls_by_state(sim, "talking")),
        ("ringing", lambda: calls_by_state(sim, "ringing")),
        ("between calls", lambda: agent.get("/api/dialer")["state"] == "between_calls"),
    ]
    for what, moment in kills:
        wait_for(moment, f"a call {what}")
        agent.kill()
        agent.start()
        assert agent.get("/api/dialer")["state"] != "idle", "the run resumes by itself"

    def done() -> bool:
        view = agent.get("/api/dialer")
        return bool(view["state"] == "idle" and view["finished"])

    wait_for(done, "the list to finish", timeout=120)
    agent.stop()
    check_the_log_against_the_database(sim, agent.data)


def test_kill_9_while_the_calls_event_is_open_keeps_the_next_call_waiting_for_it_a5(
    gated_agent_process: AgentProcess, sim: SimControl
) -> None:
    first, second = "+380501230001", "+380501230002"
    sim.script(first, answer=True, ring_s=0.2, talk_s=1.2)
    sim.script(second, answer=False, ring_s=0.2)
    agent = gated_agent_process
    agent.start()
    agent.call("POST", "/api/dial-list", {"entries": [{"number": first}, {"number": second}]})
    agent.call("POST", "/api/dialer/start", {})

    def first_done_and_waiting() -> bool:
        (row, _) = agent.get("/api/dial-list")["items"]
        return row["state"] == "done" and agent.get("/api/dialer")["state"] == "waiting_event"

    wait_for(first_done_and_waiting, "the first call's outcome, its event still open")
    agent.kill()
    agent.start()
    assert agent.get("/api/dialer")["state"] == "waiting_event", "the open event still holds"
    (event,) = agent.get("/api/events?state=open")["items"]
    assert dialled(sim) == [first]
    agent.call("POST", f"/api/events/{event['id']}/save", {"notes": "called"})
    wait_for(lambda: dialled(sim) == [first, second], "the next call once the event is saved")


def dialled(sim: SimControl) -> list[str]:
    return [
        json.loads(r["body"])["otherLegNum"]
        for r in sim.requests()
        if r["method"] == "POST" and r["path"].startswith("/rest/user/makeCall")
    ]


def check_the_log_against_the_database(sim: SimControl, data: DataDir) -> None:
    dialled: dict[str, list[float]] = {}
    for request in sim.requests():
        if request["path"].startswith("/rest/user/makeCall"):
            number = json.loads(request["body"])["otherLegNum"]
            dialled.setdefault(number, []).append(float(request["at"]))
    sim_calls = {c["uuid"]: c["number"] for c in sim.calls()}
    with Storage.open_sync(data.database_url) as storage:
        rows = storage.call(
            lambda: storage.db.execute_sql(  # type: ignore[no-untyped-call]
                "SELECT e.number, e.attempts, e.state, a.uuid, a.outcome, a.started_at "
                "FROM dial_entries e LEFT JOIN dial_attempts a ON a.entry_id = e.id "
                "ORDER BY e.number, a.id"
            ).fetchall()
        )
    attempts: dict[str, list[tuple[Any, ...]]] = {}
    counted: dict[str, int] = {}
    for number, count, state, uuid, outcome, started in rows:
        counted[number] = count
        assert state in ("done", "exhausted"), (number, state)
        if uuid is not None or outcome is not None:
            attempts.setdefault(number, []).append((uuid, outcome, started))
    assert set(dialled) == set(NUMBERS)
    for number, times in dialled.items():
        made = attempts.get(number, [])
        assert counted[number] == len(made) == len(times), (number, counted[number], made, times)
        assert all(outcome is not None for _, outcome, _ in made), "no attempt left open"
        assert all(sim_calls.get(str(uuid).replace("-", "")) == number for uuid, _, _ in made)
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert all(gap >= POSTPONE_S - 0.25 for gap in gaps), (number, gaps)
    assert counted == {
        "+380501230001": 1, "+380501230002": 2, "+380501230003": 2, "+380501230004": 2,
    }  # fmt: skip
