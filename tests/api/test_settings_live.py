"""When a saved setting reaches the running agent (contracts.md §4: the answer of
``PUT /api/settings`` lists ``applied`` and ``restart``).

Each setting is classified in ``agent/api/routes_settings.py`` (``APPLIES``): read at
each use, re-applied on save, or held since the start. These tests hold the table
complete and show on a running agent, wired to the real simulator, that a setting
answered under ``applied`` really changes what the agent does, without a restart.
"""

from __future__ import annotations

import logging
import re
from dataclasses import fields
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from agent.api.routes_settings import APPLIES, WHEN_WORDS, Scope, When, applies
from agent.core.connection import LinkState
from agent.core.settings import OperatorSettings, TeamSettings
from agent.simulator import SimControl, SimulatorInfo
from tests.api.conftest import Api
from tests.dialer.support import add, dialer_agent, make_calls, ok, wait_dialer, wait_entry
from tests.scenarios.conftest import AgentFactory, AgentHandle, wait_until

A = "+380501110001"
EVERY_SETTING: set[tuple[Scope, str]] = {("team", f.name) for f in fields(TeamSettings)} | {
    ("operator", f.name) for f in fields(OperatorSettings)
}


async def put(handle: AgentHandle, body: dict[str, Any]) -> dict[str, Any]:
    answer = await handle.api("PUT", "/api/settings", body)
    assert answer.status_code == 200, answer.text
    outcome: dict[str, Any] = answer.json()
    return outcome


# ------------------------------------------------------------------ the table


def test_every_setting_of_both_scopes_says_how_it_reaches_the_running_agent() -> None:
    assert set(APPLIES) == EVERY_SETTING
    for (scope, name), how in APPLIES.items():
        assert how.consumer, f"{scope}.{name}: say who reads it"
        if how.apply:
            assert how.when is When.SAVE, f"{scope}.{name}: an applier runs on save"


def test_docs_settings_md_says_when_each_setting_applies() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "settings.md").read_text("utf-8")
    rows = {
        match.group(1): match.group(2)
        for match in re.finditer(
            r"^\| `([a-z]+\.[a-z_]+)` \|.*?\| ([a-z ]+) \| [^|]*\|$", text, re.M
        )
    }
    for scope, name in EVERY_SETTING:
        assert rows.get(f"{scope}.{name}") == WHEN_WORDS[applies(scope, name).when], (
            f"docs/settings.md is stale for {scope}.{name}: "
            "run `python -m agent.api.routes_settings > docs/settings.md`"
        )


async def test_saving_every_setting_answers_each_as_classified_and_applies_cleanly(
    api: Api,
) -> None:
    body = (await api.get("/api/settings")).json()
    answer = await api.put("/api/settings", {"team": body["team"], "operator": body["operator"]})
    assert answer.status_code == 200, answer.text
    outcome = answer.json()
    # No applier failed (one that does moves its settings to "restart").
    assert sorted(outcome["applied"]) == sorted(f"{s}.{n}" for s, n in EVERY_SETTING)
    assert outcome["restart"] == []  # the secrets came back as {"set": false}: untouched


# ------------------------------------------------------------------ U3: the live link


async def test_lowering_the_reconnect_delay_while_the_link_waits_brings_it_back_now_u3(
    agent_factory: AgentFactory, simulator: SimulatorInfo, sim: SimControl
) -> None:
    handle = await agent_factory(simulator, operator={"reconnect_s": 3600, "reconnect_max_s": 3600})
    await handle.online()
    live = handle.agent.live
    assert live is not None
    sim.drop()
    await wait_until(
        lambda: live.state is LinkState.OFFLINE and live.stats.attempts_failed >= 1,
        what="the link waiting an hour to reconnect",
    )
    outcome = await put(handle, {"operator": {"reconnect_s": 0.05, "reconnect_max_s": 0.2}})
    assert {"operator.reconnect_s", "operator.reconnect_max_s"} <= set(outcome["applied"])
    await handle.online()
    assert live.backoff == (0.05, 0.2)
    assert live.stats.reconnects == 1  # the same link: the health page keeps its counts


async def test_a_raised_reconnect_delay_is_what_the_next_drop_waits_u3(
    api: Api, sim: SimControl, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="agent.phonet.live")
    outcome = await put(api.handle, {"operator": {"reconnect_s": 600, "reconnect_max_s": 30}})
    assert "operator.reconnect_s" in outcome["applied"]
    live = api.handle.agent.live
    assert live is not None and live.backoff == (600.0, 600.0)  # the cap is never under it
    sim.drop()

    def waits() -> list[float]:
        return [
            float(found.group(1))
            for r in caplog.records
            if (found := re.search(r"retrying in ([0-9.]+) s", r.getMessage()))
        ]

    await wait_until(lambda: bool(waits()), what="the drop logged with its wait")
    assert 540 <= waits()[0] <= 660  # 600 s give or take the 10 % jitter


# ------------------------------------------------------------------ U5, B3: the dialer


