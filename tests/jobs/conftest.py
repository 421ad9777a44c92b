"""Fixtures of the jobs tests: a started storage on SQLite and PostgreSQL (``db_url``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from agent.storage.database import Storage
from tests.fixtures.postgres import *  # noqa: F403
from tests.scenarios.conftest import agent_factory  # noqa: F401  (in-process agents)


@pytest.fixture
async def storage(db_url: str) -> AsyncIterator[Storage]:
    store = Storage(db_url)
    await store.start()
    yield store
    await store.close()
