"""``phonet-agent demo``: the simulator and the agent wired to it, with a scripted
stream of calls so a newcomer sees popups within seconds (contracts.md §2).

A fresh temporary data dir unless ``--data-dir``; never touches the keyring (the
API key is the simulator's and is handed over in memory).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from agent.app import Agent, AgentOptions
from agent.logs import setup_logging
from agent.paths import DataDir
from agent.simulator import SimulatorInfo, SimulatorOptions, serve_simulator

log = logging.getLogger(__name__)

OPERATOR = {
    "ext": "001",
    "displayName": "Олена Коваль",
    "email": "olena@demo.ua",
    "dnd_code": "*78",
}
COLLEAGUE = {"ext": "002", "displayName": "Петро Бондар", "email": "petro@demo.ua"}


@dataclass(frozen=True)
class DemoCall:
    """One scripted call: what the demo does and what the journal should then say."""

    title: str
    kind: str  # "in" | "out" | "internal"
    number: str
    answer: bool
    ring_s: float
    talk_s: float
    disposition: int | None = None


SCRIPT = (
    DemoCall("incoming, answered", "in", "+380442249895", True, 1.5, 12.0),
    DemoCall("outgoing, answered", "out", "+380501234567", True, 1.5, 11.0),
    DemoCall("incoming, missed", "in", "+380671112233", False, 3.0, 0.0),
    DemoCall("outgoing, busy", "out", "+380931234567", False, 1.0, 0.0, disposition=4),
    DemoCall("internal", "internal", "002", True, 1.0, 4.0),
)


class DemoScript:
    """Plays SCRIPT against the simulator's control API and the agent's own dial."""

    def __init__(self, info: SimulatorInfo, dial: Callable[[str], Awaitable[str]]) -> None:
        self.info = info
        self.dial = dial
        self.client = httpx.AsyncClient(base_url=info.base_url, verify=info.ca_file or True)

    async def prepare(self) -> None:
        for user in (OPERATOR, COLLEAGUE):
            await self._post("/_sim/users", user)
        for call in SCRIPT:
            if call.kind == "out":
                await self._post(
                    "/_sim/script",
                    {
                        "number": call.number,
                        "answer": call.answer,
                        "ring_s": call.ring_s,
                        "talk_s": call.talk_s,
                        "disposition": call.disposition,
                    },
                )

    async def play_once(self) -> list[str]:
        uuids = []
        for call in SCRIPT:
            log.info("demo: %s", call.title)
            if call.kind == "out":
                uuid = await self.dial(call.number)
            else:
                body = {
                    "direction": call.kind,
                    "ext": "001",
                    "number": call.number,
                    "ring_s": call.ring_s,
                    "answer": call.answer,
                    "talk_s": call.talk_s,
                    "disposition": call.disposition,
                }
                uuid = str((await self._post("/_sim/calls", body))["uuid"])
            uuids.append(uuid)
            await self._until_ended(uuid)
            await asyncio.sleep(1.0)  # a breath between calls, so popups can be read
        return uuids

    async def _until_ended(self, uuid: str, timeout_s: float = 60.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while asyncio.get_running_loop().time() < deadline:
            response = await self.client.get(f"/_sim/calls/{uuid}")
            if response.status_code == 200 and _state(response.json()) == "ended":
                return
            await asyncio.sleep(0.2)

    async def _post(self, path: str, body: object) -> dict[str, object]:
        response = await self.client.post(path, json=body)
        response.raise_for_status()
        payload = response.json() if response.content else {}
        return payload if isinstance(payload, dict) else {}

    async def aclose(self) -> None:
        await self.client.aclose()


def _state(payload: dict[str, object]) -> object:
    items = payload.get("items")
    if isinstance(items, list) and items:
        return items[0].get("state")
    return payload.get("state")


async def _demo(data_dir: DataDir, cycle_s: float, once: bool) -> int:
    started: asyncio.Future[SimulatorInfo] = asyncio.get_running_loop().create_future()
    simulator = asyncio.create_task(
        serve_simulator(SimulatorOptions(operator_answer_s=0.5), started.set_result)
    )
    info = await started
    print(f"simulator: {info.base_url} (domain {info.domain})", flush=True)
    agent = Agent(
        AgentOptions(
            data_dir=data_dir,
            domain=info.domain,
            ext="001",
            api_key=info.api_key,
            base_url=info.base_url,
            ca_file=info.ca_file,
            headless=True,
        )
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    script: DemoScript | None = None
    try:
        await agent.start()
        assert agent.runtime is not None
        script = DemoScript(info, agent.runtime.dial)
        await script.prepare()
        await _wait_online(agent)
        while not stop.is_set():
            began = loop.time()
            await script.play_once()
            if once:
                await asyncio.sleep(2.0)  # let the journal take the PBX's figures
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(cycle_s - (loop.time() - began), 1.0))
    finally:
        if script is not None:
            await script.aclose()
        await agent.stop()
        simulator.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await simulator
    return 0


async def _wait_online(agent: Agent, timeout_s: float = 10.0) -> None:
    assert agent.runtime is not None
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(agent.runtime.online.wait(), timeout_s)


def run_demo(*, data_dir: str | None, cycle_s: float, once: bool, verbose: bool) -> int:
    with contextlib.ExitStack() as stack:
        root = data_dir or stack.enter_context(tempfile.TemporaryDirectory(prefix="phonet-demo-"))
        dirs = DataDir.resolve(Path(root)).ensure()
        setup_logging(dirs.log_file, verbose=verbose)
        print(f"demo data dir: {dirs.root}", flush=True)
        try:
            code = asyncio.run(_demo(dirs, cycle_s, once))
        except KeyboardInterrupt:
            code = 0
    return code
