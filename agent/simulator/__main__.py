"""``python -m agent.simulator`` is ``phonet-agent simulator``."""

import sys

from agent.simulator.cli import run_cli

sys.exit(run_cli(sys.argv[1:]))
