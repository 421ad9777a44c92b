"""Autostart at logon as a setting (agent/desktop/autostart.py; B1): XDG autostart, and
the setting and the entry kept in agreement (the installer writes the entry too)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from agent.desktop import autostart
from agent.paths import DataDir
from agent.simulator import SimulatorInfo
from agent.storage.database import Storage
from tests.desktop.inprocess import desktop_agent, no_desktop_session
from tests.scenarios.conftest import wait_until


@pytest.fixture
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path / "config"


@pytest.mark.skipif(sys.platform == "win32", reason="the XDG entry is the Linux form")
def test_the_setting_writes_and_removes_an_xdg_autostart_entry(config_home: Path) -> None:
    assert not autostart.is_enabled()
    autostart.set_enabled(True)
    entry = config_home / "autostart" / "phonet-agent.desktop"
    text = entry.read_text()
    assert autostart.is_enabled()
    assert "[Desktop Entry]\nType=Application\n" in text
    exec_line = next(line for line in text.splitlines() if line.startswith("Exec="))
    assert shlex.split(exec_line[5:]) == [sys.executable, "-m", "agent", "--autostart"]
    autostart.set_enabled(True)  # idempotent
    autostart.set_enabled(False)
    assert not entry.exists() and not autostart.is_enabled()
    autostart.set_enabled(False)


def test_a_data_dir_other_than_the_default_goes_into_the_command(config_home: Path) -> None:
    command = autostart.agent_command(Path("/srv/agent data"))
    assert command[-4:] == ["--autostart", "run", "--data-dir", "/srv/agent data"]
    exec_value = autostart.xdg_entry(command).split("Exec=")[1].splitlines()[0]
    assert exec_value.endswith('run --data-dir "/srv/agent data"')


def test_the_autostart_command_parses_on_the_command_line() -> None:
    from agent.cli import build_parser

    args = build_parser().parse_args(autostart.agent_command(Path("/d"))[3:])
    assert args.command == "run" and args.autostart and args.data_dir == "/d"


# ------------------------------------------------------------------ setting and entry agree


@pytest.mark.parametrize(
    ("wanted", "entry", "applied", "expected"),
    [
        # the first start on this machine: an existing entry (the installer's) wins
        (False, True, None, autostart.Step(True, adopt=True)),
        (True, False, None, autostart.Step(True, write=True)),
        (False, False, None, autostart.Step(False)),
        (True, True, None, autostart.Step(True)),
        # the setting changed since they last agreed: the entry follows it
        (True, False, False, autostart.Step(True, write=True)),
        (False, True, True, autostart.Step(False, write=False)),
        # the entry changed outside the agent (installer again, removed by hand)
        (False, True, False, autostart.Step(True, adopt=True)),
        (True, False, True, autostart.Step(False, adopt=False)),
        # nothing changed: nothing is done
        (True, True, True, autostart.Step(True)),
        (False, False, False, autostart.Step(False)),
    ],
)
def test_the_setting_and_the_logon_entry_are_made_to_agree(
    wanted: bool, entry: bool, applied: bool | None, expected: autostart.Step
) -> None:
    assert autostart.plan(wanted, entry, applied) == expected


def test_an_unreadable_record_counts_as_none(tmp_path: Path) -> None:
    record = tmp_path / autostart.APPLIED_FILE
    assert autostart.read_applied(record) is None
    record.write_text("[1, 2]")
    assert autostart.read_applied(record) is None
    autostart.write_applied(record, True)
    assert autostart.read_applied(record) is True


def stored_autostart(data: Path, domain: str) -> object:
    with Storage.open_sync(DataDir(data).database_url) as storage:
        return storage.call(storage.settings.load, f"operator:{domain}/001").get("autostart")


@pytest.mark.skipif(sys.platform == "win32", reason="the XDG entry is the Linux form")
async def test_the_installers_start_at_logon_survives_the_agents_start_and_turns_the_setting_on(
    simulator: SimulatorInfo, config_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The installer's "Start at logon" writes the entry (on Windows the Run value; here
    its XDG twin), the setting is at its default (off): the entry stays, the setting
    turns on, and both stay so over the next start (B1; docs/desktop.md)."""
    no_desktop_session(monkeypatch, config_home)
    autostart.set_enabled(True)
    data = tmp_path / "data"

    async with desktop_agent(simulator, data) as running:
        assert autostart.is_enabled()
        assert running.agent.operator.autostart is True
        body = (await running.api("GET", "/api/settings")).json()
        assert body["operator"]["autostart"] is True
    assert stored_autostart(data, simulator.domain) is True

    async with desktop_agent(simulator, data):
        assert autostart.is_enabled()


@pytest.mark.skipif(sys.platform == "win32", reason="the XDG entry is the Linux form")
async def test_the_setting_saved_in_the_window_writes_and_removes_the_entry_and_holds_after_restart(
    simulator: SimulatorInfo, config_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_desktop_session(monkeypatch, config_home)
    data = tmp_path / "data"
    async with desktop_agent(simulator, data) as running:
        assert not autostart.is_enabled()
        saved = await running.api("PUT", "/api/settings", {"operator": {"autostart": True}})
        assert saved.status_code == 200, saved.text
        await wait_until(autostart.is_enabled, timeout=30, what="the entry written")
        saved = await running.api("PUT", "/api/settings", {"operator": {"autostart": False}})
        assert saved.status_code == 200, saved.text
        await wait_until(lambda: not autostart.is_enabled(), timeout=30, what="the entry removed")

    async with desktop_agent(simulator, data) as running:
        assert not autostart.is_enabled() and running.agent.operator.autostart is False


@pytest.mark.skipif(sys.platform == "win32", reason="the XDG entry is the Linux form")
async def test_an_entry_removed_by_hand_turns_the_setting_off_at_the_next_start(
    simulator: SimulatorInfo, config_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_desktop_session(monkeypatch, config_home)
    data = tmp_path / "data"
    async with desktop_agent(simulator, data, autostart=True):
        assert autostart.is_enabled()
    assert stored_autostart(data, simulator.domain) is None  # a test override, not stored
    autostart.set_enabled(False)  # the user deleted it (or the installer's task was unticked)

    async with desktop_agent(simulator, data, autostart=True) as running:
        # the entry's change wins over a setting that did not change since
        assert not autostart.is_enabled() and running.agent.operator.autostart is False
    assert stored_autostart(data, simulator.domain) is False
