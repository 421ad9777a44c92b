"""Phonet Agent: a system-tray agent for operators of the Phonet cloud PBX."""

import sys

from agent.pg_driver import install as _keep_psycopg2_lazy

__version__ = "0.1.0"

_keep_psycopg2_lazy()  # before anything imports peewee (agent/pg_driver.py)

# httpx imports its command-line client (rich and pygments: ~2.5 MB and ~50 ms) whenever
# they happen to be installed; the agent never runs it, and httpx falls back
# to a stub on ImportError (httpx/__init__.py). Issue 2, idle memory and start time.
if "httpx" not in sys.modules:
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
