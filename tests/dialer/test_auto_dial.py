"""Auto-dial against the simulator, one scripted scenario per rule (manual §6; M6, A1–A6,
B2, B3, B17): the agent dials through its local API, the simulator's far ends answer,
ring out, are busy or fail, and the list shows what the rules made of it."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from agent.core.errors import PbxProtocolError
from agent.dialer.participant import refusal_status
from agent.simulator import SimControl, SimulatorInfo
from tests.dialer.support import (
    add,
    by_number,
    dialer,
    dialer_agent,
    entries,
    finished,
    make_call_times,
    make_calls,
    ok,
    wait_dialer,
    wait_entry,
)
from tests.scenarios.conftest import AgentFactory, wait_until

A, B, C = "+380501110001", "+380501110002", "+380501110003"


async def test_an_answered_call_completes_its_contact_and_the_list_finishes_u6(
    agent_factory: AgentFactory, simulator: SimulatorInfo, sim: SimControl
) -> None:
    agent = await dialer_agent(agent_factory, simulator)
    contact = await ok(
        agent, "POST", "/api/contacts",
        {"name": "ТОВ Ромашка", "phones": [{"number": A}, {"number": B}]},
    )  # fmt: skip
    sim.script(A, answer=True, ring_s=0.1, talk_s=1.1)
    added = await add(agent, A, B, C, "not a number")
    assert added["accepted"] == 3
    assert added["rejected"] == [
        {"row": 4, "column": "number", "reason": "not a phone number: 'not a number'"}
    ]
    sim.script(C, answer=True, ring_s=0.1, talk_s=1.1)
    view = await ok(agent, "POST", "/api/dialer/start", {})
    assert view["state"] in ("calling", "between_calls")
    await finished(agent)
    rows = await by_number(agent)
    assert rows[A]["contact"] == {"id": contact["id"], "name": "ТОВ Ромашка"}
    assert (rows[A]["state"], rows[A]["attempts"], rows[A]["last_outcome"]) == (
        "done", 1, "answered",
    )  # fmt: skip
    assert (rows[B]["state"], rows[B]["attempts"]) == ("done", 0), "the contact's other number"
    assert make_calls(sim) == [A, C]


async def test_with_remove_on_complete_the_contacts_numbers_leave_the_list_u6(
    agent_factory: AgentFactory, simulator: SimulatorInfo, sim: SimControl
) -> None:
    agent = await dialer_agent(agent_factory, simulator, operator={"on_complete": "remove"})
    await ok(
        agent, "POST", "/api/contacts", {"name": "Bond", "phones": [{"number": A}, {"number": B}]}
    )
    sim.script(A, answer=True, ring_s=0.1, talk_s=1.1)
    await add(agent, A, B)
    await ok(agent, "POST", "/api/dialer/start", {})
    await finished(agent)
    assert await entries(agent) == []
    assert make_calls(sim) == [A]


async def test_no_answer_is_retried_after_its_postpone_until_the_limit_a6(
    agent_factory: AgentFactory, simulator: SimulatorInfo, sim: SimControl
) -> None:
    retry = {
        "no_answer": {"postpone_min": 0.02, "retries": 1},  # 1.2 s
        "busy": {"postpone_min": 10, "retries": 5},
        "failed": {"postpone_min": 15, "retries": 2},
    }
    agent = await dialer_agent(agent_factory, simulator, operator={"retry": retry})
    sim.script(A, answer=False, ring_s=0.1)
    await add(agent, A)
    await ok(agent, "POST", "/api/dialer/start", {})
    await finished(agent)
    row = (await by_number(agent))[A]
    assert (row["state"], row["attempts"], row["last_outcome"]) == ("exhausted", 2, "no_answer")
    first, second = make_call_times(sim, A)
    assert second - first >= 1.2 - 0.2, "not before the last try plus the postpone (±makeCall)"


async def test_busy_and_failed_are_told_apart_from_history_each_with_its_rule_b2(
    agent_factory: AgentFactory, simulator: SimulatorInfo, sim: SimControl
) -> None:
    retry = {
        "no_answer": {"postpone_min": 30, "retries": 3},
        "busy": {"postpone_min": 60, "retries": 5},
        "failed": {"postpone_min": 15, "retries": 0},
    }
    agent = await dialer_agent(agent_factory, simulator, operator={"retry": retry})
    sim.script(A, answer=False, ring_s=0.1, disposition=4)
    sim.script(B, answer=False, ring_s=0.1, disposition=3)
    await add(agent, A, B)
    await ok(agent, "POST", "/api/dialer/start", {})
    busy = await wait_entry(agent, A, "busy", last_outcome="busy")
    failed = await wait_entry(agent, B, "failed", last_outcome="failed")
    assert busy["state"] == "postponed"
    tried = datetime.fromisoformat(busy["last_attempt_at"])
    assert datetime.fromisoformat(busy["next_dial_at"]) == tried + timedelta(minutes=60)
    assert failed["state"] == "exhausted", "failed: no retries"
    view = await wait_dialer(agent, "waiting for the busy number", state="between_calls")
    assert view["next_call_at"] == busy["next_dial_at"]


async def test_a_short_answer_counts_as_not_reached_b17(
    agent_factory: AgentFactory, simulator: SimulatorInfo, sim: SimControl
) -> None:
    agent = await dialer_agent(agent_factory, simulator, team={"completed_talk_s": 5})
    sim.script(A, answer=True, ring_s=0.1, talk_s=1.1)
    await add(agent, A)
    await ok(agent, "POST", "/api/dialer/start", {})
    row = await wait_entry(agent, A, "the short call", last_outcome="not_reached")
    assert row["state"] == "postponed" and row["attempts"] == 1


async def test_pause_mid_talk_then_resume_a2(
    agent_factory: AgentFactory, simulator: SimulatorInfo, sim: SimControl
) -> None:
    agent = await dialer_agent(agent_factory, simulator)
    sim.script(A, answer=True, ring_s=0.1, talk_s=2.0)
    sim.script(B, answer=True, ring_s=0.1, talk_s=1.1)
    await add(agent, A, B)
    await ok(agent, "POST", "/api/dialer/start", {})
    await wait_dialer(agent, "talking", state="in_call")
    view = await ok(agent, "POST", "/api/dialer/pause", {"minutes": 5})
    assert view["state"] == "paused" and view["paused_until"] is not None
    assert (await ok(agent, "GET", "/api/status"))["dialer"]["state"] == "paused"
    await wait_entry(agent, A, "the paused call's outcome", state="done")
    assert (await dialer(agent))["state"] == "paused" and make_calls(sim) == [A]
    await ok(agent, "POST", "/api/dialer/resume", {})
    await finished(agent)
    assert make_calls(sim) == [A, B]


async def test_stop_while_paused_leaves_the_dialer_idle_and_the_call_counted_a3(
    agent_factory: AgentFactory, simulator: SimulatorInfo, sim: SimControl
) -> None:
    agent = await dialer_agent(agent_factory, simulator)
    sim.script(A, answer=True, ring_s=None)
    await add(agent, A, B)
    await ok(agent, "POST", "/api/dialer/start", {})
    view = await wait_dialer(agent, "ringing", state="calling")
    await ok(agent, "POST", "/api/dialer/pause", {"minutes": 10})
    stopped = await ok(agent, "POST", "/api/dialer/stop", {})
    assert (stopped["state"], stopped["paused_until"]) == ("idle", None)
    uuid = view["current"]["uuid"] or (await dialer(agent))["current"]["uuid"]
    sim.hangup(uuid)
    row = await wait_entry(agent, A, "the stopped call's outcome", last_outcome="no_answer")
    assert row["attempts"] == 1
    assert (await dialer(agent))["state"] == "idle"
    refused = await agent.api("POST", "/api/dialer/pause", {"minutes": 5})
    assert refused.status_code == 409
    assert make_calls(sim) == [A]


async def test_a_pause_without_a_deadline_outlasts_a_restart_of_the_agent_a2(
    agent_factory: AgentFactory, simulator: SimulatorInfo, sim: SimControl, tmp_path: Path
) -> None:
    kept = tmp_path / "kept"
    first = await dialer_agent(agent_factory, simulator, data_dir=kept)
    sim.script(A, answer=True, ring_s=None)
    sim.script(B, answer=False, ring_s=0.1)
    await add(first, A, B)
    await ok(first, "POST", "/api/dialer/start", {})
    await wait_until(lambda: any(c["state"] == "ringing" for c in sim.calls()), what="A rings")
    paused = await ok(first, "POST", "/api/dialer/pause", {})
    assert (paused["state"], paused["paused_until"]) == ("paused", None)
    (ringing,) = sim.calls()
    sim.hangup(ringing["uuid"])
    await wait_entry(first, A, "the paused call's outcome", last_outcome="no_answer")
    await first.agent.stop()
    second = await dialer_agent(agent_factory, simulator, data_dir=kept)
    view = await dialer(second)
    assert (view["state"], view["paused_until"]) == ("paused", None), "until resumed"
    await ok(second, "POST", "/api/dialer/resume", {})
    await wait_entry(second, B, "B after the resume", last_outcome="no_answer")
    assert make_calls(sim) == [A, B]


async def test_with_event_creation_the_next_call_waits_for_the_event_a5(
    agent_factory: AgentFactory, simulator: SimulatorInfo, sim: SimControl
) -> None:
    agent = await dialer_agent(agent_factory, simulator, operator={"create_event_on_answer": True})
    for number in (A, B):
        sim.script(number, answer=True, ring_s=0.1, talk_s=1.1)
    sim.script(C, answer=False, ring_s=0.1)
    await add(agent, A, B, C)
    await ok(agent, "POST", "/api/dialer/start", {})
    await wait_dialer(agent, "the first event", state="waiting_event")
    await wait_entry(agent, A, "the outcome", state="done")
    assert make_calls(sim) == [A]
    (event,) = (await ok(agent, "GET", "/api/events?state=open"))["items"]
    await ok(agent, "POST", f"/api/events/{event['id']}/save", {"notes": "ok"})
    await wait_dialer(agent, "the second event", state="waiting_event", finished=False)
    await wait_until(lambda: len(make_calls(sim)) == 2, what="the second call")
    opened: list[dict[str, object]] = []

    async def second_open() -> bool:
        opened[:] = (await ok(agent, "GET", "/api/events?state=open"))["items"]
        return len(opened) == 1

    await wait_until(second_open, what="the second call's event")
    # Declining marks the call unimportant and lets the dialer go on.
    await ok(agent, "POST", f"/api/events/{opened[0]['id']}/decline", {})
    await wait_entry(agent, C, "the unanswered third call", last_outcome="no_answer")
    assert make_calls(sim) == [A, B, C]


async def test_outside_the_calling_window_entries_wait_and_say_why_b3(
    agent_factory: AgentFactory, simulator: SimulatorInfo, sim: SimControl
) -> None:
    today = datetime.now(ZoneInfo("Europe/Kyiv")).isoweekday()
    window = {"start": "09:00", "end": "20:00", "days": [d for d in range(1, 8) if d != today]}
    agent = await dialer_agent(agent_factory, simulator, team={"calling_window": window})
    await add(agent, A)
    view = await ok(agent, "POST", "/api/dialer/start", {})
    if view["state"] != "outside_hours":
        view = await wait_dialer(agent, "outside hours", state="outside_hours")
    assert view["next_call_at"] is not None
    row = (await by_number(agent))[A]
    assert row["state"] == "outside_hours" and "09:00–20:00" in row["reason"]
    assert row["time_zone"] == "Europe/Kyiv"
    assert make_calls(sim) == []


async def test_numbers_on_the_dnc_list_are_shown_and_never_dialled_b3(
    agent_factory: AgentFactory, simulator: SimulatorInfo, sim: SimControl
) -> None:
    agent = await dialer_agent(agent_factory, simulator)
    sim.script(B, answer=True, ring_s=0.1, talk_s=1.1)
    await add(agent, A, B)
    marked = await ok(agent, "POST", "/api/dnc", {"number": "050 111 0001", "reason": "asked"})
    assert marked == {"number": A, "reason": "asked", "entries_marked": 1}
    await ok(agent, "POST", "/api/dialer/start", {})
    await finished(agent)
    rows = await by_number(agent)
    assert rows[A]["state"] == "dnc" and rows[A]["reason"] == "on the do-not-call list"
    assert make_calls(sim) == [B]
    assert [d["number"] for d in (await ok(agent, "GET", "/api/dnc"))["items"]] == [A]
    assert (await ok(agent, "DELETE", f"/api/dnc/{A}"))["removed"]
    assert (await by_number(agent))[A]["state"] == "pending"


async def test_skip_hangs_up_a_ringing_call_and_moves_on(
    agent_factory: AgentFactory, simulator: SimulatorInfo, sim: SimControl
) -> None:
    agent = await dialer_agent(agent_factory, simulator)
    sim.script(A, answer=True, ring_s=None)
    sim.script(B, answer=True, ring_s=0.1, talk_s=1.1)
    await add(agent, A, B)
    await ok(agent, "POST", "/api/dialer/start", {})
    await wait_dialer(agent, "ringing", state="calling")
    await wait_until(lambda: any(c["state"] == "ringing" for c in sim.calls()), what="a ring")
    await ok(agent, "POST", "/api/dialer/skip", {})
    await finished(agent)
    rows = await by_number(agent)
    assert rows[A]["state"] == "skipped" and rows[A]["attempts"] == 1
    assert rows[B]["state"] == "done"


async def test_a_makecall_the_pbx_refuses_counts_a_failed_try_and_the_list_moves_on_a6(
    agent_factory: AgentFactory, simulator: SimulatorInfo, sim: SimControl
) -> None:
    retry = {
        "no_answer": {"postpone_min": 30, "retries": 3},
        "busy": {"postpone_min": 10, "retries": 5},
        "failed": {"postpone_min": 20, "retries": 2},
    }
    # The simulated PBX has no extension 077: its makeCall answers 400, a definite no.
    agent = await dialer_agent(agent_factory, simulator, ext="077", operator={"retry": retry})
    await add(agent, A, B)
    await ok(agent, "POST", "/api/dialer/start", {})
    first = await wait_entry(agent, A, "A refused", last_outcome="failed")
    second = await wait_entry(agent, B, "B refused", last_outcome="failed")
    for row in (first, second):
        assert (row["state"], row["attempts"]) == ("postponed", 1)
        tried = datetime.fromisoformat(row["last_attempt_at"])
        assert datetime.fromisoformat(row["next_dial_at"]) == tried + timedelta(minutes=20)
    await wait_dialer(
        agent, "waiting for A's next try", state="between_calls", next_call_at=first["next_dial_at"]
    )
    assert make_calls(sim) == [A, B], "each once: the same entry is not dialled again at once"


def test_only_a_4xx_answer_to_makecall_is_a_definite_refusal() -> None:
    where = "sim.phonet.local/rest/user/makeCall"
    assert refusal_status(PbxProtocolError(f"{where}: unexpected HTTP 400")) == 400
    assert refusal_status(PbxProtocolError(f"{where}: unexpected HTTP 404")) == 404
    # A success we cannot read may still have placed the call: it is looked up instead.
    assert refusal_status(PbxProtocolError(f"{where}: no uuid in the answer")) is None
    assert refusal_status(PbxProtocolError(f"{where}: the answer is not JSON")) is None
