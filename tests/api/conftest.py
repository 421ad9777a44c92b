"""Fixtures for the local API's tests: the in-process agent wired to the real simulator
(tests/scenarios/conftest.py), with its secret store swapped for an in-memory one so
no test touches the machine's keyring (the desktop tests use a real gnome-keyring).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import websockets

from agent.secrets import SecretName
from agent.simulator import SimulatorInfo
from tests.fixtures.postgres import *  # noqa: F403
from tests.scenarios.conftest import AgentFactory, AgentHandle, agent_factory

__all__ = ["MemorySecrets", "agent_factory"]


@dataclass
class MemorySecrets:
    """The :class:`agent.secrets.Secrets` surface the API uses, kept in a dict."""

    values: dict[str, str] = field(default_factory=dict)
    writes: list[tuple[str, str | None]] = field(default_factory=list)

    def get(self, name: SecretName) -> str | None:
        return self.values.get(name.user)

    def set(self, name: SecretName, value: str) -> None:
        self.values[name.user] = value
        self.writes.append((name.user, value))

    def delete(self, name: SecretName) -> None:
        self.values.pop(name.user, None)
        self.writes.append((name.user, None))

    def has(self, name: SecretName) -> bool:
        return name.user in self.values


@dataclass
class Api:
    """An agent with its URL, token and in-memory secrets, for API tests."""

    handle: AgentHandle
    secrets: MemorySecrets

    @property
    def url(self) -> str:
        assert self.handle.agent.api is not None
        return self.handle.agent.api.url

    @property
    def token(self) -> str:
        assert self.handle.agent.api is not None
        return self.handle.agent.api.token

    @property
    def port(self) -> int:
        assert self.handle.agent.api is not None
        return self.handle.agent.api.port

    @property
    def services(self) -> Any:
        return self.handle.agent.services

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return httpx.AsyncClient(base_url=self.url, headers=headers, **kwargs)

    async def get(self, path: str, **params: Any) -> httpx.Response:
        async with self.client() as client:
            return await client.get(path, params=params)

    async def put(self, path: str, body: Any) -> httpx.Response:
        async with self.client() as client:
            return await client.put(path, json=body)

    async def post(self, path: str, body: Any = None) -> httpx.Response:
        async with self.client() as client:
            return await client.post(path, json=body)

    def live(self, token: str | None = None, **kwargs: Any) -> Any:
        port = self.port
        return websockets.connect(
            f"ws://127.0.0.1:{port}/api/live?token={token or self.token}",
            proxy=None,
            **kwargs,
        )


async def start_api(factory: AgentFactory, info: SimulatorInfo, **options: Any) -> Api:
    handle = await factory(info, **options)
    secrets = MemorySecrets()
    handle.agent.services.secrets = secrets
    return Api(handle, secrets)


@pytest.fixture
async def api(agent_factory: AgentFactory, simulator: SimulatorInfo) -> AsyncIterator[Api]:
    started = await start_api(agent_factory, simulator, team={"completed_talk_s": 0})
    await started.handle.online()
    yield started
