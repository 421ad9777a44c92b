"""Presence: every agent writes a heartbeat every few seconds; fresh ones are online (B5).

A heartbeat is ``(agent_id, domain, ext, operator, host, pid, seen_at, link_state)``.
An agent is present while its last beat is younger than ``stale_beats`` beats
(default 3 × 15 s); a clean exit removes its row at once. The licence counts
seats from :meth:`Presence.active_operators` (U10: "licences active now:
connected operators other than self"): the present agents whose link is meant to be
up (connected or trying); a Disconnect gives the seat back (manual §1.2, "Licence":
the active ones are the users connected to the PBX).

**Seats** (issue 8 item 4). An agent takes a seat with :meth:`Presence.claim_seat`:
the licence's judgement and the agent's own beat in one transaction under one lock
(PostgreSQL: ``pg_advisory_xact_lock`` on :data:`SEAT_LOCK_KEY`; SQLite:
``BEGIN IMMEDIATE``), so of N agents racing for the last seat exactly one gets it.
Between :meth:`claim_seat` and :meth:`release_seat` the agent is *seated* and its
beats say its link state; otherwise they say ``offline``, so a beat can never take a
seat the licence did not give. ``seated`` is read and written only on the storage
worker, in the order the work was asked for.

**One clock.** On PostgreSQL the agents run on several machines, whose clocks differ:
a beat's time is the database's (``clock_timestamp()``) and freshness is judged
against it, so a client clock that runs fast or slow neither frees a live seat nor
keeps a dead one. SQLite is one machine: the agent's clock (``clock``), as before.

The beats are a runtime participant: ``wake`` spawns the write, the runtime's task
never waits on the database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar

import peewee as pw

import agent
from agent.core.errors import StorageError
from agent.storage.jobs_models import HeartbeatRow
from agent.storage.jobs_repository import (
    Heartbeat,
    JobsRepository,
    heartbeat_from_row,
    heartbeat_values,
    write_heartbeat,
)
from agent.storage.migrations.base import run_sql
from agent.storage.schema import write_transaction

if TYPE_CHECKING:
    from agent.jobs.identity import AgentIdentity
    from agent.storage.database import Storage

log = logging.getLogger(__name__)

PRUNE_AFTER = timedelta(days=30)  # forget agents gone this long (and their secret flags)

OFFLINE: Final = "offline"
CONNECTING: Final = "connecting"

# pg_advisory_xact_lock takes a bigint: the bytes of "phoseats", apart from the
# migrations' "phonetdb" (agent/storage/schema.py) and from other programs' locks.
# Advisory locks are per database, so teams on one server never wait for each other.
SEAT_LOCK_KEY: Final = int.from_bytes(b"phoseats", "big") & 0x7FFF_FFFF_FFFF_FFFF


class Admission(Protocol):
    """What :meth:`Presence.claim_seat` needs of a judgement (the licence's SeatVerdict)."""

    @property
    def admitted(self) -> bool: ...


V = TypeVar("V", bound=Admission)


@dataclass(frozen=True, slots=True)
class OperatorPresence:
    """One operator online: the agents (machines) they run, newest beat first."""

    domain: str
    ext: str
    operator: str
    agent_ids: tuple[str, ...]
    hosts: tuple[str, ...]
    link_state: str  # the freshest agent's: "online" | "connecting" | "offline"
    seen_at: datetime


def fresh(beats: Iterable[Heartbeat], *, now: datetime, stale_after: timedelta) -> list[Heartbeat]:
    """The heartbeats younger than ``stale_after`` by the clock ``now`` comes from (pure)."""
    return [beat for beat in beats if now - beat.seen_at < stale_after]


def holding_seats(beats: Iterable[Heartbeat]) -> list[Heartbeat]:
    """The beats of agents that hold a seat: connected, or trying to (pure)."""
    return [beat for beat in beats if beat.link_state != OFFLINE]


def operators(
    beats: Iterable[Heartbeat], *, exclude_agent_id: str | None = None
) -> list[OperatorPresence]:
    """Fresh heartbeats grouped by operator (domain + extension); one operator on two
    machines is one seat."""
    grouped: dict[tuple[str, str], list[Heartbeat]] = {}
    for beat in beats:
        if beat.agent_id == exclude_agent_id:
            continue
        grouped.setdefault((beat.domain.lower(), beat.ext), []).append(beat)
    found = []
    for (domain, ext), group in sorted(grouped.items()):
        group.sort(key=lambda b: b.seen_at, reverse=True)
        newest = group[0]
        found.append(
            OperatorPresence(
                domain=domain,
                ext=ext,
                operator=next((b.operator for b in group if b.operator), ""),
                agent_ids=tuple(b.agent_id for b in group),
                hosts=tuple(dict.fromkeys(b.host for b in group)),
                link_state=newest.link_state,
                seen_at=newest.seen_at,
            )
        )
    return found


class HeartbeatQueries:
    """The heartbeat SQL that judges time by one clock, for the storage worker.

    PostgreSQL: the database's ``clock_timestamp()`` (not ``now()``: that is the
    transaction's start, and a claim may wait for the seat lock). SQLite: the time the
    caller gives, the agent's own clock (one machine). The columns and the rows are
    agent/storage/jobs_repository.py's (``heartbeat_values``, ``heartbeat_from_row``),
    as ``JobsRepository.beat`` / ``heartbeats`` read and write them.
    """

    def __init__(self, db: pw.Database) -> None:
        self._db = db
        self.database_clock = isinstance(db, pw.PostgresqlDatabase)

    def write(self, beat: Heartbeat) -> None:
        """Insert or replace the agent's row; ``seen_at`` is the database's time on
        PostgreSQL (``beat.seen_at`` is then ignored)."""
        values = heartbeat_values(beat)
        if self.database_clock:
            values["seen_at"] = pw.fn.clock_timestamp()
        write_heartbeat(self._db, values)

    def fresh(self, *, stale_after: timedelta, now: datetime) -> list[Heartbeat]:
        """The beats younger than ``stale_after``: by the database's clock on
        PostgreSQL (``now`` unused), by ``now`` on SQLite."""
        query = HeartbeatRow.select()
        oldest: Any
        if self.database_clock:
            oldest = pw.fn.clock_timestamp() - pw.SQL(
                "make_interval(secs => %s::double precision)", [stale_after.total_seconds()]
            )
        else:
            oldest = now - stale_after
        query = query.where(HeartbeatRow.seen_at > oldest).order_by(
            HeartbeatRow.domain, HeartbeatRow.ext, HeartbeatRow.agent_id
        )
        return [heartbeat_from_row(row) for row in query.execute(self._db)]

    @contextmanager
    def seat_lock(self) -> Iterator[None]:
        """One claim at a time per database: a write transaction (SQLite: ``BEGIN
        IMMEDIATE``, the one writer lock) that on PostgreSQL also takes the seat
        lock, held until it commits."""
        with write_transaction(self._db):
            if self.database_clock:
                run_sql(self._db, "SELECT pg_advisory_xact_lock(%s)", (SEAT_LOCK_KEY,))
            yield

    def claim(
        self,
        beat: Heartbeat,
        *,
        stale_after: timedelta,
        judge: Callable[[list[Heartbeat], bool], V],
    ) -> V:
        """Under the seat lock: ``judge(others seated now, this agent still seated)``;
        when it admits, ``beat`` is written before the lock is let go, so the next
        claim counts it."""
        with self.seat_lock():
            holding = holding_seats(self.fresh(stale_after=stale_after, now=beat.seen_at))
            mine = any(b.agent_id == beat.agent_id for b in holding)
            verdict = judge([b for b in holding if b.agent_id != beat.agent_id], mine)
            if verdict.admitted:
                self.write(beat)
            return verdict


@dataclass
class Presence:
    storage: Storage
    identity: AgentIdentity
    domain: str
    ext: str
    spawn: Callable[[Coroutine[Any, Any, Any]], Any]
    poke: Callable[[], None] = field(default=lambda: None)  # the next beat's time changed
    operator: Callable[[], str] = field(default=lambda: "")
    link_state: Callable[[], str] = field(default=lambda: OFFLINE)
    every_s: Callable[[], float] = field(default=lambda: 15.0)
    stale_beats: Callable[[], int] = field(default=lambda: 3)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    _next: datetime | None = None
    _beating: bool = False
    _again: bool = False  # nudged while a beat was being written: beat once more
    _pruned: bool = False
    _written_link: str | None = None
    seated: bool = False  # holds a seat (claim_seat … release_seat); storage worker only

    def __post_init__(self) -> None:
        self.repo = JobsRepository(self.storage.db)
        self.queries = HeartbeatQueries(self.storage.db)
        self._next = self.clock()

    @property
    def stale_after(self) -> timedelta:
        return timedelta(seconds=self.every_s() * self.stale_beats())

    # ------------------------------------------------------------ the participant

    def nudge(self) -> None:
        """The agent's state changed (``runtime.state_listeners``): when the link state
        differs from the last beat's, beat now, so the team sees it at once."""
        if self._written_link is not None and self.link_state() != self._written_link:
            if self._beating:
                self._again = True  # the beat in flight may carry the old state
                return
            self._next = self.clock()
            self.poke()

    def next_wakeup(self) -> datetime | None:
        return None if self._beating else self._next

    async def wake(self, now: datetime) -> None:
        if self._beating or self._next is None or self._next > now:
            return
        self._beating = True
        self.spawn(self._beat_in_background(now))

    async def _beat_in_background(self, now: datetime) -> None:
        try:
            await self.beat()
        except StorageError as exc:
            log.info("heartbeat not written: %s", exc)
        finally:
            again, self._again = self._again, False
            self._next = self.clock() if again else now + timedelta(seconds=self.every_s())
            self._beating = False
            self.poke()

    def _heartbeat(self, link_state: str) -> Heartbeat:
        return Heartbeat(
            agent_id=self.identity.agent_id,
            domain=self.domain,
            ext=self.ext,
            operator=self.operator(),
            host=self.identity.host,
            pid=self.identity.pid,
            version=agent.__version__,
            link_state=link_state,
            started_at=self.started_at,
            seen_at=self.clock(),
        )

    async def beat(self) -> None:
        beat = self._heartbeat(self.link_state())
        self._written_link = beat.link_state

        def write() -> None:
            # Decided on the worker, in order with claim_seat / release_seat.
            self.queries.write(beat if self.seated else replace(beat, link_state=OFFLINE))

        await self.storage.run(write)
        if not self._pruned:
            self._pruned = True
            older_than = beat.seen_at - PRUNE_AFTER  # a month: any clock will do
            await self.storage.run(self.repo.prune_heartbeats, older_than=older_than)

    async def leave(self) -> None:
        """A clean exit: off the presence list at once."""
        await self.storage.run(self.repo.forget, self.identity.agent_id)

    # ------------------------------------------------------------ seats (U10)

    async def claim_seat(self, judge: Callable[[list[OperatorPresence], bool], V]) -> V:
        """Take a seat: ``judge(operators seated now, this agent left out; whether
        this agent still holds its seat)`` decides, under the seat lock, and when it
        admits this agent's beat (``connecting``) is written in the same transaction.
        ``judge`` runs on the storage worker: it must be pure."""
        beat = self._heartbeat(CONNECTING)
        stale_after = self.stale_after

        def claim() -> V:
            verdict = self.queries.claim(
                beat,
                stale_after=stale_after,
                judge=lambda beats, mine: judge(operators(beats), mine),
            )
            if verdict.admitted:
                self.seated = True
            return verdict

        verdict = await self.storage.run(claim)
        if verdict.admitted:
            self._written_link = beat.link_state
        return verdict

    async def release_seat(self) -> None:
        """Give the seat back (Disconnect, the link gave up, a refused Connect): the
        beat says ``offline`` now, and every beat after it until the next claim."""
        beat = self._heartbeat(OFFLINE)

        def release() -> None:
            self.seated = False
            self.queries.write(beat)

        await self.storage.run(release)

    # ------------------------------------------------------------ reading

    async def heartbeats(self) -> list[Heartbeat]:
        """Every fresh beat (seated or not), judged by the one clock (see above)."""
        return await self.storage.run(
            self.queries.fresh, stale_after=self.stale_after, now=self.clock()
        )

    async def active_operators(self, exclude_agent_id: str | None = None) -> list[OperatorPresence]:
        """Operators holding a seat now (fresh heartbeats, link not ``offline``),
        ``exclude_agent_id``'s rows left out (pass this agent's id for "others than
        self"; U10)."""
        return operators(holding_seats(await self.heartbeats()), exclude_agent_id=exclude_agent_id)
