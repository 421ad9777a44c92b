"""Team settings saved by another agent reach this one while it runs (team mode, B5).

Agents of a team share one database, and so the ``team`` settings scope. An agent
reads them at start; ``PUT /api/settings`` updates the agent that saved them. The
others learn of the change here: every :data:`INTERVAL_S` the watcher reads a
fingerprint of the team scope — the version token ``PUT /api/settings`` writes
(routes_settings.TEAM_VERSION_KEY), and the count and latest ``updated_at`` of its
rows, for writers that write no token — and only when it moved does it load the
settings, compare them with the running agent's, and apply what differs exactly as a
save here would (routes_settings.store_change: APPLIES' on-save updates of the phone,
the dialer, the contacts' index…), then tell the window (``settings`` and ``status``),
the jobs and the listeners (routes_settings.announce).

Settings given on top of the stored ones for this process (the overrides of tests and
the demo, ``AgentOptions.team_overrides``) keep winning, as they do at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import peewee as pw

from agent.api.routes_settings import TEAM_VERSION_KEY, Change, announce, store_change
from agent.core.settings import TeamSettings, parse_settings
from agent.storage.models import SettingRow
from agent.storage.repositories import TEAM_SCOPE

if TYPE_CHECKING:
    from agent.app import Agent
    from agent.storage.database import Storage

log = logging.getLogger(__name__)

INTERVAL_S = 30.0
"""How often another agent's change is looked for: the jobs re-read theirs as often."""

Fingerprint = tuple[str, str, str]


def team_fingerprint(storage: Storage) -> Fingerprint:
    """On the storage worker: two small reads, never the settings themselves."""
    rows = list(
        SettingRow.select(pw.fn.COUNT(SettingRow.name), pw.fn.MAX(SettingRow.updated_at))
        .where(SettingRow.scope == TEAM_SCOPE)
        .tuples()
        .execute(storage.db)
    )
    count, latest = rows[0] if rows else (0, None)
    token = storage.kv.get(TEAM_VERSION_KEY)
    return str(token), str(count), str(latest)


@dataclass
class TeamSettingsWatcher:
    """Reloads the team settings when the shared database says they changed."""

    services: Any  # the agent's services namespace (agent/app.py)
    overrides: dict[str, Any] = field(default_factory=dict)
    interval_s: float = INTERVAL_S
    seen: Fingerprint | None = None  # None: compare at the first look
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    def poke(self) -> None:
        """Look now (a changed interval, tests), not at the end of the current wait."""
        self._wake.set()

    async def run(self) -> None:
        """The watcher's task: look every ``interval_s``; a failed look is logged and
        the next one tries again (a database that is down for a while, B5)."""
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval_s):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.check()
            except Exception:
                log.exception("team settings: could not look for changes")

    async def check(self) -> list[str]:
        """Apply the team settings another agent saved since the last look; the names
        applied (``team.…``), none when nothing changed."""
        storage = self.services.storage
        fingerprint = await storage.run(team_fingerprint, storage)
        if fingerprint == self.seen:
            return []
        stored = await storage.run(storage.settings.load, TEAM_SCOPE)
        self.seen = fingerprint
        # Bad stored values keep their defaults, as at start (agent/app.py logged them).
        wanted, _ = parse_settings(TeamSettings, {**stored, **self.overrides})
        running: TeamSettings = self.services.agent.team
        changed = {
            f.name: getattr(wanted, f.name)
            for f in fields(TeamSettings)
            if getattr(wanted, f.name) != getattr(running, f.name)
        }
        if not changed:
            return []
        log.info("team settings changed by another agent: %s", ", ".join(sorted(changed)))
        change = Change(values={"team": changed}, secrets=[], errors=[])
        outcome = store_change(self.services, change)
        announce(self.services, change, outcome)
        runtime = getattr(self.services, "runtime", None)
        if runtime is not None:
            self.services.hub.publish("status", runtime.status())
        return outcome["applied"] + outcome["restart"]


def attach_settings_sync(agent: Agent) -> TeamSettingsWatcher:
    """``services.settings_sync`` and its task (stopped with the agent)."""
    watcher = TeamSettingsWatcher(agent.services, dict(agent.options.team_overrides))
    agent.services.settings_sync = watcher
    agent.add_task(watcher.run(), name="settings-sync")
    return watcher
