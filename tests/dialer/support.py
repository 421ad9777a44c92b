"""Helpers for auto-dial scenarios: an in-process agent wired to the real simulator."""

from __future__ import annotations

import json
from typing import Any

from agent.simulator import SimControl, SimulatorInfo
from tests.scenarios.conftest import AgentFactory, AgentHandle, wait_until

# Fast but real: the U5 pause is 50 ms; no calling window unless a test sets one.
TEAM: dict[str, Any] = {"completed_talk_s": 0, "calling_window": None}
OPERATOR: dict[str, Any] = {"dial_pause_s": 0.05}
TIMEOUT_S = 20.0


async def dialer_agent(
    agent_factory: AgentFactory,
    simulator: SimulatorInfo,
    *,
    team: dict[str, Any] | None = None,
    operator: dict[str, Any] | None = None,
    **options: Any,
) -> AgentHandle:
    handle = await agent_factory(
        simulator, team={**TEAM, **(team or {})}, operator={**OPERATOR, **(operator or {})},
        **options,
    )  # fmt: skip
    await handle.online()
    return handle


async def ok(handle: AgentHandle, method: str, path: str, body: Any = None) -> Any:
    response = await handle.api(method, path, body)
    assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
    return response.json()


async def add(handle: AgentHandle, *numbers: str, list_id: int | None = None) -> dict[str, Any]:
    path = "/api/dial-list" + (f"?list={list_id}" if list_id else "")
    result: dict[str, Any] = await ok(
        handle, "POST", path, {"entries": [{"number": n} for n in numbers]}
    )
    return result


async def entries(handle: AgentHandle, list_id: int | None = None) -> list[dict[str, Any]]:
    path = "/api/dial-list?limit=500" + (f"&list={list_id}" if list_id else "")
    items: list[dict[str, Any]] = (await ok(handle, "GET", path))["items"]
    return items


async def by_number(handle: AgentHandle) -> dict[str, dict[str, Any]]:
    return {e["number"]: e for e in await entries(handle)}


async def dialer(handle: AgentHandle) -> dict[str, Any]:
    view: dict[str, Any] = await ok(handle, "GET", "/api/dialer")
    return view


async def wait_dialer(handle: AgentHandle, what: str, **expected: Any) -> dict[str, Any]:
    """Wait until the dialer's view has these values."""
    seen: dict[str, Any] = {}

    async def matches() -> bool:
        seen.update(await dialer(handle))
        return all(seen.get(k) == v for k, v in expected.items())

    try:
        await wait_until(matches, TIMEOUT_S, what=what)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the dialer last said {seen}") from None
    return seen


async def wait_entry(
    handle: AgentHandle, number: str, what: str, **expected: Any
) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def matches() -> bool:
        seen.clear()
        seen.update((await by_number(handle)).get(number, {}))
        return all(seen.get(k) == v for k, v in expected.items())

    try:
        await wait_until(matches, TIMEOUT_S, what=what)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the entry last was {seen}") from None
    return seen


async def finished(handle: AgentHandle) -> dict[str, Any]:
    return await wait_dialer(handle, "the list is done", state="idle", finished=True)


def make_calls(sim: SimControl) -> list[str]:
    """The numbers makeCall was asked to dial, in order."""
    return [
        json.loads(r["body"])["otherLegNum"]
        for r in sim.requests()
        if r["method"] == "POST" and r["path"].startswith("/rest/user/makeCall")
    ]


def make_call_times(sim: SimControl, number: str) -> list[float]:
    return [
        float(r["at"])
        for r in sim.requests()
        if r["path"].startswith("/rest/user/makeCall") and number in (r["body"] or "")
    ]
