"""Autostart at logon as a setting (agent/desktop/autostart.py; B1): XDG autostart."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from agent.desktop import autostart


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
