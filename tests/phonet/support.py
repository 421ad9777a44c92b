"""Helpers of the PBX client tests (fixtures are in conftest.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from agent.core.connection import LinkChange
from agent.phonet.live import LiveStream
from agent.phonet.rest import PhonetRest
from agent.simulator import SimulatorInfo

T = TypeVar("T")
TIMEOUT_S = 5.0  # a bound on waiting for a condition, never a measured timing


async def eventually(predicate: Callable[[], T], timeout: float = TIMEOUT_S) -> T:
    """Poll ``predicate`` on the loop until it is truthy; fail naming it after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if loop.time() >= deadline:
            raise AssertionError(f"condition not met within {timeout} s: {predicate!r}")
        await asyncio.sleep(0.01)


def rest_for(info: SimulatorInfo, **overrides: Any) -> PhonetRest:
    options: dict[str, Any] = {
        "domain": info.domain,
        "api_key": info.api_key,
        "base_url": info.base_url,
        "ca_file": info.ca_file,
    }
    options.update(overrides)
    return PhonetRest(**options)


@dataclass
class LiveRun:
    """A LiveStream running as a task, with everything it handed over."""

    stream: LiveStream
    task: asyncio.Task[None]
    frames: list[str] = field(default_factory=list)
    changes: list[LinkChange] = field(default_factory=list)

    async def online(self) -> None:
        await eventually(lambda: self.stream.state == "online")
