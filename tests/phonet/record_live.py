"""Record live-stream transcripts from the simulator into tests/fixtures/live/*.jsonl.

architecture.md rule 10 ("record the wire, replay the wire"): each line of a transcript
is one text frame exactly as it came off the WebSocket; ``test_live_replay.py`` feeds
them through the wire. Re-record after a simulator change with

    PYTHONPATH=. .venv/bin/python tests/phonet/record_live.py

Recorded with our own LiveStream, as the agent receives them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from agent.phonet.live import LiveStream
from agent.phonet.rest import PhonetRest
from agent.simulator import SimControl, SimulatorInfo, SimulatorOptions, SimulatorThread

OUT = Path(__file__).resolve().parents[1] / "fixtures" / "live"


async def record(
    info: SimulatorInfo, name: str, subscribers: list[str], play: Callable[[], object], n: int
) -> None:
    """Connect ``subscribers``, ``play`` the scenario, write the first ``n`` frames of each."""
    streams = {}
    got: dict[str, list[str]] = {s: [] for s in subscribers}
    tasks = []
    for ext in subscribers:
        stream = LiveStream(
            domain=info.domain,
            api_key=info.api_key,
            ext=ext,
            ws_base_url=info.ws_url,
            on_frame=got[ext].append,
            on_link=lambda change: None,
        )
        streams[ext] = stream
        tasks.append(asyncio.create_task(stream.run()))
    while any(s.state != "online" for s in streams.values()):
        await asyncio.sleep(0.01)
    result = play()
    if asyncio.iscoroutine(result):
        await result
    deadline = time.monotonic() + 10
    while any(len(frames) < n for frames in got.values()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name}: {[len(f) for f in got.values()]} frames, wanted {n}")
        await asyncio.sleep(0.01)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for ext, frames in got.items():
        suffix = f".{ext}" if len(subscribers) > 1 else ""
        lines = frames[:n]
        assert all("\n" not in line for line in lines)
        (OUT / f"{name}{suffix}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"{name}{suffix}.jsonl: {len(lines)} frames")


async def scenarios(info: SimulatorInfo, sim: SimControl, seconds: bool) -> None:
    if seconds:
        await record(
            info,
            "incoming-answered-seconds",
            ["001"],
            lambda: sim.play_call("in", "001", "+380441234567", ring_s=0.05, talk_s=1.1),
            3,
        )
        return
    sim.add_user("001", "Олена Петренко", "olena@sim.phonet.local", dnd_code="*8")
    sim.add_user("002", "Іван Коваль", "ivan@sim.phonet.local")
    await record(
        info,
        "incoming-answered",
        ["001"],
        lambda: sim.play_call(
            "in", "001", "+380441234567", ring_s=0.05, talk_s=1.1, name="Анна", company="ТОВ Рога"
        ),
        3,
    )
    await record(
        info,
        "outgoing-busy",
        ["001"],
        lambda: sim.play_call(
            "out", "001", "+380501112233", ring_s=0.05, answer=False, disposition=4
        ),
        2,
    )
    await record(
        info,
        "internal",
        ["001", "002"],
        lambda: sim.play_call("internal", "001", "002", ring_s=0.05, talk_s=0.05),
        3,
    )

    async def pause_on_and_off() -> None:
        async with PhonetRest(
            domain=info.domain, api_key=info.api_key, base_url=info.base_url
        ) as rest:
            await rest.make_call("001", "*8")
            await asyncio.sleep(0.2)
            await rest.make_call("001", "*8")

    await record(info, "pause", ["001"], pause_on_and_off, 2)

    async def click_to_call() -> None:
        sim.script("+380931234567", answer=True, ring_s=0.05, talk_s=0.05)
        async with PhonetRest(
            domain=info.domain, api_key=info.api_key, base_url=info.base_url
        ) as rest:
            await rest.make_call("001", "+380931234567")

    await record(info, "make-call", ["001"], click_to_call, 3)
    sim.faults(duplicate_events=True)
    await record(
        info,
        "duplicated",
        ["001"],
        lambda: sim.play_call("in", "001", "+380441234567", ring_s=0.05, answer=False),
        4,
    )


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for seconds in (False, True):
        options = SimulatorOptions(seconds=seconds, operator_answer_s=0.05)
        with SimulatorThread(options) as info, SimControl(info.base_url) as sim:
            asyncio.run(scenarios(info, sim, seconds))


if __name__ == "__main__":
    main()
