"""PyInstaller's entry script for the frozen agent (agent.exe / agent).

Until agent/cli.py wires ``--selftest``, ``--quit`` and ``--autostart`` itself, this
script routes them: ``--selftest`` to agent.selftest.main(), ``--quit`` to
agent.winsupport.request_quit() on Windows; everything else goes to agent.cli.main.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    if "--selftest" in argv:
        from agent.selftest import main as selftest_main

        return selftest_main()
    if "--quit" in argv and sys.platform == "win32":
        from agent.winsupport import request_quit

        return 0 if request_quit() else 1
    from agent.cli import main as cli_main

    return cli_main([a for a in argv if a != "--autostart"])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
