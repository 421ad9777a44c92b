"""PyInstaller's entry script for the frozen agent (agent.exe / agent).

Everything goes to agent.cli.main, which handles the agent process's own options
(``--selftest``, ``--quit``, ``--autostart``: contracts.md §2) itself, so the frozen
agent behaves as ``phonet-agent`` does (exit codes, the tray wait at logon).

Output that goes to a pipe or a file is UTF-8. Windows gives a redirected program the
ANSI code page (cp1252 on an English Windows), in which the demo's journal, the
console popups and every Cyrillic name raise UnicodeEncodeError (seen under wine: the
demo's script thread died printing its journal and the agent never quit). A console
keeps Python's own (UTF-16) console writer.

A windowed build shows PyInstaller's "Unhandled exception" dialog when this script
raises, and waits for a click: a test run under wine or on a CI runner would hang
until its timeout. With ``PHONET_AGENT_NO_ERROR_DIALOG=1`` the traceback is printed
(stderr, else the parent process's console) and the process exits 70 instead
(packaging/phonet_build/freeze.py's start check). Operators keep the dialog: it is
all a windowed program can show of a crash at start.
"""

from __future__ import annotations

import io
import os
import sys
import traceback
from pathlib import Path
from typing import TextIO

NO_ERROR_DIALOG = "PHONET_AGENT_NO_ERROR_DIALOG"
EXIT_CRASHED = 70  # EX_SOFTWARE (sysexits.h): no exit code of the CLI's own


def main(argv: list[str]) -> int:
    from agent.cli import main as cli_main

    return cli_main(argv)


def _error_stream() -> TextIO | None:
    """stderr, or the parent's console for a windowed build started from one."""
    if sys.stderr is not None:
        return sys.stderr
    if sys.platform == "win32":
        import ctypes

        if ctypes.windll.kernel32.AttachConsole(0xFFFFFFFF):  # ATTACH_PARENT_PROCESS
            return Path("CONOUT$").open("w", encoding="utf-8")
    return None


def utf8_redirected_output() -> None:
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and not stream.isatty():
            stream.reconfigure(encoding="utf-8")


def run(argv: list[str]) -> int:
    utf8_redirected_output()
    if os.environ.get(NO_ERROR_DIALOG) != "1":
        return main(argv)
    try:
        return main(argv)
    except Exception:
        stream = _error_stream()
        if stream is not None:
            traceback.print_exc(file=stream)
            stream.flush()
        return EXIT_CRASHED


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
