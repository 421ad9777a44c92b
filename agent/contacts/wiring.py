"""The contacts area in the composition root: one call from ``Agent.start``.

Builds the services, hooks them into the runtime (``runtime.lookup``, the popup
and outcome listeners), declares the routes and exposes the services to the API
handlers and the other features as ``services.contacts``, ``services.events``
and ``services.contact_stats``.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent.api import routes_contacts, routes_events
from agent.contacts.event_service import EventService
from agent.contacts.service import ContactService
from agent.contacts.stats import StatsService

if TYPE_CHECKING:
    from agent.app import Agent


@dataclass(frozen=True, slots=True)
class ContactsArea:
    contacts: ContactService
    events: EventService
    stats: StatsService
    started: asyncio.Event


def attach_contacts(agent: Agent) -> ContactsArea:
    """Wire the area into a starting agent (its runtime, hub, services and registry)."""
    runtime, hub = agent.runtime, agent.hub
    assert runtime is not None
    ext = agent.options.ext
    contacts = ContactService(agent.storage, agent, own_ext=ext, publish=hub.publish)
    events = EventService(agent.storage, contacts, agent, own_ext=ext, publish=hub.publish)
    stats = StatsService(contacts)
    runtime.lookup = contacts.call_context
    runtime.popup_listeners.append(events.on_popup)
    runtime.outcome_listeners.append(contacts.on_outcome)
    agent.services.contacts = contacts
    agent.services.events = events
    agent.services.contact_stats = stats
    routes_contacts.register(agent.registry)
    routes_events.register(agent.registry)
    area = ContactsArea(contacts, events, stats, asyncio.Event())
    # Cancelled first at Agent.stop, before storage closes: it lets our writes finish.
    agent.add_task(_run(area), name="contacts")
    return area


async def _run(area: ContactsArea) -> None:
    try:
        await area.contacts.load_index_state()
        await area.events.load_open()
        area.started.set()
        await asyncio.Event().wait()
    finally:
        reindexing = area.contacts.reindexing
        if reindexing is not None:
            reindexing.cancel()  # resumes at the next start (the index state says so)
        with contextlib.suppress(Exception):
            await area.contacts.drain()
