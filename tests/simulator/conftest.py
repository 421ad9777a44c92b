"""Clients of the simulator's PBX side, as an agent would use them (phonet-api.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from agent.simulator import SimulatorInfo
from agent.simulator.testing import (
    TIMEOUT_S,
    HandshakeStatus,
    LiveClient,
    LiveOpener,
    authorize,
    handshake_status,
)


@pytest.fixture
def rest(simulator: SimulatorInfo) -> Iterator[httpx.Client]:
    """An httpx client holding a live JSESSIONID."""
    # verify=False: plain HTTP, and it skips loading the CA bundle (~70 ms a client).
    with httpx.Client(base_url=simulator.base_url, timeout=TIMEOUT_S, verify=False) as client:
        cookie = authorize(client, simulator)
        client.cookies.clear()
        client.headers["Cookie"] = cookie
        yield client


@pytest.fixture
def anonymous(simulator: SimulatorInfo) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=simulator.base_url, timeout=TIMEOUT_S, verify=False) as client:
        yield client


@pytest.fixture
async def live(simulator: SimulatorInfo) -> AsyncIterator[LiveOpener]:
    """``await live("001")`` (or ``live("001", other_info)``): closed after the test."""
    opened: list[LiveClient] = []

    async def open_live(ext: str, info: SimulatorInfo = simulator) -> LiveClient:
        client = await LiveClient.open(info, ext)
        opened.append(client)
        return client

    yield open_live
    for client in opened:
        await client.close()


@pytest.fixture
def handshake(simulator: SimulatorInfo) -> HandshakeStatus:
    """``await handshake("001", apiKey="wrong")``: the handshake's HTTP status (101: open)."""

    async def attempt(ext: str, **override: str) -> int:
        return await handshake_status(simulator, ext, **override)

    return attempt
