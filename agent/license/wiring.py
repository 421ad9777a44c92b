"""Licensing in the running agent: one call from the composition root (agent/app.py).

``await attach_license(agent)`` makes the licence service, adds its routes, and asks
for a seat before the agent connects to the PBX (L1, U10). Refused, the agent stops
what it started and ``start()`` raises :class:`LicenseError` (``run`` exits 5,
contracts.md §2). With no key it runs as one seat and says so.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from agent.api import routes_license
from agent.core.errors import LicenseError
from agent.license.keys import agent_public_key
from agent.license.presence import Presence
from agent.license.service import LicenseService

if TYPE_CHECKING:
    from agent.app import Agent

log = logging.getLogger(__name__)


def agent_id_of(agent: Agent, presence: Presence | None) -> str:
    """This agent's id in the team's heartbeats (issue 6: ``presence.identity.agent_id``),
    else domain/ext."""
    for owner in (presence, getattr(presence, "identity", None)):
        own = getattr(owner, "agent_id", None)
        if isinstance(own, str) and own:
            return own
    return f"{agent.options.domain}/{agent.options.ext}"


def find_presence(services: Any) -> Presence | None:
    """The team's heartbeats (issue 6), when the team block has wired them."""
    presence: Presence | None = getattr(services, "presence", None)
    return presence


async def attach_license(agent: Agent) -> LicenseService:
    """Wire licensing into ``agent``: in the feature-wiring block of ``start``, after the
    jobs block (its ``services.presence`` counts the seats). The composition root starts
    the runtime and the PBX link only after this returned: a refused agent never
    reached the PBX."""
    services: Any = agent.services
    presence = find_presence(services)
    service = LicenseService(
        agent.storage,
        public_key=agent_public_key(),
        presence=presence,
        agent_id=agent_id_of(agent, presence),
        domain=agent.options.domain,
        ext=agent.options.ext,
    )
    services.license = service
    routes_license.register(agent.registry)
    verdict = await service.admit()
    if not verdict.admitted:
        log.error("licence refused the start: %s", verdict.message)
        raise LicenseError(f"the licence refused the start: {verdict.message}")
    current = await service.standing()
    if current.required:
        agent.options.banner(f"licence: {current.message}")
    return service
