"""Run now from the tray (issue 6: J1 history import, J2 robot import): the tray's
command reaches the jobs service as ``POST /api/jobs/{job}/run`` does, and a popup
says how the run ended. A real agent and simulator in this process; the popups find
no notification server here and say it on the console (their fallback).
The same through the real menu and notification server: test_jobs_live.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.desktop.menu import RunJob
from agent.desktop.view import JobView
from agent.desktop.wiring import tray_jobs
from agent.simulator import SimControl, SimulatorInfo
from tests.desktop.inprocess import desktop_agent, no_desktop_session
from tests.jobs.support import raw_record
from tests.scenarios.conftest import wait_until


@pytest.fixture(autouse=True)
def _no_desktop(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    no_desktop_session(monkeypatch, tmp_path / "config")


class Console:
    """What the popups' console fallback printed so far (they are sent on a task)."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys
        self.text = ""

    def says(self, *words: str) -> bool:
        self.text += self.capsys.readouterr().out
        return all(word in self.text for word in words)


async def test_importing_pbx_history_from_the_tray_ends_in_a_popup_with_the_counts(
    simulator: SimulatorInfo, sim: SimControl, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    sim.add_history([raw_record(i, end_at=now - timedelta(minutes=i)) for i in (1, 2, 3)])
    console = Console(capsys)
    async with desktop_agent(simulator, tmp_path / "data") as running:
        actions = running.desktops[0].actions
        await actions.execute(RunJob("history"))

        said = "PBX history import: Done: 3 calls read, 3 imported"
        await wait_until(lambda: console.says(said), timeout=60, what="the result popup")
        runs = (await running.api("GET", "/api/jobs/history/runs")).json()["items"]
        assert [(r["trigger"], r["state"]) for r in runs] == [("manual", "ok")]


async def test_the_robot_import_is_offered_once_set_up_and_says_why_it_cannot_run(
    simulator: SimulatorInfo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with desktop_agent(simulator, tmp_path / "a") as running:
        assert tray_jobs(running.agent.services) == (JobView("history"),)
        await wait_until(
            lambda: any(v.jobs == (JobView("history"),) for v in running.tray.views),
            timeout=30,
            what="the tray shown the jobs",
        )

    team = {"robot_server": "sql.example", "robot_user": "robot"}
    console = Console(capsys)
    async with desktop_agent(simulator, tmp_path / "b", team=team) as running:
        assert tray_jobs(running.agent.services) == (JobView("history"), JobView("robot"))
        await running.desktops[0].actions.execute(RunJob("robot"))
        # no robot password in this machine's keyring (G6): said, nothing run
        words = ("Robot results import: Failed: ", "no robot password for robot@sql.example")
        await wait_until(lambda: console.says(*words), timeout=30, what="the popup saying why")
        runs = (await running.api("GET", "/api/jobs/robot/runs")).json()["items"]
        assert runs == []
