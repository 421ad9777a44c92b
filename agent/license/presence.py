"""Who holds a seat now: the team-mode heartbeats of issue 6, seen through the calls
licensing needs (U10: "active = operators connected now on this database").

- ``active_operators(exclude_agent_id) -> list``: the operators holding a seat now
  (fresh heartbeats of agents connected or trying to); a heartbeat that went stale,
  or an agent that disconnected, has left that list, which is what frees a seat.
- ``claim_seat(judge)`` / ``release_seat()`` (:class:`SeatLedger`, the real heartbeats
  of agent/jobs/presence.py): the judgement and this agent's own beat in one
  transaction under a lock, so agents racing for the last seat admit exactly one.
  A presence without them (a test double, the CLI reading the list) is only read.

Items may be objects or mappings; :func:`holder_from` reads the fields licensing
shows (agent id, extension, name, host, since) from either.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, Protocol, TypeVar, runtime_checkable

from agent.core.license_seats import SeatHolder, SeatVerdict


class Presence(Protocol):
    """The team's heartbeats (issue 6). May be sync or async."""

    def active_operators(self, exclude_agent_id: str) -> list[Any] | Awaitable[list[Any]]: ...


V = TypeVar("V", bound=SeatVerdict)


@runtime_checkable
class SeatLedger(Protocol):
    """Heartbeats that take and give back seats atomically (agent/jobs/presence.py)."""

    def active_operators(self, exclude_agent_id: str) -> list[Any] | Awaitable[list[Any]]: ...

    async def claim_seat(self, judge: Callable[[list[Any], bool], V]) -> V: ...

    async def release_seat(self) -> None: ...


_FIELDS = {
    "agent_id": ("agent_id", "id", "agent", "agent_ids"),
    "ext": ("ext", "extension", "operator_ext"),
    "name": ("name", "display_name", "operator_name", "operator"),
    "host": ("host", "hostname", "machine", "hosts"),
    "since": ("since", "connected_at", "started_at", "first_seen"),
    "domain": ("domain",),
}


def _pick(item: Any, names: tuple[str, ...]) -> Any:
    for name in names:
        value = item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)
        if isinstance(value, list | tuple):  # issue 6: agent_ids, hosts of one operator
            value = value[0] if name == "agent_ids" and value else ", ".join(map(str, value))
        if value not in (None, ""):
            return value
    return None


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def holder_from(item: Any) -> SeatHolder:
    """A seat holder from one item of ``active_operators``: an object or a mapping, such
    as issue 6's ``OperatorPresence`` (domain, ext, operator, agent_ids, hosts)."""
    if isinstance(item, SeatHolder):
        return item
    found = {key: _pick(item, names) for key, names in _FIELDS.items()}
    ext = str(found["ext"] or "")
    return SeatHolder(
        agent_id=str(found["agent_id"] or ext or "?"),
        ext=ext,
        name=str(found["name"] or ""),
        host=str(found["host"] or ""),
        since=_time(found["since"]),
        domain=str(found["domain"] or ""),
    )


async def seat_holders(presence: Presence | None, own_agent_id: str) -> list[SeatHolder]:
    """The agents connected now on this database, the asking one left out; empty when
    the agent runs without team presence (one agent per database)."""
    if presence is None:
        return []
    found = presence.active_operators(own_agent_id)
    items = await found if inspect.isawaitable(found) else found
    holders = [holder_from(item) for item in items]
    # A second line of defence: never count the asking agent against itself.
    return [h for h in holders if h.agent_id != own_agent_id]
