"""Running the simulator: on the caller's loop (the demo) or in a thread (tests, tools)."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from agent.simulator import SimulatorInfo, SimulatorOptions, SimulatorThread, serve_simulator
from agent.simulator.testing import TIMEOUT_S, LiveClient


async def test_serve_simulator_runs_on_the_callers_loop_until_cancelled() -> None:
    started: asyncio.Future[SimulatorInfo] = asyncio.get_running_loop().create_future()
    options = SimulatorOptions(api_key="k" * 32, domain="demo.sim")
    task = asyncio.create_task(serve_simulator(options, started.set_result))
    info = await asyncio.wait_for(started, TIMEOUT_S)
    assert (info.api_key, info.domain, info.ca_file) == ("k" * 32, "demo.sim", None)
    assert json.loads(info.banner())["base_url"] == info.base_url
    async with httpx.AsyncClient(base_url=info.base_url) as client:
        assert (await client.get("/_sim/calls")).status_code == 200
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with httpx.AsyncClient(base_url=info.base_url) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("/_sim/calls")


async def test_stopping_the_simulator_closes_live_connections() -> None:
    thread = SimulatorThread()
    with thread as info:
        stream = await LiveClient.open(info, "001")
    with pytest.raises(ConnectionClosed):
        await stream.frame()


def test_a_thread_reports_its_banner_and_refuses_a_second_start() -> None:
    thread = SimulatorThread(SimulatorOptions(api_key="abc"))
    info = thread.start()
    try:
        assert thread.info == info and info.api_key == "abc"
        with pytest.raises(RuntimeError):
            thread.start()
    finally:
        thread.stop()
    thread.stop()  # stopping twice is harmless
    again = thread.start()  # and it starts again, on a new port
    assert again is not info and thread.info is again
    thread.stop()


def test_a_thread_that_cannot_bind_says_so() -> None:
    with SimulatorThread() as info:
        port = int(info.base_url.rsplit(":", 1)[1])
        with pytest.raises(RuntimeError) as caught:
            SimulatorThread(SimulatorOptions(port=port)).start()
    assert isinstance(caught.value.__cause__, OSError)
