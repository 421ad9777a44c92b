"""The live channel (contracts.md §4): the page hears lines change as calls ring, are
answered and end (M2), and when a finished call reaches the journal (M3)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from agent.simulator import SimControl
from tests.api.conftest import Api
from tests.scenarios.conftest import wait_until


async def next_of(ws: Any, topic: str, predicate: Any = lambda data: True) -> Any:
    """The next message of ``topic`` that satisfies ``predicate`` (others are skipped)."""
    while True:
        message = json.loads(await ws.recv())
        if message["topic"] == topic and predicate(message["data"]):
            return message["data"]


async def test_the_first_message_is_hello_with_the_current_status(api: Api) -> None:
    async with api.live() as ws:
        hello = json.loads(await ws.recv())
    assert hello["topic"] == "hello"
    assert hello["data"]["status"]["extension"] == "001"
    assert hello["data"]["status"]["connected"] is True
    assert hello["data"]["language"] in ("en", "uk", "ru")


async def test_an_incoming_call_is_heard_ringing_talking_and_then_in_the_journal(
    api: Api, sim: SimControl
) -> None:
    async with api.live(open_timeout=10) as ws:
        await next_of(ws, "hello")
        uuid = sim.play_call("in", "001", "+380442249895", ring_s=0.2, talk_s=0.3)
        ringing = await next_of(
            ws, "status", lambda s: any(ln["uuid"] == uuid for ln in s["lines"])
        )
        line = next(ln for ln in ringing["lines"] if ln["uuid"] == uuid)
        assert line["number"] == "+380442249895" and line["direction"] == "in"
        await next_of(
            ws, "status", lambda s: any(ln["uuid"] == uuid and ln["talking"] for ln in s["lines"])
        )
        await next_of(ws, "status", lambda s: not any(ln["uuid"] == uuid for ln in s["lines"]))
        written = await next_of(ws, "journal", lambda d: d["uuid"] == uuid)
    assert written == {"uuid": uuid}
    call = (await api.get(f"/api/calls/{uuid}")).json()
    assert call["number"] == "+380442249895" and call["end_at"] is not None


async def test_a_popup_is_forwarded_to_the_page(api: Api, sim: SimControl) -> None:
    async with api.live() as ws:
        await next_of(ws, "hello")
        uuid = sim.play_call("in", "001", "+380501112233", ring_s=0.1, answer=False)
        popup = await next_of(ws, "popup", lambda p: p["call_uuid"] == uuid)
    assert popup["kind"] == "ring" and popup["number"] == "+380501112233"


async def test_the_page_may_ping(api: Api) -> None:
    async with api.live() as ws:
        await next_of(ws, "hello")
        await ws.send("ping")
        assert await next_of(ws, "pong") is None


async def test_every_open_page_hears_the_same_message(api: Api) -> None:
    async with api.live() as first, api.live() as second:
        await next_of(first, "hello")
        await next_of(second, "hello")
        api.services.hub.publish("open", {"target": "call:" + "a" * 32})
        assert (await next_of(first, "open"))["target"] == "call:" + "a" * 32
        assert (await next_of(second, "open"))["target"] == "call:" + "a" * 32


async def test_a_plain_http_request_to_the_channel_is_told_to_upgrade(api: Api) -> None:
    async with httpx.AsyncClient(base_url=api.url) as client:
        response = await client.get("/api/live", params={"token": api.token})
    assert response.status_code == 426
    assert response.json()["error"]["code"] == "upgrade_required"


async def test_a_closed_page_leaves_no_subscriber_behind(api: Api) -> None:
    async with api.live() as ws:
        await next_of(ws, "hello")
        assert api.services.hub.subscribers == 1
    await wait_until(lambda: api.services.hub.subscribers == 0, what="the subscriber to go")
