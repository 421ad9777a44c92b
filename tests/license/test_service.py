"""The licence of a database (L1, U10; issue 8 items 1–6): one client ID per database,
installing and changing keys, each bad key changing nothing, and the seat check
against who is connected now (a presence double here; the team's real heartbeats in
test_team_seats.py). What the database itself must do runs on SQLite and PostgreSQL;
the rules on SQLite."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.core.errors import InvalidInput
from agent.core.license_seats import LicenseState, SeatHolder
from agent.license.presence import holder_from
from agent.license.service import LicenseService
from agent.storage import Storage
from tests.license.conftest import CODE, OTHER_CODE, Vendor

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class FakePresence:
    """Stands in for the team heartbeats of issue 6 in these rule-level tests."""

    connected: list[Any] = field(default_factory=list)
    asked_without: list[str] = field(default_factory=list)

    def active_operators(self, exclude_agent_id: str) -> list[Any]:
        self.asked_without.append(exclude_agent_id)
        return [c for c in self.connected if _agent_id(c) != exclude_agent_id]


def _agent_id(item: Any) -> str:
    return str(item["agent_id"] if isinstance(item, dict) else item.agent_id)


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[Storage]:
    """SQLite: for the rules; what the database itself must do runs on both (``db_url``)."""
    async with Storage(f"sqlite:///{tmp_path / 'agent.db'}") as opened:
        yield opened


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(storage: Storage, vendor: Vendor, clock: Clock) -> LicenseService:
    return LicenseService(storage, public_key=vendor.public, agent_id="sim/001", clock=clock)


@pytest.fixture
async def shared(db_url: str, vendor: Vendor, clock: Clock) -> AsyncIterator[LicenseService]:
    """A service on SQLite and on PostgreSQL."""
    async with Storage(db_url) as opened:
        yield LicenseService(opened, public_key=vendor.public, clock=clock)


# ------------------------------------------------------------------ client identity


async def test_a_database_gets_one_client_id_at_first_use_and_keeps_it(
    db_url: str, vendor: Vendor
) -> None:
    async with Storage(db_url) as first:
        made = await LicenseService(first, public_key=vendor.public).client_id()
        assert str(uuid.UUID(made)) == made
    async with Storage(db_url) as again:
        assert await LicenseService(again, public_key=vendor.public).client_id() == made


async def test_agents_starting_at_once_on_one_database_agree_on_one_client_id(
    db_url: str, vendor: Vendor
) -> None:
    storages = [Storage(db_url) for _ in range(4)]
    await asyncio.gather(*(s.start() for s in storages))
    try:
        ids = await asyncio.gather(
            *(LicenseService(s, public_key=vendor.public).client_id() for s in storages)
        )
    finally:
        await asyncio.gather(*(s.close() for s in storages))
    assert len(set(ids)) == 1


# ------------------------------------------------------------------ installing keys


async def test_without_a_key_the_licence_is_one_seat_and_asks_for_the_form(
    service: LicenseService,
) -> None:
    view = (await service.view()).json()
    assert view["state"] == "unlicensed" and view["count"] == 1 and view["required"]
    assert view["client_code"] is None and view["expires_at"] is None and view["active"] == []


async def test_a_valid_key_registers_the_database_with_its_code_count_and_expiry(
    shared: LicenseService, vendor: Vendor
) -> None:
    service = shared
    client_id = await service.client_id()
    key = vendor.key(client_id, CODE, 5, expires=date(2026, 3, 31))
    view = (await service.install(key, client_code=CODE, count="5")).json()
    assert view == view | {
        "client_id": client_id,
        "client_code": CODE,
        "count": 5,
        "key_count": 5,
        "state": "licensed",
        "required": False,
        "expires_on": "2026-03-31",
        "expires_at": "2026-04-01T00:00:00+00:00",
        "issued_on": "2025-01-15",
    }
    assert view["installed_at"] is not None


async def test_a_new_key_raises_or_lowers_the_count(
    service: LicenseService, vendor: Vendor
) -> None:
    client_id = await service.client_id()
    await service.install(vendor.key(client_id, count=3))
    assert (await service.standing()).count == 3
    await service.install(vendor.key(client_id, count=10))
    assert (await service.standing()).count == 10
    await service.install(vendor.key(client_id, count=2))
    assert (await service.standing()).count == 2


@pytest.mark.parametrize(
    ("spoil", "field", "says"),
    [
        (lambda key, cid, v: key[:-3], "key", "too short"),
        (
            lambda key, cid, v: key[:31] + ("B" if key[31] != "B" else "C") + key[32:],
            "key",
            "does not add up",
        ),
        (lambda key, cid, v: Vendor(Ed25519PrivateKey.generate()).key(cid), "key", "signature"),
        (lambda key, cid, v: v.key(str(uuid.uuid4())), "client_id", "client ID"),
        (lambda key, cid, v: v.key(cid, OTHER_CODE), "client_code", "client code"),
        (lambda key, cid, v: v.key(cid, expires=date(2025, 5, 31)), "key", "expired"),
        (lambda key, cid, v: "PA1-1234-5678", "key", "characters a key never has"),
    ],
    ids=["cut", "typo", "tampered", "other-client-id", "other-code", "expired", "malformed"],
)
async def test_each_bad_key_is_refused_with_its_field_and_changes_nothing(
    service: LicenseService, vendor: Vendor, spoil: Any, field: str, says: str
) -> None:
    client_id = await service.client_id()
    good = vendor.key(client_id, count=4)
    await service.install(good)
    before = (await service.view()).json()
    with pytest.raises(InvalidInput) as refused:
        await service.install(spoil(good, client_id, vendor), client_code=CODE)
    assert refused.value.field == field and says in str(refused.value)
    assert refused.value.message_key.startswith("license.")
    assert (await service.view()).json() == before


async def test_form_fields_are_checked_before_the_key(
    service: LicenseService, vendor: Vendor
) -> None:
    key = vendor.key(await service.client_id(), count=4)
    with pytest.raises(InvalidInput) as bad_code:
        await service.install(key, client_code="12345670")
    assert bad_code.value.field == "client_code" and "check digit" in str(bad_code.value)
    with pytest.raises(InvalidInput) as bad_count:
        await service.install(key, count="lots")
    assert bad_count.value.field == "count"
    with pytest.raises(InvalidInput) as other_count:
        await service.install(key, count=3)
    assert other_count.value.field == "count" and "4 licences, not 3" in str(other_count.value)
    assert (await service.standing()).state is LicenseState.UNLICENSED


async def test_an_installed_key_that_expires_falls_back_to_one_seat(
    service: LicenseService, vendor: Vendor, clock: Clock
) -> None:
    await service.install(vendor.key(await service.client_id(), count=5, expires=date(2025, 6, 30)))
    assert (await service.standing()).count == 5
    clock.now = datetime(2025, 7, 1, tzinfo=UTC)
    view = (await service.view()).json()
    assert view["state"] == "expired" and view["count"] == 1 and view["key_count"] == 5
    assert view["required"] and "expired on 2025-06-30" in view["message"]


async def test_a_key_installed_by_another_agent_shows_at_once(
    db_url: str, vendor: Vendor, shared: LicenseService
) -> None:
    async with Storage(db_url) as elsewhere:
        other = LicenseService(elsewhere, public_key=vendor.public, clock=Clock())
        await other.install(vendor.key(await other.client_id(), count=7))
    assert (await shared.standing()).count == 7


async def test_the_request_names_this_database_and_checks_the_code(
    service: LicenseService,
) -> None:
    made = await service.request(" 3285 5961 ", 4)
    assert made.client_id == await service.client_id()
    assert made.client_code == CODE and made.count == 4
    assert f"Client ID: {made.client_id}\n" in made.text
    with pytest.raises(InvalidInput) as refused:
        await service.request("32855962", 4)
    assert refused.value.field == "client_code"
    with pytest.raises(InvalidInput) as no_count:
        await service.request(CODE, 0)
    assert no_count.value.field == "count"


# ------------------------------------------------------------------ seats (presence double)


async def test_seats_count_the_others_connected_now_and_never_the_asking_agent(
    storage: Storage, vendor: Vendor
) -> None:
    presence = FakePresence(
        [
            {"agent_id": "sim/001", "ext": "001"},
            {"agent_id": "sim/002", "ext": "002", "display_name": "Петро"},
        ]
    )
    service = LicenseService(
        storage, public_key=vendor.public, presence=presence, agent_id="sim/001", clock=Clock()
    )
    await service.install(vendor.key(await service.client_id(), count=2))
    verdict = await service.admit()
    assert verdict.admitted and [h.ext for h in verdict.held_by] == ["002"]
    assert set(presence.asked_without) == {"sim/001"}
    view = (await service.view()).json()
    assert [(h["ext"], h["name"], h["label"]) for h in view["active"]] == [
        ("002", "Петро", "002 Петро")
    ]


async def test_a_full_licence_refuses_the_next_agent_and_a_stale_seat_frees_it(
    storage: Storage, vendor: Vendor
) -> None:
    presence = FakePresence([SeatHolder("a", "001"), SeatHolder("b", "002")])
    service = LicenseService(
        storage, public_key=vendor.public, presence=presence, agent_id="c", clock=Clock()
    )
    await service.install(vendor.key(await service.client_id(), count=2))
    refused = await service.admit()
    assert not refused.admitted and "all 2 licences are in use, by 001, 002" in refused.message
    presence.connected.pop()  # b's heartbeat went stale: it left the fresh list
    assert (await service.admit()).admitted


async def test_an_async_presence_is_awaited(storage: Storage, vendor: Vendor) -> None:
    class AsyncPresence:
        agent_id = "x"

        async def active_operators(self, exclude_agent_id: str) -> list[Any]:
            await asyncio.sleep(0)
            return [{"agent_id": "y", "ext": "005"}]

    service = LicenseService(
        storage, public_key=vendor.public, presence=AsyncPresence(), agent_id="x"
    )
    refused = await service.admit()  # no key: one seat, held by 005
    assert not refused.admitted and "that seat is in use, by 005" in refused.message


def test_a_heartbeat_item_may_be_an_object_or_a_mapping() -> None:
    @dataclass
    class Beat:
        agent_id: str
        extension: str
        operator_name: str
        hostname: str
        connected_at: datetime

    since = NOW - timedelta(minutes=5)
    from_object = holder_from(Beat("h/001", "001", "Олена", "desk", since))
    from_mapping = holder_from(
        {"id": "h/001", "ext": "001", "name": "Олена", "host": "desk", "since": since.isoformat()}
    )
    assert from_object == from_mapping == SeatHolder("h/001", "001", "Олена", "desk", since)
