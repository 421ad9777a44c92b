"""Licensing in the running agent: one call from the composition root (agent/app.py).

``await attach_license(agent)`` makes the licence service, adds its routes, and takes
a seat before the agent connects to the PBX (L1, U10). Refused, ``start()`` raises
:class:`LicenseError` (``run`` exits 5, contracts.md §2) and the agent stops what it
started: the PBX never heard of it. With no key it runs as one seat and says so.

It also puts :class:`SeatGate` in front of the live link (``services.seat_gate``,
which ``Agent.connect`` runs the link through): the agent holds its seat while its
link runs, gives it back when the link stops (Disconnect, a link that gave up), and
a Connect after that asks for a seat again. Refused there, the link stays offline
and says why, as the start does: who holds the seats.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from agent.api import routes_license
from agent.core.errors import LicenseError, StorageError
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


class SeatGate:
    """The live link behind a seat (U10): ``await gate(live.run)`` takes the seat (or
    keeps the one this agent holds), runs the link, and gives the seat back when the
    link stops. Refused, the link is reported down with the licence's sentence and
    never started."""

    def __init__(self, agent: Agent, service: LicenseService) -> None:
        self.agent = agent
        self.service = service

    async def __call__(self, run: Callable[[], Awaitable[None]]) -> None:
        try:
            if await self._admitted():
                await run()
        finally:
            # Also when Disconnect cancelled us: the seat is free before it returns.
            try:
                await self.service.release()
            except Exception as exc:  # the database is gone: the beat goes stale instead
                log.warning("the licence seat was not given back: %s", exc)

    async def _admitted(self) -> bool:
        try:
            verdict = await self.service.admit()
        except StorageError as exc:
            # Fail closed, as the start does: the seat is not taken without asking.
            return self._refused(f"the licence could not check for a free seat: {exc}")
        if verdict.admitted:
            return True
        return self._refused(f"the licence refused the connection: {verdict.message}")

    def _refused(self, message: str) -> bool:
        log.error("%s", message)
        runtime = self.agent.runtime
        if runtime is not None:
            runtime.link_changed(False, message)  # offline, and why (contracts.md §4)
            self._tell(runtime, message)
        return False

    def _tell(self, runtime: Any, message: str) -> None:
        """The tray agent shows it as a popup too, as it shows a refused start."""
        info = getattr(runtime.popups, "info", None)
        if info is None:  # headless: the log line and /api/status say it
            return
        from agent.i18n import Translator, resolve_language

        language = resolve_language(str(getattr(self.agent.operator, "language", "") or ""))
        with contextlib.suppress(Exception):
            info(Translator(language)("error.license"), message[:1].upper() + message[1:])


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
    # The seat and this agent's first beat in one step: two agents starting together
    # never both take the last seat.
    verdict = await service.admit()
    if not verdict.admitted:
        log.error("licence refused the start: %s", verdict.message)
        raise LicenseError(f"the licence refused the start: {verdict.message}")
    services.seat_gate = SeatGate(agent, service)
    if not agent.operator.auto_connect:  # U3: no link yet, so no seat held either
        await service.release()
    current = await service.standing()
    if current.required:
        agent.options.banner(f"licence: {current.message}")
    return service
