"""The live stream (phonet-api.md §3.1, §3.3; contracts.md §3) over a real WebSocket."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
from websockets.exceptions import ConnectionClosedError

from agent.simulator import SimControl, SimulatorInfo
from agent.simulator.model import DEFAULT_SCRIPT, Plan
from agent.simulator.testing import TIMEOUT_S, HandshakeStatus, LiveOpener, SimulatorFactory

FRAME_KEYS = {
    "event", "accountDomain", "uuid", "parentUuid", "dialAt", "bridgeAt", "lgDirection",
    "leg", "leg2", "otherLegs", "trunkNum", "trunkName", "serverTime",
}  # fmt: skip


@pytest.mark.parametrize(
    "override",
    [{"apiKey": "wrong"}, {"domain": "other.phonet.com.ua"}, {"subscriber": ""}],
)
async def test_a_wrong_key_domain_or_subscriber_is_refused_with_403_at_the_handshake(
    handshake: HandshakeStatus, override: dict[str, str]
) -> None:
    assert await handshake("001", **override) == 403
    assert await handshake("001") == 101


async def test_an_incoming_call_plays_dial_bridge_hangup_to_its_subscriber(
    live: LiveOpener, sim: SimControl, simulator: SimulatorInfo
) -> None:
    stream = await live("001")
    uuid = sim.play_call("in", "001", "+380501234567", ring_s=0, talk_s=0)
    dial, bridge, hangup = [await stream.frame() for _ in range(3)]
    assert [f["event"] for f in (dial, bridge, hangup)] == [
        "call.dial",
        "call.bridge",
        "call.hangup",
    ]
    assert {f["uuid"] for f in (dial, bridge, hangup)} == {uuid}
    assert set(dial) == FRAME_KEYS
    assert dial["accountDomain"] == simulator.domain
    assert dial["lgDirection"] == 4 and dial["bridgeAt"] is None and dial["parentUuid"] is None
    assert dial["leg"]["ext"] == "001" and dial["leg2"] is None
    assert dial["otherLegs"][0]["num"] == "+380501234567"
    assert dial["trunkNum"] and dial["serverTime"] > 10**12 and dial["dialAt"] > 10**12
    assert bridge["bridgeAt"] >= bridge["dialAt"]
    assert hangup["bridgeAt"] == bridge["bridgeAt"]
    assert "duration" not in hangup and "disposition" not in hangup  # §3.1: history has them


async def test_a_call_goes_only_to_the_subscribers_it_involves(
    live: LiveOpener, sim: SimControl
) -> None:
    sim.add_user("002", "Тарас", None)
    sim.add_user("003", "Ірина", None)
    one, two, three = await live("001"), await live("002"), await live("003")
    uuid = sim.play_call("internal", "001", "002", ring_s=None)
    for stream in (one, two):
        frame = await stream.frame()
        assert (frame["uuid"], frame["lgDirection"]) == (uuid, 1)
        assert frame["leg"]["ext"] == "001" and frame["leg2"]["ext"] == "002"
        assert frame["otherLegs"] is None and frame["trunkNum"] is None
    assert await three.rest_until_marker(sim, "003") == []


async def test_two_connections_of_one_subscriber_both_get_the_frames(
    live: LiveOpener, sim: SimControl
) -> None:
    first, second = await live("001"), await live("001")
    uuid = sim.play_call("out", "001", "+380501234567", ring_s=None)
    assert (await first.frame())["uuid"] == (await second.frame())["uuid"] == uuid


async def test_the_seconds_option_sends_live_times_in_seconds(
    live: LiveOpener, simulator_factory: SimulatorFactory
) -> None:
    info = simulator_factory(seconds=True)
    stream = await live("001", info)
    with SimControl(info.base_url) as control:
        control.play_call("in", "001", "+380501234567", ring_s=None)
    frame = await stream.frame()
    assert 10**9 < frame["dialAt"] < 10**11 and 10**9 < frame["serverTime"] < 10**11


# ------------------------------------------------------------------- makeCall


async def test_make_call_is_one_outgoing_call_dialled_at_once_bridged_when_the_far_end_answers(
    live: LiveOpener, sim: SimControl, rest: httpx.Client
) -> None:
    sim.script("+380501234567", ring_s=0, talk_s=0)
    stream = await live("001")
    made = rest.post("/rest/user/makeCall", json={"legExt": "001", "otherLegNum": "+380501234567"})
    uuid = made.json()["uuid"]
    frames = await stream.frames_until("call.hangup")
    assert [f["event"] for f in frames] == ["call.dial", "call.bridge", "call.hangup"]
    assert {f["uuid"] for f in frames} == {uuid}
    assert {f["lgDirection"] for f in frames} == {2}
    assert frames[0]["otherLegs"][0]["num"] == "+380501234567"
    [rec] = sim.history()
    assert (rec["uuid"], rec["lgDirection"], rec["disposition"]) == (uuid, 2, 0)


async def test_make_call_follows_the_script_of_the_number(
    live: LiveOpener, sim: SimControl, rest: httpx.Client
) -> None:
    sim.script("380501234567", answer=False, ring_s=0, disposition=4)  # matched by digits
    stream = await live("001")
    rest.post("/rest/user/makeCall", json={"legExt": "001", "otherLegNum": "+380501234567"})
    frames = await stream.frames_until("call.hangup")
    assert [f["event"] for f in frames] == ["call.dial", "call.hangup"]
    sim.wait_for(lambda: sim.history())
    assert sim.history()[0]["disposition"] == 4


async def test_make_call_rings_the_operator_then_the_far_end_by_default(
    sim: SimControl, rest: httpx.Client
) -> None:
    uuid = rest.post(
        "/rest/user/makeCall", json={"legExt": "001", "otherLegNum": "+380501234567"}
    ).json()["uuid"]
    assert sim.call(uuid)["phase"] == "operator_ringing"
    # The operator answers after operator_answer_s (0.05 s here); the unscripted far
    # end then rings (2 s) before it answers and talks (5 s).
    sim.wait_for(lambda: sim.call(uuid)["phase"] == "ringing")
    assert rest.get(f"/rest/calls/active/{uuid}/hangup").status_code == 200
    assert sim.call(uuid)["state"] == "ended"
    assert sim.call(uuid)["disposition"] == 1


def test_the_far_end_of_an_unscripted_number_answers_after_2_s_and_talks_5_s() -> None:
    assert Plan(ring_s=2.0, answer=True, talk_s=5.0, disposition=None) == DEFAULT_SCRIPT


async def test_a_ring_s_of_null_in_a_script_waits_for_the_control_api(
    live: LiveOpener, sim: SimControl, rest: httpx.Client
) -> None:
    sim.script("+380501234567", ring_s=None, talk_s=None)
    stream = await live("001")
    uuid = rest.post(
        "/rest/user/makeCall", json={"legExt": "001", "otherLegNum": "+380501234567"}
    ).json()["uuid"]
    assert (await stream.frame())["event"] == "call.dial"
    sim.wait_for(lambda: sim.call(uuid)["phase"] == "ringing")  # the operator answered
    assert sim.answer(uuid)["state"] == "talking"
    assert (await stream.frame())["event"] == "call.bridge"
    sim.hangup(uuid)
    assert (await stream.frame())["event"] == "call.hangup"


async def test_a_make_call_to_the_dnd_code_toggles_the_pause_without_a_call(
    live: LiveOpener, sim: SimControl, rest: httpx.Client
) -> None:
    stream = await live("001")
    code = next(u["dnd_code"] for u in sim.users() if u["ext"] == "001")
    for lg_direction, paused in ((32, True), (64, False)):
        made = rest.post("/rest/user/makeCall", json={"legExt": "001", "otherLegNum": code})
        assert re.fullmatch(r"[0-9a-f]{32}", made.json()["uuid"])
        frame = await stream.frame()
        assert (frame["event"], frame["lgDirection"]) == ("call.bridge", lg_direction)
        assert frame["leg"]["ext"] == "001"
        assert next(u["paused"] for u in sim.users() if u["ext"] == "001") is paused
    assert await stream.rest_until_marker(sim, "001") == []
    assert sim.history() == [] and sim.calls() == []
    assert rest.get("/rest/calls/active/v3").json() == []


# ------------------------------------------------------------- control of the wire


async def test_push_sends_strings_verbatim_and_anything_else_as_json(
    live: LiveOpener, sim: SimControl
) -> None:
    stream = await live("001")
    assert sim.push("001", "not json {") == 1
    assert await stream.text() == "not json {"
    assert sim.push("001", {"event": "error", "message": "Привіт"}) == 1
    assert await stream.frame() == {"event": "error", "message": "Привіт"}
    assert sim.push("009", "nobody") == 0


async def test_duplicate_events_sends_every_frame_twice_until_reset(
    live: LiveOpener, sim: SimControl
) -> None:
    stream = await live("001")
    sim.faults(duplicate_events=True)
    uuid = sim.play_call("in", "001", "+380501234567", ring_s=None)
    first, second = await stream.frame(), await stream.frame()
    assert first == second and first["uuid"] == uuid
    sim.reset()
    sim.play_call("in", "001", "+380501234567", ring_s=None)
    assert len(await stream.rest_until_marker(sim, "001")) == 1


async def test_ws_refuse_refuses_the_next_handshakes_with_503(
    handshake: HandshakeStatus, sim: SimControl
) -> None:
    sim.faults(ws_refuse=2)
    assert [await handshake("001") for _ in range(3)] == [503, 503, 101]
    assert sim.faults()["ws_refuse"] == 0


async def test_drop_closes_live_connections_abruptly_without_a_close_frame(
    live: LiveOpener, sim: SimControl
) -> None:
    streams = [await live("001"), await live("001")]
    sim.wait_for(lambda: len(sim.connections()) == 2)
    assert sim.drop() == 2
    for stream in streams:
        with pytest.raises(ConnectionClosedError) as caught:
            await asyncio.wait_for(stream.ws.recv(), TIMEOUT_S)
        assert caught.value.rcvd is None  # no close frame came
    assert sim.connections() == []
    await live("001")  # and a reconnect works
    sim.wait_for(lambda: len(sim.connections()) == 1)


async def test_connections_lists_each_live_subscriber_with_its_start(
    live: LiveOpener, sim: SimControl
) -> None:
    sim.add_user("002", "Тарас", None)
    stream = await live("001")
    await live("002")
    sim.wait_for(lambda: len(sim.connections()) == 2)
    items = sim.connections()
    assert sorted(i["subscriber"] for i in items) == ["001", "002"]
    assert all(isinstance(i["since"], float) for i in items)
    await stream.ws.close()
    sim.wait_for(lambda: [i["subscriber"] for i in sim.connections()] == ["002"])
