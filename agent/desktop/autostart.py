"""Start the agent at logon, as a setting (B1, operator setting ``autostart``).

Windows: the ``Phonet Agent`` value under HKCU ``…\\CurrentVersion\\Run``, the very
value the installer's "Start at logon" task writes (agent/winsupport.py).
Linux: an XDG autostart entry, ``$XDG_CONFIG_HOME/autostart/phonet-agent.desktop``
(freedesktop.org Desktop Application Autostart Specification).
The agent starts with ``--autostart`` (contracts.md §2: start quietly).

The setting and the entry are kept in agreement by :func:`plan`: the agent remembers
(in its data dir, per machine) what it last agreed on, so a changed setting is written
to the entry, and an entry changed outside the agent (the installer's task, the user
deleting it) changes the setting — never the other way round by default.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from agent.profile import write_atomically

DESKTOP_FILE = "phonet-agent.desktop"
AUTOSTART_FLAG = "--autostart"
APPLIED_FILE = "autostart.json"  # in the data dir: what the setting and the entry agreed on


@dataclass(frozen=True, slots=True)
class Step:
    """What to do so the setting and the logon entry agree (:func:`plan`)."""

    applied: bool  # what both say afterwards (remembered for the next time)
    write: bool | None = None  # set the entry to this
    adopt: bool | None = None  # save this as the setting: the entry changed outside


def plan(wanted: bool, entry: bool, applied: bool | None) -> Step:
    """The setting is ``wanted``, the entry exists or not, ``applied`` is what they last
    agreed on (None: never on this machine, e.g. the first run after the installer).

    - a setting changed since (saved in the window) is written to the entry;
    - else an entry changed since (the installer's "Start at logon", or removed by
      hand) is adopted as the setting;
    - the first time, an existing entry wins over the default ``False`` (the
      installer wrote it), and a setting that is on writes a missing entry.
    """
    if applied is not None and wanted != applied:
        return Step(wanted, write=wanted if entry != wanted else None)
    if applied is not None and entry != applied:
        return Step(entry, adopt=entry if entry != wanted else None)
    if applied is None and entry != wanted:
        if entry:
            return Step(True, adopt=True)
        return Step(True, write=True)
    return Step(wanted)


def read_applied(path: Path) -> bool | None:
    """What the setting and the entry last agreed on; None when never recorded (or the
    record is unreadable: then the first-time rule of :func:`plan` applies again)."""
    try:
        value = json.loads(path.read_text(encoding="utf-8")).get("applied")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, bool) else None


def write_applied(path: Path, applied: bool) -> None:
    write_atomically(path, json.dumps({"applied": applied}) + "\n", mode=0o644)


def agent_command(data_dir: Path | None = None) -> list[str]:
    """How to start this agent again: the frozen exe, else this Python with ``-m agent``."""
    frozen = getattr(sys, "frozen", False)
    command = [sys.executable] if frozen else [sys.executable, "-m", "agent"]
    command.append(AUTOSTART_FLAG)
    if data_dir is not None:
        command += ["run", "--data-dir", str(data_dir)]
    return command


def xdg_entry_path(env: dict[str, str] | None = None) -> Path:
    env = dict(os.environ) if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".config")
    return Path(base) / "autostart" / DESKTOP_FILE


def xdg_entry(command: list[str]) -> str:
    # Desktop Entry Specification, "The Exec key": arguments quoted with double quotes.
    exec_line = " ".join(_desktop_quote(arg) for arg in command)
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Name=Phonet Agent\n"
        "Comment=The Phonet PBX in your system tray\n"
        f"Exec={exec_line}\n"
        "Terminal=false\n"
        "X-GNOME-Autostart-enabled=true\n"
        "X-GNOME-Autostart-Delay=5\n"
    )


def _desktop_quote(arg: str) -> str:
    if arg and all(c.isalnum() or c in "-_./:=@" for c in arg):
        return arg
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`").replace("$", "\\$")
    return f'"{escaped}"'


def is_enabled(env: dict[str, str] | None = None) -> bool:
    if sys.platform == "win32":
        from agent import winsupport

        return winsupport.read_autostart() is not None
    return xdg_entry_path(env).is_file()


def set_enabled(enabled: bool, *, data_dir: Path | None = None) -> None:
    """Write or remove the logon entry; idempotent."""
    if sys.platform == "win32":
        from agent import winsupport

        exe = Path(sys.executable) if getattr(sys, "frozen", False) else None
        if enabled and exe is None:
            # A non-frozen agent (a developer's): the Run value holds the whole command.
            _windows_run_value(agent_command(data_dir))
        else:
            winsupport.set_autostart(enabled, exe)
        return
    path = xdg_entry_path()
    if enabled:
        write_atomically(path, xdg_entry(agent_command(data_dir)), mode=0o644)
    else:
        path.unlink(missing_ok=True)


def _windows_run_value(command: list[str]) -> None:
    if sys.platform == "win32":
        import subprocess
        import winreg

        from agent import winsupport

        with winreg.CreateKeyEx(winreg.HKEY_CURRENT_USER, winsupport.RUN_KEY) as key:
            value = subprocess.list2cmdline(command)
            winreg.SetValueEx(key, winsupport.RUN_VALUE_NAME, 0, winreg.REG_SZ, value)


def describe(command: list[str]) -> str:
    return shlex.join(command)
