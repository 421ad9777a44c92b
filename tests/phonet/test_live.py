"""phonet/live.py against the real simulator: frames in, reconnects per the core's rules.

phonet-api.md §3.3; features U3 (reconnect), B15 (connection health). Waits are on
conditions with a bound, never on timings.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import pytest

from agent.core.connection import LinkState
from agent.core.events import CallAnswered, CallDialed, CallHungUp, PauseSwitched
from agent.phonet.live import KEY_REFUSED, live_url, masked_url
from agent.phonet.wire import parse_live_frame
from agent.simulator import SimControl, SimulatorInfo

from .support import LiveRun, eventually, rest_for

StartLive = Callable[..., Awaitable[LiveRun]]
WRONG_KEY = "WrongKey0123456789WrongKey012345"


def ws_connects(sim: SimControl) -> list[dict[str, object]]:
    return [r for r in sim.requests() if r["method"] == "WS"]


def events(run: LiveRun) -> list[object]:
    out: list[object] = []
    for frame in run.frames:
        parsed = parse_live_frame(frame, own_ext="001")
        assert isinstance(parsed, list), parsed
        out += parsed
    return out


async def test_c3_the_frames_of_a_call_arrive_raw_and_parse_into_its_events(
    simulator: SimulatorInfo, sim: SimControl, start_live: StartLive
) -> None:
    run = await start_live(simulator)
    await run.online()
    uuid = sim.play_call("in", "001", "+380441234567", ring_s=0.01, talk_s=0.01)
    await eventually(lambda: len(run.frames) >= 3)
    kinds = [type(e) for e in events(run)]
    assert kinds == [CallDialed, CallAnswered, CallHungUp]
    assert {e.call.uuid for e in events(run)} == {uuid}  # type: ignore[attr-defined]
    assert all(isinstance(f, str) for f in run.frames)
    assert [c.state for c in run.changes] == [LinkState.ONLINE]
    assert run.stream.stats.last_event_at is not None


async def test_u4_a_pause_toggle_arrives_as_a_pause(
    simulator: SimulatorInfo, sim: SimControl, start_live: StartLive
) -> None:
    sim.add_user("001", "Олена", None, dnd_code="*8")
    run = await start_live(simulator)
    await run.online()
    async with rest_for(simulator) as rest:
        await rest.make_call("001", "*8")
    await eventually(lambda: any(isinstance(e, PauseSwitched) for e in events(run)))
    pause = next(e for e in events(run) if isinstance(e, PauseSwitched))
    assert (pause.ext, pause.on) == ("001", True)


async def test_nothing_is_ever_sent_to_the_pbx_and_the_url_follows_phonet_api(
    simulator: SimulatorInfo, sim: SimControl, start_live: StartLive
) -> None:
    run = await start_live(simulator)
    await run.online()
    (entry,) = ws_connects(sim)
    assert entry["path"] == "/live/connector/v3/easy"
    assert entry["query"] == "domain=sim.phonet.local&apiKey=***&subscriber=001"
    assert entry["body"] == ""


async def test_u3_an_abrupt_drop_is_reported_once_and_the_link_comes_back(
    simulator: SimulatorInfo, sim: SimControl, start_live: StartLive
) -> None:
    run = await start_live(simulator)
    await run.online()
    assert sim.drop() == 1
    await eventually(lambda: run.stream.stats.reconnects == 1)
    assert [(c.state, c.reason) for c in run.changes] == [
        (LinkState.ONLINE, None),
        (LinkState.OFFLINE, "connection lost"),
        (LinkState.ONLINE, None),
    ]
    assert len(ws_connects(sim)) == 2
    await eventually(lambda: len(sim.connections()) == 1)
    sim.play_call("out", "001", "+380441234567", ring_s=0.01, answer=False)
    await eventually(lambda: len(run.frames) >= 2)  # frames flow on the new connection


async def test_u3_refused_handshakes_are_retried_and_lost_and_back_said_once(
    simulator: SimulatorInfo, sim: SimControl, start_live: StartLive
) -> None:
    sim.faults(ws_refuse=3)
    run = await start_live(simulator)
    await run.online()
    statuses = [r.get("status") for r in ws_connects(sim)]
    assert statuses == [503, 503, 503, 101]
    assert [(c.state, c.reason) for c in run.changes] == [
        (LinkState.OFFLINE, "HTTP 503"),
        (LinkState.ONLINE, None),
    ]
    stats = run.stream.stats
    assert (stats.connects, stats.reconnects, stats.attempts_failed) == (1, 0, 0)


async def test_a_wrong_key_gives_up_after_one_check_not_in_a_loop(
    simulator: SimulatorInfo, sim: SimControl, start_live: StartLive
) -> None:
    async with rest_for(simulator, api_key=WRONG_KEY) as rest:
        run = await start_live(simulator, api_key=WRONG_KEY, check_key=rest.authorize)
        await asyncio.wait_for(run.task, timeout=5)  # run() returns when it gives up
    assert [r.get("status") for r in ws_connects(sim)] == [403]
    authorizes = [r for r in sim.requests() if r["path"] == "/rest/security/authorize"]
    assert [r["status"] for r in authorizes] == [403]
    final = run.changes[-1]
    assert final.gave_up and final.reason == KEY_REFUSED
    assert run.stream.state is LinkState.OFFLINE
    assert run.stream.stats.gave_up and run.stream.stats.reauthentications == 1


async def test_a_refused_handshake_with_a_key_that_checks_out_keeps_retrying(
    simulator: SimulatorInfo, sim: SimControl, start_live: StartLive
) -> None:
    checks: list[int] = []

    async def key_is_fine() -> None:  # REST accepts the key: the refusal was something else
        checks.append(1)

    run = await start_live(simulator, api_key=WRONG_KEY, check_key=key_is_fine)
    await eventually(lambda: len(checks) >= 3)
    assert not run.task.done()
    assert len(ws_connects(sim)) >= 3
    assert [c.reason for c in run.changes] == ["HTTP 403"]  # lost said once


async def test_the_connect_button_cuts_the_wait_short(
    simulator: SimulatorInfo, sim: SimControl, start_live: StartLive
) -> None:
    run = await start_live(simulator, reconnect_s=600.0, max_delay_s=600.0)
    await run.online()
    sim.drop()
    await eventually(lambda: run.stream.state is LinkState.OFFLINE)
    run.stream.reconnect_now()
    await eventually(lambda: run.stream.stats.reconnects == 1)


async def test_cancelling_closes_the_connection(
    simulator: SimulatorInfo, sim: SimControl, start_live: StartLive
) -> None:
    run = await start_live(simulator)
    await run.online()
    run.task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run.task
    assert run.stream.state is LinkState.OFFLINE
    await eventually(lambda: sim.connections() == [])


async def test_a_failing_on_frame_does_not_drop_the_link(
    simulator: SimulatorInfo, sim: SimControl, start_live: StartLive
) -> None:
    seen: list[str] = []

    def broken(frame: str) -> None:
        seen.append(frame)
        raise RuntimeError("a bug downstream")

    run = await start_live(simulator, on_frame=broken)
    await run.online()
    sim.push("001", "one")
    sim.push("001", "two")
    await eventually(lambda: seen == ["one", "two"])
    assert run.stream.state is LinkState.ONLINE


async def test_duplicated_frames_are_handed_over_as_they_come(
    simulator: SimulatorInfo, sim: SimControl, start_live: StartLive
) -> None:
    sim.faults(duplicate_events=True)
    run = await start_live(simulator)
    await run.online()
    sim.play_call("in", "001", "+380441234567", ring_s=0.01, answer=False)
    await eventually(lambda: len(run.frames) >= 4)
    assert run.frames[0] == run.frames[1]


async def test_the_live_stream_runs_over_tls_with_the_ca_file(
    tls_simulator: SimulatorInfo, tls_sim: SimControl, start_live: StartLive
) -> None:
    assert tls_simulator.ws_url.startswith("wss://")
    run = await start_live(tls_simulator)
    await run.online()
    tls_sim.push("001", {"event": "call.dial"})
    await eventually(lambda: run.frames)


async def test_tls_without_the_ca_is_retried_as_a_tls_error(
    tls_simulator: SimulatorInfo, start_live: StartLive
) -> None:
    run = await start_live(tls_simulator, ca_file=None)
    await eventually(lambda: run.changes)
    assert run.changes[0].reason is not None and run.changes[0].reason.startswith("TLS error")
    assert not run.task.done()


async def test_a_closed_port_is_retried_as_a_network_error(start_live: StartLive) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    info = SimulatorInfo(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", "d", "k" * 32, None)
    run = await start_live(info)
    await eventually(lambda: run.stream.stats.attempts_failed >= 2)
    assert run.changes[0].reason is not None and run.changes[0].reason.startswith("network")
    assert len(run.changes) == 1


async def test_the_key_never_reaches_the_log(
    simulator: SimulatorInfo,
    sim: SimControl,
    start_live: StartLive,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    run = await start_live(simulator)
    await run.online()
    sim.drop()
    await eventually(lambda: run.stream.stats.reconnects == 1)
    async with rest_for(simulator, api_key=WRONG_KEY) as rest:
        bad = await start_live(simulator, api_key=WRONG_KEY, check_key=rest.authorize)
        await asyncio.wait_for(bad.task, timeout=5)
    ours = [r for r in caplog.records if r.name.startswith("agent.phonet")]
    assert any(r.name == "agent.phonet.live.ws" for r in ours)  # websockets' debug, adapted
    text = "\n".join(r.getMessage() for r in ours)
    assert "live link lost" in text and "live link back" in text
    assert "live link stopped: API key refused" in text
    assert simulator.api_key not in text and WRONG_KEY not in text
    assert "apiKey=***" in text  # the request line, masked
    assert simulator.api_key not in caplog.text and WRONG_KEY not in caplog.text


def test_the_url_is_built_in_one_place_and_masked_for_logs() -> None:
    url = live_url(
        "wss://acme.phonet.com.ua", domain="acme.phonet.com.ua", api_key="K3Y", ext="007"
    )
    assert url == (
        "wss://acme.phonet.com.ua/live/connector/v3/easy"
        "?domain=acme.phonet.com.ua&apiKey=K3Y&subscriber=007"
    )
    assert "K3Y" not in masked_url(url)
