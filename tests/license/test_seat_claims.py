"""Taking a seat (U10, B5; issue 8 item 4) against the team's real heartbeats
(agent/jobs/presence.py), each agent with its own connection as on its own machine.

- The count and the agent's own beat are one step under one lock (PostgreSQL: an
  advisory lock in the transaction; SQLite: ``BEGIN IMMEDIATE``): of agents racing for
  the last seat exactly one gets it.
- A Disconnect gives the seat back; an agent whose beat went stale lost it; either
  way its next claim is judged again. An agent still seated keeps its seat.
- On PostgreSQL the database's clock dates and judges the beats: an agent whose clock
  runs fast or slow neither frees a live seat nor keeps a dead one.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import peewee as pw
import pytest

from agent.core.license_seats import SeatVerdict
from agent.jobs.identity import AgentIdentity
from agent.jobs.presence import Presence
from agent.license.service import LicenseService
from agent.storage import Storage
from tests.license.conftest import CODE, Vendor
from tests.scenarios.conftest import wait_until

DOMAIN = "demo.phonet.ua"
CONTENDERS = 6
ROUNDS = 4


class Team:
    """Agents of one team, each with its own storage (connection and worker thread)."""

    def __init__(self, db_url: str, vendor: Vendor, stack: AsyncExitStack) -> None:
        self.db_url = db_url
        self.vendor = vendor
        self.stack = stack

    async def agent(
        self,
        ext: str,
        *,
        skew: timedelta = timedelta(0),
        every_s: float = 15.0,
        stale_beats: int = 3,
        name: str | None = None,
    ) -> tuple[LicenseService, Presence]:
        storage = await self.stack.enter_async_context(Storage(self.db_url))
        presence = Presence(
            storage=storage,
            identity=AgentIdentity(name or f"agent-{ext}", socket.gethostname(), os.getpid()),
            domain=DOMAIN,
            ext=ext,
            spawn=lambda coro: coro.close(),  # beats only when a test says so
            link_state=lambda: "online",
            every_s=lambda: every_s,
            stale_beats=lambda: stale_beats,
            clock=lambda: datetime.now(UTC) + skew,
        )
        service = LicenseService(
            storage,
            public_key=self.vendor.public,
            presence=presence,
            agent_id=presence.identity.agent_id,
            domain=DOMAIN,
            ext=ext,
        )
        return service, presence

    async def install(self, service: LicenseService, count: int) -> None:
        await service.install(self.vendor.key(await service.client_id(), CODE, count))


@pytest.fixture
async def team(db_url: str, vendor: Vendor) -> AsyncIterator[Team]:
    async with AsyncExitStack() as stack:
        yield Team(db_url, vendor, stack)


@pytest.fixture
async def pg_team(pg_url: str, vendor: Vendor) -> AsyncIterator[Team]:
    async with AsyncExitStack() as stack:
        yield Team(pg_url, vendor, stack)


def exts(verdict: SeatVerdict) -> list[str]:
    return sorted(holder.ext for holder in verdict.held_by)


async def test_of_agents_racing_for_the_last_seat_exactly_one_gets_it(team: Team) -> None:
    first, _ = await team.agent("001")
    await team.install(first, count=2)
    assert (await first.admit()).admitted
    racers = {f"{100 + n}": (await team.agent(f"{100 + n}"))[0] for n in range(CONTENDERS)}
    for _round in range(ROUNDS):
        verdicts = dict(
            zip(racers, await asyncio.gather(*(s.admit() for s in racers.values())), strict=True)
        )
        winners = [ext for ext, verdict in verdicts.items() if verdict.admitted]
        assert len(winners) == 1, [v.message for v in verdicts.values()]
        (winner,) = winners
        for verdict in verdicts.values():
            if not verdict.admitted:
                # Each refusal names who holds the seats: the first agent and the winner.
                assert verdict.message.startswith("all 2 licences are in use, by 001")
                assert exts(verdict) == ["001", winner]
        assert [h.ext for h in await first.others()] == [winner]
        await racers[winner].release()  # a Disconnect: the seat is free for the next round


async def test_a_disconnect_gives_the_seat_back_and_the_next_connect_asks_again(
    team: Team,
) -> None:
    olena, olena_beats = await team.agent("001")
    petro, _ = await team.agent("002")
    await team.install(olena, count=1)
    assert (await olena.admit()).admitted
    assert (await olena.admit()).message == "this agent holds its seat"  # kept, not re-judged

    await olena.release()
    assert [b.link_state for b in await olena_beats.heartbeats()] == ["offline"]
    assert await petro.others() == ()  # U10: a disconnected operator is not active
    assert (await petro.admit()).admitted

    refused = await olena.admit()
    assert not refused.admitted and exts(refused) == ["002"]
    assert refused.message.startswith("the one licence is in use, by 002")


async def test_an_unseated_agent_beats_offline_so_a_beat_never_takes_a_seat(team: Team) -> None:
    olena, olena_beats = await team.agent("001")
    petro, _ = await team.agent("002")
    await team.install(olena, count=1)
    await olena_beats.beat()  # its link says "online", but the licence gave it no seat
    assert [b.link_state for b in await olena_beats.heartbeats()] == ["offline"]
    assert (await petro.admit()).admitted
    assert not (await olena.admit()).admitted


async def test_an_agent_whose_beat_went_stale_lost_its_seat_and_is_judged_again(
    team: Team,
) -> None:
    olena, _ = await team.agent("001", every_s=0.05, stale_beats=2)
    petro, _ = await team.agent("002", every_s=0.05, stale_beats=2)
    await team.install(olena, count=1)
    assert (await olena.admit()).admitted
    # Olena's machine stops beating (asleep, unplugged): once stale, the seat is free.
    await wait_until(petro_admitted(petro), what="petro to get the seat olena lost")
    refused = await olena.admit()
    assert not refused.admitted and exts(refused) == ["002"]


def petro_admitted(service: LicenseService) -> Callable[[], Any]:
    async def admitted() -> bool:
        return (await service.admit()).admitted

    return admitted


# ------------------------------------------------------------ one clock (PostgreSQL)

pg = pytest.mark.postgres
SKEW = timedelta(hours=1)


@pg
async def test_on_postgresql_a_beat_carries_the_databases_time_not_the_agents(
    pg_team: Team,
) -> None:
    service, presence = await pg_team.agent("001", skew=-SKEW)
    assert (await service.admit()).admitted
    (beat,) = await presence.heartbeats()
    server_now = await presence.storage.run(server_time, presence.storage.db)
    assert abs(server_now - beat.seen_at) < timedelta(minutes=5)  # not an hour behind


def server_time(db: pw.Database) -> datetime:
    value = db.execute_sql("SELECT clock_timestamp()").fetchone()[0]  # type: ignore[no-untyped-call]
    assert isinstance(value, datetime)
    return value


@pg
async def test_on_postgresql_a_slow_clock_does_not_free_its_own_live_seat(pg_team: Team) -> None:
    olena, _ = await pg_team.agent("001", skew=-SKEW)  # an hour behind: "stale" at once
    petro, _ = await pg_team.agent("002")
    assert (await olena.admit()).admitted
    refused = await petro.admit()
    assert not refused.admitted and exts(refused) == ["001"]


@pg
async def test_on_postgresql_a_fast_clock_does_not_free_the_others_live_seats(
    pg_team: Team,
) -> None:
    olena, _ = await pg_team.agent("001")
    petro, _ = await pg_team.agent("002", skew=SKEW)  # an hour ahead: olena looks stale
    assert (await olena.admit()).admitted
    refused = await petro.admit()
    assert not refused.admitted and exts(refused) == ["001"]
    assert [h.ext for h in await petro.others()] == ["001"]


@pg
async def test_on_postgresql_a_fast_clock_does_not_keep_a_dead_seat(pg_team: Team) -> None:
    olena, _ = await pg_team.agent("001", skew=SKEW, every_s=0.05, stale_beats=2)
    petro, _ = await pg_team.agent("002", every_s=0.05, stale_beats=2)
    assert (await olena.admit()).admitted
    # Olena dies without leaving; her beat, dated an hour ahead by her clock, would
    # have held the seat for that hour. Dated by the database, it goes stale in 0.1 s.
    await wait_until(petro_admitted(petro), what="petro to get the seat of the dead agent")
