"""Fixtures of the contacts area: the services over a real database (SQLite and
PostgreSQL through ``db_url``), with settings an attribute away and a clock the
test moves by hand (architecture.md, rule 9: fake only the clock)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agent.contacts.event_service import EventService
from agent.contacts.service import ContactService
from agent.contacts.shapes import parse_contact
from agent.contacts.stats import StatsService
from agent.core.contacts import Contact
from agent.core.settings import OperatorSettings, TeamSettings
from agent.storage import Storage
from tests.fixtures.postgres import *  # noqa: F403
from tests.scenarios.conftest import agent_factory  # noqa: F401  (in-process agents)

NOW = datetime(2024, 3, 15, 10, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Settings:
    team: TeamSettings = field(default_factory=TeamSettings)
    operator: OperatorSettings = field(default_factory=OperatorSettings)

    def set(self, **values: Any) -> None:
        """Change operator settings as the settings API does: a new frozen value."""
        self.operator = replace(self.operator, **values)


@dataclass
class Area:
    storage: Storage
    settings: Settings
    clock: Clock
    contacts: ContactService
    events: EventService
    stats: StatsService
    published: list[tuple[str, Any]]

    async def add(self, name: str, *numbers: str, **fields: Any) -> Contact:
        body = {"name": name, "phones": [{"number": n} for n in numbers], **fields}
        return await self.contacts.create(parse_contact(body, "UA"))

    def topics(self, topic: str) -> list[Any]:
        return [data for t, data in self.published if t == topic]


async def make_area(db_url: str, own_ext: str = "001") -> Area:
    storage = Storage(db_url)
    await storage.start()
    settings, clock = Settings(), Clock()
    published: list[tuple[str, Any]] = []

    def publish(topic: str, data: Any) -> None:
        published.append((topic, data))

    contacts = ContactService(storage, settings, own_ext=own_ext, publish=publish, clock=clock)
    events = EventService(storage, contacts, settings, own_ext=own_ext, publish=publish)
    await contacts.load_index_state()
    await events.load_open()
    return Area(storage, settings, clock, contacts, events, StatsService(contacts), published)


@pytest.fixture
async def area(db_url: str) -> AsyncIterator[Area]:
    made = await make_area(db_url)
    yield made
    await made.contacts.drain()
    await made.storage.close()


@pytest.fixture
async def sqlite_area(tmp_path: Any) -> AsyncIterator[Area]:
    made = await make_area(f"sqlite:///{tmp_path / 'contacts.db'}")
    yield made
    await made.contacts.drain()
    await made.storage.close()
