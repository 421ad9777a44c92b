"""The PBX misbehaves and no call is lost (U3, B4): expired sessions, dropped live
links, garbage frames, a wrong API key, and a long run of random trouble."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from typing import Any

from agent.simulator import SimControl, SimulatorInfo
from tests.scenarios.conftest import AgentFactory, AgentHandle, wait_until
from tests.scenarios.test_call_life import final_row


def uuid_of(record: dict[str, Any]) -> str:
    return str(record["uuid"]).replace("-", "").lower()


async def test_an_expired_session_is_renewed_once_and_the_dial_goes_through(
    agent: AgentHandle, sim: SimControl
) -> None:
    def authorizations() -> int:
        return sum(r["path"].startswith("/rest/security/authorize") for r in sim.requests())

    await wait_until(lambda: authorizations() == 1, what="the first session (active calls)")
    sim.script("+380501234567", answer=True, ring_s=0.1, talk_s=1.0)
    sim.expire()
    response = await agent.api("POST", "/api/dial", {"number": "+380501234567"})
    assert response.status_code == 202, response.text
    assert authorizations() == 2, "the agent authorized again after the 403, once"
    await final_row(agent, response.json()["uuid"])


async def test_a_live_link_dropped_mid_call_still_gives_one_journal_row_with_the_right_talk(
    agent: AgentHandle, sim: SimControl
) -> None:
    uuid = sim.play_call("in", "001", "+380442249895", ring_s=None)
    await wait_until(lambda: bool(agent.popups), what="the ring popup")
    sim.answer(uuid)
    await wait_until(lambda: len(agent.popups) == 2, what="the answer popup")
    sim.faults(ws_refuse=3)  # keep the agent away while the call ends
    sim.drop()
    await wait_until(lambda: not agent.agent.runtime.phone.link_up, what="the link lost")  # type: ignore[union-attr]
    await asyncio.sleep(1.1)  # talk on while the agent cannot hear
    sim.hangup(uuid)
    await agent.online()
    row = await final_row(agent, uuid)
    history = next(h for h in sim.history() if uuid_of(h) == uuid)
    assert row["talk_s"] == history["billSecs"] >= 1
    assert [r["uuid"] for r in await agent.journal()] == [uuid]


async def test_a_call_wholly_inside_a_gap_is_reconciled_from_history(
    agent: AgentHandle, sim: SimControl
) -> None:
    sim.faults(ws_refuse=4)
    sim.drop()
    await wait_until(lambda: not agent.agent.runtime.phone.link_up)  # type: ignore[union-attr]
    uuid = sim.play_call("in", "001", "+380671112233", ring_s=0.0, answer=False)
    await wait_until(lambda: sim.call(uuid)["state"] == "ended")
    await agent.online()
    row = await final_row(agent, uuid)
    assert row["source"] == "reconciled" and row["outcome"] == "no_answer"
    assert agent.popups == [], "no popups for what happened while away"


async def test_a_call_history_records_late_is_found_by_the_second_pass(
    agent_factory: AgentFactory, simulator: SimulatorInfo, sim: SimControl
) -> None:
    """B4: history trails the live stream, so the gap is fetched once more later."""
    handle = await agent_factory(
        simulator, team={"completed_talk_s": 0}, history_lag=timedelta(seconds=4)
    )
    await handle.online()
    phone = handle.agent.runtime.phone  # type: ignore[union-attr]
    sim.faults(ws_refuse=1000, history_lag_ms=3000)
    sim.drop()
    await wait_until(lambda: not phone.link_up, what="the link to drop")
    uuid = sim.play_call("in", "001", "+380671112244", ring_s=0.0, answer=False)
    await wait_until(lambda: sim.call(uuid)["state"] == "ended")
    sim.faults(ws_refuse=0)
    await handle.online()
    await wait_until(lambda: phone._late_due is not None, what="the first pass to finish")
    assert all(uuid_of(r) != uuid for r in sim.history()), "history was not late enough"
    assert all(r["uuid"] != uuid for r in await handle.journal()), "found before history had it"
    row = await final_row(handle, uuid)  # the second pass, 4 s after the first
    assert row["source"] == "reconciled" and row["outcome"] == "no_answer"
    assert handle.popups == []


async def test_garbage_frames_are_skipped_and_the_agent_keeps_working(
    agent: AgentHandle, sim: SimControl
) -> None:
    for frame in ("not json", "[1, 2]", {"event": "call.teleport", "uuid": "x"}, {"no": "uuid"}):
        assert sim.push("001", frame) == 1
    uuid = sim.play_call("in", "001", "+380442249895", ring_s=0.1, talk_s=1.0)
    await final_row(agent, uuid)
    assert agent.agent.runtime is not None
    assert agent.agent.runtime.stats.bad_frames >= 3
    assert len(agent.popups) == 3


async def test_a_wrong_api_key_gives_up_clearly_without_a_tight_loop(
    agent_factory: AgentFactory, simulator: SimulatorInfo, sim: SimControl
) -> None:
    handle = await agent_factory(simulator, api_key="W" * 32)
    assert handle.agent.live is not None

    await wait_until(lambda: handle.agent.live.stats.gave_up, what="the live link giving up")  # type: ignore[union-attr]
    await asyncio.sleep(0.5)
    attempts = [r for r in sim.requests() if r["method"] == "WS"]
    assert 1 <= len(attempts) <= 2, attempts
    status = await handle.status()
    assert status["connected"] is False and status["link"] == "offline"
    assert "W" * 32 not in "\n".join(handle.lines)


async def test_a_hundred_drops_and_expiries_lose_no_call_and_store_none_twice(
    agent: AgentHandle, sim: SimControl
) -> None:
    """The journal ends up equal to the PBX's history, field by field (B4)."""
    rng = random.Random(20261125)
    sim.add_user("002", "Петро Бондар", "petro@demo.ua")
    troubles = 0
    for _ in range(30):
        kind = rng.choice(["in", "in", "out", "internal"])
        number = "002" if kind == "internal" else f"+38067{rng.randrange(10**7):07d}"
        answer = rng.random() < 0.7
        sim.play_call(
            kind,
            "001",
            number,
            ring_s=rng.uniform(0, 0.3),
            answer=answer,
            talk_s=rng.uniform(0, 1.5) if answer else 0.0,
            disposition=None if answer else rng.choice([1, 2, 3, 4]),
        )
        for _ in range(rng.choice([2, 3, 4])):
            if troubles >= 100:
                break
            sim.drop() if rng.random() < 0.6 else sim.expire()
            troubles += 1
            await asyncio.sleep(rng.uniform(0.0, 0.15))
    while troubles < 100:
        sim.drop() if troubles % 2 else sim.expire()
        troubles += 1
        await asyncio.sleep(0.02)

    await wait_until(lambda: all(c["state"] == "ended" for c in sim.calls()), timeout=30)
    expected = {uuid_of(h): h for h in sim.history()}

    async def settled() -> bool:
        rows = await agent.journal()
        return {r["uuid"] for r in rows} == set(expected) and all(r["final"] for r in rows)

    await wait_until(settled, timeout=60, what="the journal to equal the PBX history")
    rows = await agent.journal()
    assert len(rows) == len(expected) == 30
    for row in rows:
        record = expected[row["uuid"]]
        assert row["talk_s"] == record["billSecs"]
        assert row["duration_s"] == record["duration"]
        assert row["disposition"] == record["disposition"]
