"""An agent in-process, wired to the real simulator over real sockets on 127.0.0.1.

``agent`` starts one (headless: popups are collected as console lines) and gives
an :class:`AgentHandle` to talk to it over its real local API.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.app import Agent, AgentOptions
from agent.core.phone import CHECKPOINT_LAG
from agent.paths import DataDir
from agent.simulator import SimulatorInfo

# Fast but real: reconnects after 50 ms, backoff capped at 0.2 s.
FAST_OPERATOR = {"reconnect_s": 0.05, "reconnect_max_s": 0.2}
TIMEOUT_S = 10.0


@dataclass
class AgentHandle:
    agent: Agent
    lines: list[str] = field(default_factory=list)

    @property
    def popups(self) -> list[str]:
        return [line for line in self.lines if line.startswith("popup ")]

    async def api(self, method: str, path: str, body: Any = None) -> httpx.Response:
        assert self.agent.api is not None
        async with httpx.AsyncClient(base_url=self.agent.api.url) as client:
            return await client.request(
                method, path, json=body, headers={"Authorization": f"Bearer {self.agent.api.token}"}
            )

    async def journal(self, scope: str = "mine") -> list[dict[str, Any]]:
        response = await self.api("GET", f"/api/journal?limit=500&scope={scope}")
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    async def status(self) -> dict[str, Any]:
        response = await self.api("GET", "/api/status")
        assert response.status_code == 200
        body: dict[str, Any] = response.json()
        return body

    async def online(self) -> None:
        await wait_until(
            lambda: self.agent.runtime is not None and self.agent.runtime.phone.link_up
        )


async def wait_until(
    condition: Callable[[], bool | Awaitable[bool]], timeout: float = TIMEOUT_S, what: str = ""
) -> None:
    """Wait on a condition, never on a fixed sleep (architecture.md, rule 9)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = condition()
        if asyncio.iscoroutine(result) or isinstance(result, Awaitable):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await asyncio.sleep(0.02)


AgentFactory = Callable[..., Awaitable[AgentHandle]]


@pytest.fixture
async def agent_factory(tmp_path: Path) -> AsyncIterator[AgentFactory]:
    started: list[Agent] = []

    async def start(
        info: SimulatorInfo,
        *,
        api_key: str | None = None,
        ext: str = "001",
        db_url: str | None = None,
        team: dict[str, Any] | None = None,
        operator: dict[str, Any] | None = None,
        data_dir: Path | None = None,
        history_lag: timedelta = CHECKPOINT_LAG,
    ) -> AgentHandle:
        handle_lines: list[str] = []
        agent = Agent(
            AgentOptions(
                data_dir=DataDir(data_dir or tmp_path / f"agent-{len(started)}").ensure(),
                domain=info.domain,
                ext=ext,
                api_key=api_key or info.api_key,
                db_url=db_url,
                base_url=info.base_url,
                ca_file=info.ca_file,
                headless=True,
                team_overrides=team or {},
                operator_overrides={**FAST_OPERATOR, **(operator or {})},
                banner=handle_lines.append,
                history_lag=history_lag,
            )
        )
        await agent.start()
        started.append(agent)
        return AgentHandle(agent, handle_lines)

    yield start
    for agent in reversed(started):
        await agent.stop()


@pytest.fixture
async def agent(agent_factory: AgentFactory, simulator: SimulatorInfo) -> AgentHandle:
    handle = await agent_factory(simulator, team={"completed_talk_s": 0})
    await handle.online()
    return handle
