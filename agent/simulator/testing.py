"""Helpers for tests that talk to the simulator as an agent would (architecture.md rule 10).

Shipped with the simulator so every test suite shares them: a live-stream client
that reads frames with a timeout, the login dance of phonet-api.md §1, and the
type aliases of the fixtures in ``tests/conftest.py``.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from agent.simulator.client import SimControl
from agent.simulator.options import SimulatorInfo

TIMEOUT_S = 5.0  # generous: a wait on a condition, never a measured timing
MARKER = {"event": "test.marker"}


def live_url(info: SimulatorInfo, ext: str, **override: str) -> str:
    """The live URL of phonet-api.md §3.3 for ``ext``; ``override`` replaces parameters."""
    params = {"domain": info.domain, "apiKey": info.api_key, "subscriber": ext}
    params.update(override)
    return f"{info.ws_url}?{urlencode(params)}"


def ssl_context(info: SimulatorInfo) -> ssl.SSLContext | None:
    """A context trusting the simulator's CA (None without ``--tls``)."""
    if info.ca_file is None:
        return None
    return ssl.create_default_context(cafile=info.ca_file)


def authorize(client: httpx.Client, info: SimulatorInfo) -> str:
    """Log in; return ``JSESSIONID=…`` from the first Set-Cookie (phonet-api.md §1.2)."""
    response = client.post(
        "/rest/security/authorize", json={"domain": info.domain, "apiKey": info.api_key}
    )
    response.raise_for_status()
    return response.headers.get_list("set-cookie")[0].split(";", 1)[0]


async def handshake_status(info: SimulatorInfo, ext: str, **override: str) -> int:
    """The live handshake's HTTP status: 101 when it opened (then closed at once)."""
    try:
        ws = await connect(
            live_url(info, ext, **override), ssl=ssl_context(info), open_timeout=TIMEOUT_S
        )
    except InvalidStatus as exc:
        return exc.response.status_code
    await ws.close()
    return 101


class LiveClient:
    """One live-stream connection, read frame by frame with a timeout."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    @classmethod
    async def open(cls, info: SimulatorInfo, ext: str) -> LiveClient:
        ws = await connect(live_url(info, ext), ssl=ssl_context(info), open_timeout=TIMEOUT_S)
        return cls(ws)

    async def close(self) -> None:
        await self.ws.close()

    async def text(self, timeout: float = TIMEOUT_S) -> str | bytes:
        return await asyncio.wait_for(self.ws.recv(), timeout)

    async def frame(self, timeout: float = TIMEOUT_S) -> Any:
        return json.loads(await self.text(timeout))

    async def frames_until(self, event: str, lg_direction: int | None = None) -> list[Any]:
        """Frames up to and including the first ``event`` (with that lgDirection)."""
        frames = []
        while True:
            frame = await self.frame()
            frames.append(frame)
            if frame.get("event") == event and lg_direction in (None, frame.get("lgDirection")):
                return frames

    async def rest_until_marker(self, sim: SimControl, ext: str) -> list[Any]:
        """Every frame queued for this connection before now.

        A pushed marker frame queues behind them (one ordered outbox per
        connection), so this proves "no more frames" without waiting on a clock.
        """
        if sim.push(ext, MARKER) < 1:
            raise AssertionError(f"no live connection of {ext} to push a marker to")
        frames = []
        while (frame := await self.frame()) != MARKER:
            frames.append(frame)
        return frames


# The fixtures of tests/conftest.py, typed.
LiveOpener = Callable[..., Awaitable[LiveClient]]
SimulatorFactory = Callable[..., SimulatorInfo]
HandshakeStatus = Callable[..., Awaitable[int]]
