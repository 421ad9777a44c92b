"""Fixtures of the PBX client tests: clients pointed at the real simulator (contracts.md §3)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from agent.core.connection import LinkChange
from agent.phonet.live import LiveStream
from agent.phonet.rest import PhonetRest
from agent.simulator import SimulatorInfo

from .support import LiveRun, rest_for


@pytest.fixture
async def rest(simulator: SimulatorInfo) -> AsyncIterator[PhonetRest]:
    async with rest_for(simulator) as client:
        yield client


@pytest.fixture
async def start_live() -> AsyncIterator[Callable[..., Awaitable[LiveRun]]]:
    """``await start_live(info, **LiveStream options)``; every run is cancelled afterwards."""
    runs: list[LiveRun] = []

    async def start(info: SimulatorInfo, **overrides: Any) -> LiveRun:
        frames: list[str] = []
        changes: list[LinkChange] = []
        options: dict[str, Any] = {
            "domain": info.domain,
            "api_key": info.api_key,
            "ext": "001",
            "ws_base_url": info.ws_url,
            "ca_file": info.ca_file,
            "reconnect_s": 0.05,
            "max_delay_s": 0.2,
            "on_frame": frames.append,
            "on_link": changes.append,
        }
        options.update(overrides)
        stream = LiveStream(**options)
        run = LiveRun(stream, asyncio.create_task(stream.run()), frames, changes)
        runs.append(run)
        return run

    yield start
    for run in runs:
        run.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run.task
