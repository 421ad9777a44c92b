"""``python -m agent`` is ``phonet-agent``."""

import sys

from agent.cli import main

sys.exit(main())
