"""Helpers of the jobs tests: Phonet history records as the PBX writes them, the
contacts area's real services over a test database, and time as the job leases see it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import peewee as pw

from agent.contacts.event_service import EventService
from agent.contacts.service import ContactService
from agent.core.settings import OperatorSettings, TeamSettings
from agent.jobs.events import ContactsEvents
from agent.storage.database import Storage
from agent.storage.jobs_repository import JobsRepository

LG = {"internal": 1, "out": 2, "in": 4}
NOW = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)


def uuid_of(i: int) -> str:
    return f"{i:032x}"


def raw_record(
    i: int,
    *,
    end_at: datetime,
    talk_s: int = 30,
    ext: str | None = "001",
    direction: str = "out",
    number: str = "+380441234567",
    disposition: int | None = None,
    ext2: str | None = None,
    dashed: bool = False,
) -> dict[str, Any]:
    """One record of ``company.api`` (phonet-api.md §2.3)."""
    uuid = uuid_of(i)
    if dashed:
        uuid = f"{uuid[:8]}-{uuid[8:12]}-{uuid[12:16]}-{uuid[16:20]}-{uuid[20:]}"
    internal = direction == "internal"
    return {
        "uuid": uuid,
        "endAt": int(end_at.timestamp() * 1000),
        "lgDirection": LG[direction],
        "otherLegNum": None if internal else number,
        "otherLegName": None if internal else number,
        "leg": {"id": 1, "type": 1, "displayName": f"Operator {ext}", "ext": ext} if ext else None,
        "leg2": {"id": 2, "type": 1, "displayName": "Other", "ext": ext2 or "002"}
        if internal
        else None,
        "billSecs": talk_s,
        "duration": talk_s + 5,
        "disposition": (0 if talk_s > 0 else 1) if disposition is None else disposition,
        "transferHistory": None,
        "audioRecUrl": None,
        "trunk": None,
    }


@dataclass
class SettingsHolder:
    """What the contacts area reads its settings from (``.team``, ``.operator``)."""

    team: TeamSettings = field(default_factory=TeamSettings)
    operator: OperatorSettings = field(default_factory=OperatorSettings)


@dataclass
class Area:
    contacts: ContactService
    events: EventService
    port: ContactsEvents


def contacts_area(storage: Storage, ext: str = "001") -> Area:
    settings = SettingsHolder()
    contacts = ContactService(storage, settings, own_ext=ext)
    events = EventService(storage, contacts, settings, own_ext=ext, publish=lambda t, d: None)
    return Area(contacts, events, ContactsEvents(contacts, events))


def minutes_ago(n: float, now: datetime = NOW) -> datetime:
    return now - timedelta(minutes=n)


class LeaseTime:
    """Time as the job leases see it, for tests that let it pass (B5).

    The agents' clock is a fake one, ``LeaseTime`` itself (``now``). On SQLite it
    dates and judges the leases, and :meth:`advance` moves it on. On PostgreSQL the
    database's clock does (agent/storage/jobs_repository.py, "One clock"), and no
    test can move that: :meth:`advance` moves the leases' expiries back by as much
    instead, which is the same to every verdict. ``advance_now`` is for one storage
    job that lets time pass and then asks for the lease, so no renewal comes between.
    """

    def __init__(self, storage: Storage, start: datetime = NOW) -> None:
        self.storage = storage
        self.now = start
        self.database_clock = isinstance(storage.db, pw.PostgresqlDatabase)

    def __call__(self) -> datetime:
        return self.now

    def advance_now(self, delta: timedelta) -> None:
        """On the storage worker."""
        if self.database_clock:
            self.storage.db.execute_sql(  # type: ignore[no-untyped-call]
                "UPDATE job_leases SET expires_at = expires_at"
                " - make_interval(secs => %s::double precision) WHERE expires_at IS NOT NULL",
                (delta.total_seconds(),),
            )
        self.now += delta

    async def advance(self, delta: timedelta) -> None:
        await self.storage.run(self.advance_now, delta)

    async def current(self) -> datetime:
        """The time a lease is judged by now."""
        repo = JobsRepository(self.storage.db)
        return await self.storage.run(repo.current_time, self.now)
