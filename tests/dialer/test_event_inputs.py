"""The call event that holds the dialer (A5, U8): a number given to an event made by
hand, the default values the event made on answer takes, and the words of a refusal."""

from __future__ import annotations

from agent.simulator import SimulatorInfo
from tests.dialer.support import dialer_agent, ok
from tests.scenarios.conftest import AgentFactory

A = "+380501110001"


async def test_an_event_made_by_hand_takes_a_phone_number_kept_in_e164_u8(
    agent_factory: AgentFactory, simulator: SimulatorInfo
) -> None:
    agent = await dialer_agent(agent_factory, simulator)
    bad = await agent.api("POST", "/api/events", {"number": "call me", "planned_at": "+1d"})
    assert bad.status_code == 422, bad.text
    assert (bad.json()["error"]["field"], bad.json()["error"]["code"]) == (
        "number",
        "number.invalid",
    )
    made = await ok(agent, "POST", "/api/events", {"number": "050 111 0001", "planned_at": "+1d"})
    assert made["number"] == A, "the dial list can call it (M6 fill from planned)"
    extension = await ok(agent, "POST", "/api/events", {"number": "002"})
    assert extension["number"] == "002"


async def test_event_defaults_whose_planned_time_cannot_be_read_are_refused_when_saved_u8(
    agent_factory: AgentFactory, simulator: SimulatorInfo
) -> None:
    agent = await dialer_agent(agent_factory, simulator)
    bad = await agent.api(
        "PUT", "/api/settings", {"operator": {"event_defaults": {"planned_at": "tomorrow"}}}
    )
    assert bad.status_code == 422, bad.text
    (problem,) = bad.json()["error"]["fields"]
    assert (problem["scope"], problem["field"]) == ("operator", "event_defaults")
    assert problem["message"].startswith("planned_at 'tomorrow' is not")
    good = {"planned_at": "+1d", "kind": "callback", "topic": "A"}
    saved = await agent.api("PUT", "/api/settings", {"operator": {"event_defaults": good}})
    assert saved.status_code == 200, saved.text
    assert (await ok(agent, "GET", "/api/settings"))["operator"]["event_defaults"] == good


async def test_a_declined_event_cannot_be_edited_and_says_so_in_plain_words(
    agent_factory: AgentFactory, simulator: SimulatorInfo
) -> None:
    agent = await dialer_agent(agent_factory, simulator)
    made = await ok(agent, "POST", "/api/events", {"number": A, "state": "open"})
    await ok(agent, "POST", f"/api/events/{made['id']}/decline", {})
    edit = await agent.api("PUT", f"/api/events/{made['id']}", {"notes": "later"})
    assert edit.status_code == 409
    assert edit.json()["error"]["message"] == "a declined event cannot be edited"
