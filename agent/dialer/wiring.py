"""The dialer area in the composition root: one call from ``Agent.start``.

Builds the participant and the services, hooks them into the runtime
(``participants``, state and outcome listeners, ``status()["dialer"]``), publishes
hub topic ``dialer`` on every change, declares the routes, and exposes the service
as ``services.dialer``. Wire it after the contacts area: it uses
``services.contacts``, ``services.events`` and ``services.contact_stats`` when
they are there (agent/dialer/contacts_adapter.py), and works without them.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from agent.api import routes_dialer
from agent.dialer.lists import DialListService
from agent.dialer.missed import MissedCalls
from agent.dialer.participant import DialerParticipant
from agent.dialer.ports import ContactDirectory, EventGate, NoContacts, NoEvents
from agent.dialer.progress import ListProgress
from agent.dialer.service import DialerService
from agent.storage.dialer_repository import DialerRepository
from agent.storage.missed_repository import MissedRepository

if TYPE_CHECKING:
    from agent.app import Agent

log = logging.getLogger(__name__)


def _directory(services: Any) -> ContactDirectory:
    contacts = getattr(services, "contacts", None)
    if contacts is None:
        return NoContacts()
    from agent.dialer.contacts_adapter import ContactsDirectory

    return ContactsDirectory(contacts, getattr(services, "contact_stats", None))


def _gate(services: Any) -> EventGate:
    events = getattr(services, "events", None)
    if events is None:
        return NoEvents()
    from agent.dialer.contacts_adapter import EventsGate

    return EventsGate(events)


async def attach_dialer(agent: Agent) -> DialerService:
    """Wire the dialer into a starting agent; resumes a run a restart interrupted."""
    runtime, hub, services = agent.runtime, agent.hub, agent.services
    assert runtime is not None
    ext = agent.options.ext
    repo = DialerRepository(agent.storage.db)
    directory = _directory(services)

    def publish(view: dict[str, Any]) -> None:
        service.changed()
        hub.publish("status", runtime.status())

    participant = DialerParticipant(
        runtime=runtime,
        storage=agent.storage,
        repo=repo,
        settings=agent,
        own_ext=ext,
        events=_gate(services),
        publish=publish,
    )
    lists = DialListService(
        storage=agent.storage,
        repo=repo,
        settings=agent,
        own_ext=ext,
        directory=lambda: directory,
        clock=runtime.clock,
        changed=lambda list_id: service.list_changed(list_id),
    )
    missed = MissedCalls(
        storage=agent.storage,
        repo=MissedRepository(agent.storage.db),
        settings=agent,
        own_ext=ext,
        rest=runtime.rest,
        directory=lambda: directory,
        clock=runtime.clock,
    )
    progress = ListProgress(
        storage=agent.storage,
        repo=repo,
        operator_ext=ext,
        list_id=lambda: participant.core.list_id,
        changed=lambda: publish(participant.core.view()),
    )
    participant.entries_moved = progress.moved
    contacts = getattr(services, "contacts", None)
    if contacts is not None:  # B13: the popup says the number's attempts and next try
        contacts.dial_owner = ext  # B13: the lookup reads this operator's attempts
    service = DialerService(
        participant=participant,
        lists=lists,
        missed=missed,
        storage=agent.storage,
        repo=repo,
        own_ext=ext,
        clock=runtime.clock,
        publish=hub.publish,
        progress=progress,
    )
    service.bind_loop(asyncio.get_running_loop())
    await participant.restore()
    runtime.participants.append(participant)
    runtime.state_listeners.append(participant.on_state)
    runtime.outcome_listeners.append(participant.on_outcome)
    runtime.status_hooks["dialer"] = service.brief
    services.dialer = service
    routes_dialer.register(agent.registry)
    # Cancelled at Agent.stop before storage closes: background calls and lookups end first.
    agent._tasks.append(asyncio.create_task(_linger(participant, progress), name="dialer"))
    runtime.poke()
    return service


async def _linger(participant: DialerParticipant, progress: ListProgress) -> None:
    try:
        await asyncio.Event().wait()
    finally:
        await progress.close()
        await participant.close()
