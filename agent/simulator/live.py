"""The live stream: ``/live/connector/v3/easy?domain&apiKey&subscriber``.

phonet-api.md §3.3: authentication is the query string alone; the client never
sends anything; messages are server→client JSON text frames of the webhook shape.
Whether a connection gets only its subscriber's calls is unknown; the simulator
sends a call to the subscribers whose extension is a leg of it (contracts.md §3).
A wrong key, a wrong domain or a missing parameter is refused at the handshake
with 403 (how the real PBX refuses is unknown, §8); a ``ws_refuse`` fault answers
the handshake with 503 instead, so a client can tell "try again" from "wrong key".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import PlainTextResponse
from starlette.websockets import WebSocket, WebSocketDisconnect

from agent.simulator.state import SimState

log = logging.getLogger(__name__)


@dataclass(eq=False, slots=True)
class LiveConnection:
    subscriber: str
    since: float
    queue: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    open: bool = True


class Hub:
    """The open live connections, each with an ordered outbox."""

    def __init__(self) -> None:
        self._connections: list[LiveConnection] = []

    def add(self, subscriber: str, now: float) -> LiveConnection:
        connection = LiveConnection(subscriber, now)
        self._connections.append(connection)
        return connection

    def remove(self, connection: LiveConnection) -> None:
        """Forget a connection; frames still queued for it count as done."""
        connection.open = False
        if connection in self._connections:
            self._connections.remove(connection)
        while not connection.queue.empty():
            connection.queue.get_nowait()
            connection.queue.task_done()

    def forget_all(self) -> None:
        for connection in list(self._connections):
            self.remove(connection)

    def send(self, subscribers: Iterable[str], text: str, copies: int = 1) -> int:
        """Queue ``text`` for every connection of ``subscribers``; how many got it."""
        wanted = set(subscribers)
        delivered = 0
        for connection in self._connections:
            if connection.subscriber in wanted:
                for _ in range(copies):
                    connection.queue.put_nowait(text)
                delivered += 1
        return delivered

    async def drain(self, timeout: float = 2.0) -> None:
        """Wait until every queued frame was written (or ``timeout`` passed)."""
        joins = [c.queue.join() for c in self._connections]
        if joins:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*joins), timeout)

    def listing(self) -> list[dict[str, Any]]:
        return [{"subscriber": c.subscriber, "since": c.since} for c in self._connections]


async def _pump(websocket: WebSocket, connection: LiveConnection) -> None:
    while connection.open:
        text = await connection.queue.get()
        try:
            await websocket.send_text(text)
        except (WebSocketDisconnect, RuntimeError, OSError):
            # The peer went away; the reader loop sees the disconnect and cleans up.
            connection.open = False
        finally:
            connection.queue.task_done()


async def live_endpoint(websocket: WebSocket, state: SimState, hub: Hub) -> None:
    params = websocket.query_params
    if state.faults.take_ws_refuse():
        log.info("live connect refused by a ws_refuse fault")
        await websocket.send_denial_response(PlainTextResponse("Service Unavailable", 503))
        return
    subscriber = params.get("subscriber")
    if (
        params.get("domain") != state.style.domain
        or params.get("apiKey") != state.api_key
        or not subscriber
    ):
        log.info("live connect refused: wrong domain, key or subscriber")
        await websocket.close()  # before accept: uvicorn answers the handshake with 403
        return
    await websocket.accept()
    connection = hub.add(subscriber, time.time())
    log.info("live connect: subscriber %s", subscriber)
    writer = asyncio.create_task(_pump(websocket, connection))
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
    finally:
        writer.cancel()
        hub.remove(connection)
        log.info("live disconnect: subscriber %s", subscriber)
