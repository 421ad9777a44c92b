"""Live updates inside the agent: publish once, every open page hears it (M2, B9).

The runtime and the services publish small JSON-able messages by topic (``status``,
``popup``, ``dialer``, ``job``, ``open``…); the local API's live channel forwards
them to the web UI. Lives on the agent's loop; a slow subscriber drops its oldest
messages rather than slowing the agent down.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

QUEUE_SIZE = 256


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    data: Any


@dataclass
class Hub:
    _queues: set[asyncio.Queue[Message]] = field(default_factory=set)

    def publish(self, topic: str, data: Any = None) -> None:
        """Non-blocking; call from the agent's loop thread only."""
        message = Message(topic, data)
        for queue in list(self._queues):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(message)

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[Message]]:
        queue: asyncio.Queue[Message] = asyncio.Queue(QUEUE_SIZE)
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)

    @property
    def subscribers(self) -> int:
        return len(self._queues)
