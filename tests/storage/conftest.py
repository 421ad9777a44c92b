"""Storage tests run on SQLite and PostgreSQL (``db_url`` is parametrised over both)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from agent.storage import Storage
from tests.fixtures.postgres import *  # noqa: F403


class OnWorker:
    """A repository whose methods run on the storage's worker thread, as in the agent."""

    def __init__(self, storage: Storage, repository: Any) -> None:
        self._storage = storage
        self._repository = repository

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._repository, name)
        return lambda *args, **kwargs: self._storage.call(method, *args, **kwargs)


@pytest.fixture
def storage(db_url: str) -> Iterator[Storage]:
    with Storage.open_sync(db_url) as opened:
        yield opened


@pytest.fixture
def journal(storage: Storage) -> OnWorker:
    return OnWorker(storage, storage.journal)


@pytest.fixture
def kv(storage: Storage) -> OnWorker:
    return OnWorker(storage, storage.kv)


@pytest.fixture
def settings(storage: Storage) -> OnWorker:
    return OnWorker(storage, storage.settings)
