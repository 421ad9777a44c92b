"""The whole life of a call, as the operator sees it (C1, C3, M2, M3, B2), against the
real simulator over real HTTP and WebSocket on 127.0.0.1."""

from __future__ import annotations

from typing import Any

from agent.simulator import SimControl
from tests.scenarios.conftest import AgentHandle, wait_until


async def final_row(agent: AgentHandle, uuid: str) -> dict[str, Any]:
    async def final() -> bool:
        return any(r["uuid"] == uuid and r["final"] for r in await agent.journal())

    await wait_until(final, what=f"the journal row of {uuid} completed from history")
    return next(r for r in await agent.journal() if r["uuid"] == uuid)


async def test_an_incoming_answered_call_pops_up_and_lands_in_the_journal(
    agent: AgentHandle, sim: SimControl
) -> None:
    uuid = sim.play_call("in", "001", "+380442249895", ring_s=0.1, talk_s=1.2)
    row = await final_row(agent, uuid)
    assert agent.popups == [
        "popup ring in +380442249895",
        "popup answer in +380442249895",
        "popup hangup in +380442249895 talk=1s",
    ]
    history = next(h for h in sim.history() if h["uuid"].replace("-", "") == uuid)
    assert row["talk_s"] == history["billSecs"] == 1
    assert row["direction"] == "in" and row["number"] == "+380442249895"
    assert row["outcome"] == "answered" and row["disposition"] == 0
    assert row["source"] == "live" and row["operator_ext"] == "001"
    assert row["answer_at"] is not None and row["end_at"] is not None


async def test_dialling_from_the_api_rings_the_operator_first_then_the_number(
    agent: AgentHandle, sim: SimControl
) -> None:
    sim.script("+380501234567", answer=True, ring_s=0.1, talk_s=1.1)
    response = await agent.api("POST", "/api/dial", {"number": "050 123 45 67"})
    assert response.status_code == 202, response.text
    uuid = response.json()["uuid"]
    make_calls = [r for r in sim.requests() if r["path"].startswith("/rest/user/makeCall")]
    assert '"legExt": "001"' in make_calls[0]["body"] or '"legExt":"001"' in make_calls[0]["body"]
    assert "+380501234567" in make_calls[0]["body"]
    row = await final_row(agent, uuid)
    assert row["direction"] == "out" and row["outcome"] == "answered"
    assert agent.popups[0] == "popup dial out +380501234567"
    assert agent.popups[-1] == "popup hangup out +380501234567 talk=1s"


async def test_a_missed_call_has_no_talk_and_the_outcome_no_answer(
    agent: AgentHandle, sim: SimControl
) -> None:
    uuid = sim.play_call("in", "001", "+380671112233", ring_s=0.2, answer=False)
    row = await final_row(agent, uuid)
    assert agent.popups == ["popup ring in +380671112233", "popup hangup in +380671112233"]
    assert row["talk_s"] == 0 and row["outcome"] == "no_answer" and row["disposition"] == 1


async def test_busy_is_known_from_the_pbx_history_although_the_hangup_says_nothing(
    agent: AgentHandle, sim: SimControl
) -> None:
    sim.script("+380931234567", answer=False, ring_s=0.1, disposition=4)
    uuid = (await agent.api("POST", "/api/dial", {"number": "+380931234567"})).json()["uuid"]
    row = await final_row(agent, uuid)
    assert row["outcome"] == "busy" and row["disposition"] == 4


async def test_an_internal_call_shows_the_colleagues_extension(
    agent: AgentHandle, sim: SimControl
) -> None:
    sim.add_user("002", "Петро Бондар", "petro@demo.ua")
    uuid = sim.play_call("internal", "001", "002", ring_s=0.1, talk_s=1.0)
    row = await final_row(agent, uuid)
    assert row["direction"] == "internal" and row["number"] == "002"
    assert agent.popups[0] == "popup dial internal 002"


async def test_a_short_answered_call_counts_as_not_reached_b17(
    agent_factory: Any, simulator: Any, sim: SimControl
) -> None:
    handle: AgentHandle = await agent_factory(simulator, team={"completed_talk_s": 10})
    await handle.online()
    uuid = sim.play_call("in", "001", "+380442249895", ring_s=0.1, talk_s=1.0)
    row = await final_row(handle, uuid)
    assert row["outcome"] == "not_reached"


async def test_the_lines_show_the_talking_line_and_hangup_ends_it_in_the_simulator(
    agent: AgentHandle, sim: SimControl
) -> None:
    uuid = sim.play_call("in", "001", "+380442249895", ring_s=None)
    await wait_until(lambda: len(agent.agent.runtime.phone.line_list) == 1)  # type: ignore[union-attr]
    sim.answer(uuid)

    async def talking() -> bool:
        lines = (await agent.status())["lines"]
        return bool(lines) and lines[0]["talking"] and lines[0]["state"] == "talking"

    await wait_until(talking, what="the line talking")
    response = await agent.api("POST", "/api/hangup", {})
    assert response.status_code == 200 and response.json()["uuid"] == uuid
    await wait_until(lambda: sim.call(uuid)["state"] == "ended", what="the simulator's call ended")
    await wait_until(lambda: agent.popups[-1].startswith("popup hangup"))


async def test_hangup_with_no_line_is_a_conflict(agent: AgentHandle) -> None:
    response = await agent.api("POST", "/api/hangup", {})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "no_line"


async def test_an_invalid_number_is_refused_with_a_clear_error(agent: AgentHandle) -> None:
    response = await agent.api("POST", "/api/dial", {"number": "hello"})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "number"


async def test_duplicated_frames_give_one_popup_per_step_and_one_journal_row(
    agent: AgentHandle, sim: SimControl
) -> None:
    sim.faults(duplicate_events=True)
    uuid = sim.play_call("in", "001", "+380442249895", ring_s=0.1, talk_s=1.0)
    await final_row(agent, uuid)
    assert len(agent.popups) == 3
    assert [r["uuid"] for r in await agent.journal()] == [uuid]


async def test_dnd_dials_the_combination_and_the_pause_event_is_the_truth_u4_b12(
    agent_factory: Any, simulator: Any, sim: SimControl
) -> None:
    from datetime import UTC, datetime, timedelta

    sim.add_user("001", "Олена Коваль", "olena@demo.ua", dnd_code="*78")
    handle: AgentHandle = await agent_factory(simulator, operator={"dnd_code": "*78"})
    await handle.online()
    until = (datetime.now(UTC) + timedelta(seconds=1.5)).isoformat()
    response = await handle.api("POST", "/api/dnd", {"on": True, "until": until})
    assert response.status_code == 200, response.text

    async def dnd_is(on: bool) -> bool:
        return bool((await handle.status())["dnd"]["on"] is on)

    await wait_until(lambda: dnd_is(True), what="the PBX's pause-on event")
    dials = [r for r in sim.requests() if r["path"].startswith("/rest/user/makeCall")]
    assert "*78" in dials[0]["body"]
    uuid = sim.play_call("in", "001", "+380442249895", ring_s=0.1, answer=False)
    await final_row(handle, uuid)
    assert handle.popups == ["popup hangup in +380442249895"], "no ring popup during DND"
    await wait_until(lambda: dnd_is(False), what="the timer turning DND off again")


async def test_dnd_without_a_combination_is_a_clear_error(agent: AgentHandle) -> None:
    response = await agent.api("POST", "/api/dnd", {"on": True})
    assert response.status_code == 400
    assert "DND combination" in response.json()["error"]["message"]
