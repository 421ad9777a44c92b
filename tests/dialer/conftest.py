"""Fixtures of the dialer's tests: the simulator-wired agent (tests/scenarios) and
both database engines (tests/fixtures/postgres.py)."""

from __future__ import annotations

from tests.fixtures.postgres import *  # noqa: F403
from tests.scenarios.conftest import agent_factory  # noqa: F401
