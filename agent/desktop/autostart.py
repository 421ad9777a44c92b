"""Start the agent at logon, as a setting (B1, operator setting ``autostart``).

Windows: the ``Phonet Agent`` value under HKCU ``…\\CurrentVersion\\Run``, the very
value the installer's task writes (agent/winsupport.py), so the two never disagree.
Linux: an XDG autostart entry, ``$XDG_CONFIG_HOME/autostart/phonet-agent.desktop``
(freedesktop.org Desktop Application Autostart Specification).
The agent starts with ``--autostart`` (contracts.md §2: start quietly).
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from agent.profile import write_atomically

DESKTOP_FILE = "phonet-agent.desktop"
AUTOSTART_FLAG = "--autostart"


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
