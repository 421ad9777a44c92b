"""Team mode (B5): agents on one database share the team settings, and one saved on
one agent reaches the others while they run — their phone, dialling, contacts and
window — without a restart (agent/settings_sync.py)."""

from __future__ import annotations

import json
from typing import Any

from agent.settings_sync import TeamSettingsWatcher
from agent.simulator import SimulatorInfo
from tests.api.conftest import Api, start_api
from tests.scenarios.conftest import AgentFactory, wait_until


def watcher_of(api: Api, interval_s: float = 0.05) -> TeamSettingsWatcher:
    """The agent's watcher, looking often (every ~30 s in the product)."""
    watcher: TeamSettingsWatcher = api.services.settings_sync
    watcher.interval_s = interval_s
    watcher.poke()
    return watcher


async def two_agents(
    agent_factory: AgentFactory, simulator: SimulatorInfo, db_url: str
) -> tuple[Api, Api]:
    """Two agents of one operator (one seat: no licence key needed), one database."""
    here = await start_api(agent_factory, simulator, db_url=db_url)
    other = await start_api(agent_factory, simulator, db_url=db_url)
    await here.handle.online()
    return here, other


async def test_a_team_setting_saved_on_another_agent_reaches_this_one_running_b5(
    db_url: str, agent_factory: AgentFactory, simulator: SimulatorInfo
) -> None:
    here, other = await two_agents(agent_factory, simulator, db_url)
    refused = await here.post("/api/dial", {"number": "22 123 45 67"})
    assert refused.status_code == 422  # not a Ukrainian number
    async with here.live() as window:
        assert json.loads(await window.recv())["topic"] == "hello"
        answer = await other.put(
            "/api/settings",
            {"team": {"completed_talk_s": 42, "outcome_wait_s": 30, "default_region": "PL"}},
        )
        assert answer.status_code == 200, answer.text
        watcher_of(here)
        heard: dict[str, Any] = {}
        while "settings" not in heard or "status" not in heard:
            message = json.loads(await window.recv())
            heard[message["topic"]] = message["data"]

    agent = here.services.agent
    assert (agent.team.completed_talk_s, agent.team.default_region) == (42, "PL")
    # The phone and the journal judge calls finishing from now on by it (G4, B2).
    config = here.services.runtime.phone.config
    assert (config.completed_talk_s, config.outcome_wait_s) == (42, 30.0)
    assert here.services.journal.completed_talk_s == 42
    # Dialling reads the new region.
    dialled = await here.post("/api/dial", {"number": "22 123 45 67"})
    assert dialled.status_code == 202, dialled.text
    # The window is told what changed, as after a save of its own.
    assert set(heard["settings"]["changed"]) == {
        "team.completed_talk_s",
        "team.outcome_wait_s",
        "team.default_region",
    }


async def test_an_agents_own_save_is_not_applied_again_by_its_watcher_b5(
    db_url: str, agent_factory: AgentFactory, simulator: SimulatorInfo
) -> None:
    here, other = await two_agents(agent_factory, simulator, db_url)
    answer = await here.put("/api/settings", {"team": {"missed_days": 14}})
    assert answer.status_code == 200, answer.text
    watcher: TeamSettingsWatcher = here.services.settings_sync
    assert await watcher.check() == []  # the database says what this agent already runs
    assert await watcher.check() == []  # and nothing moved since

    heard: list[dict[str, list[str]]] = []
    here.services.settings_listeners.append(lambda team, op, outcome: heard.append(outcome))
    await other.put("/api/settings", {"team": {"missed_days": 21}})
    assert await watcher.check() == ["team.missed_days"]
    assert heard == [{"applied": ["team.missed_days"], "restart": []}]
    assert here.services.agent.team.missed_days == 21


async def test_a_setting_this_agent_was_started_with_keeps_winning_b5(
    db_url: str, agent_factory: AgentFactory, simulator: SimulatorInfo
) -> None:
    """Settings given on top of the stored ones (tests, the demo) hold, as at start."""
    here = await start_api(agent_factory, simulator, db_url=db_url, team={"missed_days": 3})
    other = await start_api(agent_factory, simulator, db_url=db_url)
    await other.put("/api/settings", {"team": {"missed_days": 21, "missed_claim_min": 5}})
    watcher: TeamSettingsWatcher = here.services.settings_sync
    assert await watcher.check() == ["team.missed_claim_min"]
    assert here.services.agent.team.missed_days == 3


async def test_another_agents_region_change_reindexes_the_contacts_here_b5(
    db_url: str, agent_factory: AgentFactory, simulator: SimulatorInfo
) -> None:
    here, other = await two_agents(agent_factory, simulator, db_url)
    contacts = here.services.contacts
    watcher_of(here)
    await other.put("/api/settings", {"team": {"default_region": "PL"}})
    await wait_until(lambda: contacts.indexed_region == "PL", what="re-indexed under PL")
