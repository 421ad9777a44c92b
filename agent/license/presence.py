"""Who holds a seat now: the team-mode heartbeats of issue 6, seen through the one call
licensing needs (U10: "active = operators connected now on this database").

Issue 6 (jobs & team) promises ``active_operators(exclude_agent_id) -> list`` over
fresh heartbeats; a heartbeat that went stale has left that list, which is what frees
a seat. Its items may be objects or mappings; :func:`holder_from` reads the fields
licensing shows (agent id, extension, name, host, since) from either.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Mapping
from datetime import datetime
from typing import Any, Protocol

from agent.core.license_seats import SeatHolder


class Presence(Protocol):
    """The team's heartbeats (issue 6). May be sync or async."""

    def active_operators(self, exclude_agent_id: str) -> list[Any] | Awaitable[list[Any]]: ...


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
