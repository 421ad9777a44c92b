"""Presence: every agent writes a heartbeat every few seconds; fresh ones are online (B5).

A heartbeat is ``(agent_id, domain, ext, operator, host, pid, seen_at, link_state)``.
An agent is present while its last beat is younger than ``stale_beats`` beats
(default 3 × 15 s); a clean exit removes its row at once. The licence counts
seats from :meth:`Presence.active_operators` (U10: "licences active now:
connected operators other than self").

The beats are a runtime participant: ``wake`` spawns the write, the runtime's task
never waits on the database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import agent
from agent.core.errors import StorageError
from agent.storage.jobs_repository import Heartbeat, JobsRepository

if TYPE_CHECKING:
    from agent.jobs.identity import AgentIdentity
    from agent.storage.database import Storage

log = logging.getLogger(__name__)

PRUNE_AFTER = timedelta(days=30)  # forget agents gone this long (and their secret flags)


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
    """The heartbeats younger than ``stale_after`` (pure; the query pre-filters too)."""
    return [beat for beat in beats if now - beat.seen_at < stale_after]


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


@dataclass
class Presence:
    storage: Storage
    identity: AgentIdentity
    domain: str
    ext: str
    spawn: Callable[[Coroutine[Any, Any, Any]], Any]
    poke: Callable[[], None] = field(default=lambda: None)  # the next beat's time changed
    operator: Callable[[], str] = field(default=lambda: "")
    link_state: Callable[[], str] = field(default=lambda: "offline")
    every_s: Callable[[], float] = field(default=lambda: 15.0)
    stale_beats: Callable[[], int] = field(default=lambda: 3)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    _next: datetime | None = None
    _beating: bool = False
    _pruned: bool = False
    _written_link: str | None = None

    def __post_init__(self) -> None:
        self.repo = JobsRepository(self.storage.db)
        self._next = self.clock()

    @property
    def stale_after(self) -> timedelta:
        return timedelta(seconds=self.every_s() * self.stale_beats())

    # ------------------------------------------------------------ the participant

    def nudge(self) -> None:
        """The agent's state changed (``runtime.state_listeners``): when the link state
        differs from the last beat's, beat now, so the team sees it at once."""
        if self._written_link is not None and self.link_state() != self._written_link:
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
            self._next = now + timedelta(seconds=self.every_s())
            self._beating = False
            self.poke()

    async def beat(self) -> None:
        now = self.clock()
        beat = Heartbeat(
            agent_id=self.identity.agent_id,
            domain=self.domain,
            ext=self.ext,
            operator=self.operator(),
            host=self.identity.host,
            pid=self.identity.pid,
            version=agent.__version__,
            link_state=self.link_state(),
            started_at=self.started_at,
            seen_at=now,
        )
        self._written_link = beat.link_state
        await self.storage.run(self.repo.beat, beat)
        if not self._pruned:
            self._pruned = True
            await self.storage.run(self.repo.prune_heartbeats, older_than=now - PRUNE_AFTER)

    async def leave(self) -> None:
        """A clean exit: off the presence list at once."""
        await self.storage.run(self.repo.forget, self.identity.agent_id)

    # ------------------------------------------------------------ reading

    async def heartbeats(self) -> list[Heartbeat]:
        now = self.clock()
        since = now - self.stale_after
        beats = await self.storage.run(self.repo.heartbeats, seen_since=since)
        return fresh(beats, now=now, stale_after=self.stale_after)

    async def active_operators(self, exclude_agent_id: str | None = None) -> list[OperatorPresence]:
        """Operators online now (fresh heartbeats), ``exclude_agent_id``'s rows left out
        (pass this agent's id for "others than self"; U10)."""
        return operators(await self.heartbeats(), exclude_agent_id=exclude_agent_id)
