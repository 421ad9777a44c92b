"""What ``/api/status`` and the hub's ``status`` topic say at every moment (U3, B16;
contracts.md §4): the live link is ``connecting`` while the agent tries, ``offline``
with its reason when it stopped or gave up, ``online`` when back; and the dial list's
progress for the tray's tooltip."""

from __future__ import annotations

import asyncio
from typing import Any

from agent.dialer.progress import count_progress
from agent.hub import Message
from agent.simulator import SimControl, SimulatorInfo
from tests.dialer.support import add, dialer, dialer_agent, finished, ok
from tests.fixtures.postgres import *  # noqa: F403  (db_url: SQLite and PostgreSQL)
from tests.scenarios.conftest import AgentFactory, AgentHandle, wait_until


def ws_attempts(sim: SimControl) -> int:
    return sum(r["method"] == "WS" for r in sim.requests())


def links(queue: asyncio.Queue[Message]) -> list[str]:
    """The ``link`` of every ``status`` message published so far, repeats folded."""
    seen: list[str] = []
    while not queue.empty():
        message = queue.get_nowait()
        if message.topic == "status" and (not seen or seen[-1] != message.data["link"]):
            seen.append(message.data["link"])
    return seen


async def link_is(agent: AgentHandle, link: str) -> dict[str, Any]:
    status: dict[str, Any] = {}

    async def check() -> bool:
        status.update(await agent.status())
        return status["link"] == link

    await wait_until(check, what=f"/api/status saying {link}")
    return status


async def test_a_dropped_link_whose_reconnects_are_refused_says_connecting_until_back_u3(
    agent: AgentHandle, sim: SimControl
) -> None:
    async with agent.agent.hub.subscribe() as queue:
        sim.faults(ws_refuse=100_000)
        before = ws_attempts(sim)
        sim.drop()
        status = await link_is(agent, "connecting")
        assert status["connected"] is False

        # Refused again and again, waiting between attempts: connecting all along.
        await wait_until(lambda: ws_attempts(sim) >= before + 3, what="three refused attempts")
        status = await agent.status()
        assert (status["connected"], status["link"]) == (False, "connecting")
        assert agent.agent.link_status()[:2] == ("connecting", True)  # what the tray reads

        sim.faults(ws_refuse=0)
        await agent.online()
        status = await link_is(agent, "online")
        assert status["connected"] is True and status["link_reason"] is None
        told = links(queue)
    assert "offline" not in told, told
    assert told[told.index("connecting") :][-1] == "online", told


async def test_a_wrong_key_that_gave_up_is_offline_with_its_reason(
    agent_factory: AgentFactory, simulator: SimulatorInfo
) -> None:
    handle = await agent_factory(simulator, api_key="W" * 32)

    status = await link_is(handle, "offline")
    assert status["connected"] is False and status["link_reason"] == "API key refused"
    assert handle.agent.link_status() == ("offline", False, "API key refused")


async def test_disconnect_is_offline_and_connect_is_connecting_at_once_then_online_m3(
    agent: AgentHandle,
) -> None:
    response = await agent.api("POST", "/api/disconnect")
    assert response.status_code == 200, response.text
    status = await link_is(agent, "offline")
    assert status["link_reason"] == "disconnected by the operator"
    assert agent.agent.link_status()[1] is False

    response = await agent.api("POST", "/api/connect")
    assert response.status_code == 202, response.text
    assert response.json() == {"link": "connecting"}
    await link_is(agent, "online")


# ------------------------------------------------------------------ dial-list progress (B16)

A, B, C = "+380501110001", "+380501110002", "+380501110003"


async def test_the_dial_lists_progress_follows_outcomes_and_list_changes_b16(
    db_url: str, agent_factory: AgentFactory, simulator: SimulatorInfo, sim: SimControl
) -> None:
    # db_url first: its database outlives the agent the factory stops at teardown.
    agent = await dialer_agent(agent_factory, simulator, db_url=db_url)
    assert "progress" not in (await agent.status())["dialer"], "no list yet, nothing to count"
    await ok(
        agent, "POST", "/api/contacts", {"name": "Bond", "phones": [{"number": A}, {"number": B}]}
    )
    for number in (A, C):
        sim.script(number, answer=True, ring_s=0.1, talk_s=1.1)
    await add(agent, A, B, C)
    service = agent.agent.services.dialer

    async def progress_is(done: int, total: int) -> bool:
        status = await agent.status()
        return status["dialer"].get("progress") == {"done": done, "total": total}

    async with agent.agent.hub.subscribe() as queue:
        await ok(agent, "POST", "/api/dialer/start", {})
        await wait_until(lambda: progress_is(0, 3), what="the list counted once started")
        counts = service.progress.counts
        await finished(agent)
        await wait_until(lambda: progress_is(3, 3), what="everyone done")
        told = [
            m.data["dialer"]["progress"]["done"]
            for m in drain(queue)
            if m.topic == "status" and "progress" in m.data["dialer"]
        ]
    # A's answer finished its contact's other number too (U6): 0 -> 2 -> 3, and the
    # outcomes moved the figures without counting the list again.
    assert sorted(set(told)) == [0, 2, 3] and told == sorted(told), told
    assert service.progress.counts == counts
    storage, repo = agent.agent.storage, service.repo
    list_id = service.participant.core.list_id
    assert await storage.run(count_progress, repo, list_id, "001") == (3, 3)
    assert (await dialer(agent))["progress"] == {"done": 3, "total": 3}  # GET /api/dialer

    await add(agent, "+380501110004")  # a list change counts again
    await wait_until(lambda: progress_is(3, 4), what="the new number in the total")


async def test_reading_the_status_never_counts_the_list(
    agent_factory: AgentFactory, simulator: SimulatorInfo
) -> None:
    """The tray reads the status every second: the count is cached (B16)."""
    agent = await dialer_agent(agent_factory, simulator)
    await add(agent, A, B, C)
    await ok(agent, "POST", "/api/dialer/start", {})
    await ok(agent, "POST", "/api/dialer/stop", {})
    service = agent.agent.services.dialer
    progress = service.progress
    await wait_until(lambda: service.brief().get("progress") is not None, what="a first count")
    counts = progress.counts
    for _ in range(50):
        assert (await agent.status())["dialer"]["progress"]["total"] == 3
    assert progress.counts == counts


def drain(queue: asyncio.Queue[Message]) -> list[Message]:
    messages = []
    while not queue.empty():
        messages.append(queue.get_nowait())
    return messages