async def test_a_busy_timeout_saved_while_a_call_rings_hangs_that_call_up_u5(
    agent_factory: AgentFactory, simulator: SimulatorInfo, sim: SimControl
) -> None:
    handle = await dialer_agent(agent_factory, simulator)
    sim.script(A, answer=True, ring_s=None)  # rings until someone hangs up
    await add(handle, A)
    await ok(handle, "POST", "/api/dialer/start", {})
    await wait_dialer(handle, "ringing", state="calling")
    await wait_until(lambda: any(c["state"] == "ringing" for c in sim.calls()), what="a ring")
    outcome = await put(handle, {"operator": {"busy_timeout_s": 0.1}})
    assert "operator.busy_timeout_s" in outcome["applied"]
    row = await wait_entry(
        handle, A, "the agent hung up the ringing call", last_outcome="no_answer"
    )
    assert row["attempts"] == 1
    assert [c["state"] for c in sim.calls()] == ["ended"]
    assert any("/hangup" in r["path"] for r in sim.requests()), "the agent hung up"


async def test_opening_the_calling_hours_lets_a_waiting_dialer_call_at_once_b3(
    agent_factory: AgentFactory, simulator: SimulatorInfo, sim: SimControl
) -> None:
    today = datetime.now(ZoneInfo("Europe/Kyiv")).isoweekday()
    closed_today = {
        "start": "09:00",
        "end": "20:00",
        "days": [d for d in range(1, 8) if d != today],
    }
    handle = await dialer_agent(agent_factory, simulator, team={"calling_window": closed_today})
    sim.script(A, answer=True, ring_s=0.1, talk_s=1.1)
    await add(handle, A)
    await ok(handle, "POST", "/api/dialer/start", {})
    await wait_dialer(handle, "waiting for tomorrow's hours", state="outside_hours")
    outcome = await put(handle, {"team": {"calling_window": None}})
    assert "team.calling_window" in outcome["applied"]
    await wait_until(lambda: make_calls(sim) == [A], what="the call made without a restart")


# ------------------------------------------------------------------ B10, M6, G6


async def test_a_call_back_claim_lasts_the_minutes_saved_last_b10(api: Api) -> None:
    before = datetime.now(UTC)
    first = (await api.post("/api/missed/claim", {"number": A})).json()
    assert datetime.fromisoformat(first["claimed_until"]) >= before + timedelta(minutes=60)
    await api.post("/api/missed/release", {"number": A})
    outcome = (await api.put("/api/settings", {"team": {"missed_claim_min": 5}})).json()
    assert "team.missed_claim_min" in outcome["applied"]
    before = datetime.now(UTC)
    second = (await api.post("/api/missed/claim", {"number": A})).json()
    after = datetime.now(UTC)
    until = datetime.fromisoformat(second["claimed_until"])
    assert before + timedelta(minutes=5) <= until <= after + timedelta(minutes=5)


async def test_new_abc_thresholds_count_the_classes_again_m6(api: Api) -> None:
    ids = []
    for name, number in (("Альфа", "+380442249895"), ("Бета", A), ("Гамма", "+380671112233")):
        made = await api.post("/api/contacts", {"name": name, "phones": [{"number": number}]})
        assert made.status_code < 300, made.text
        ids.append(made.json()["id"])
    contacts, storage = api.services.contacts, api.services.storage
    sales = [
        (cid, None, date(2024, 3, 1), cents)
        for cid, cents in zip(ids, (5000, 3000, 2000), strict=True)
    ]
    await storage.run(contacts.sales.insert_many, sales, datetime.now(UTC))
    # Revenue 50 % + 30 % + 20 %: under [80, 95] two are A; under [40, 70] one of each.
    assert (await api.get("/api/contacts/abc")).json()["classes"] == {"A": 2, "B": 1, "C": 0}
    outcome = (await api.put("/api/settings", {"team": {"abc_thresholds": [40, 70]}})).json()
    assert "team.abc_thresholds" in outcome["applied"]
    assert (await api.get("/api/contacts/abc")).json()["classes"] == {"A": 1, "B": 1, "C": 1}


async def test_the_jobs_follow_a_saved_switch_and_schedule_at_once_g6(api: Api) -> None:
    outcome = (
        await api.put(
            "/api/settings", {"team": {"robot_import": True, "robot_schedule": "every 5 min"}}
        )
    ).json()
    assert {"team.robot_import", "team.robot_schedule"} <= set(outcome["applied"])

    async def robot_follows() -> bool:
        jobs = (await api.get("/api/jobs")).json()["items"]
        robot = next(j for j in jobs if j["name"] == "robot")
        return bool(robot["enabled"]) and robot["schedule"] == "every 5 min"

    # The jobs re-read the team settings every 30 s anyway; told, they do it now.
    await wait_until(robot_follows, what="the robot job switched on with its new schedule")


# ------------------------------------------------------------------ held since the start


async def test_a_new_api_key_is_answered_under_restart_and_the_link_keeps_its_key_u1(
    api: Api, sim: SimControl
) -> None:
    outcome = (await api.put("/api/settings", {"operator": {"api_key": "x" * 32}})).json()
    assert outcome["applied"] == [] and outcome["restart"] == ["operator.api_key"]
    # The running link still holds the key it started with: dropped, it comes back
    # with it (the simulator refuses any other key).
    runtime = api.handle.agent.runtime
    assert runtime is not None
    sim.drop()
    await wait_until(lambda: not runtime.phone.link_up, what="the drop")
    await api.handle.online()
