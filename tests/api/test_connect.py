"""Connect / Disconnect from the window (M3, U3): the live link stops on the operator's
word and comes back on Connect; the page hears both."""

from __future__ import annotations

import json

from tests.api.conftest import Api
from tests.api.test_live import next_of
from tests.scenarios.conftest import wait_until


async def test_disconnect_stops_the_live_link_and_connect_brings_it_back(api: Api) -> None:
    async with api.live() as ws:
        assert json.loads(await ws.recv())["topic"] == "hello"
        answer = await api.post("/api/disconnect")
        assert answer.status_code == 200
        await next_of(ws, "status", lambda s: s["connected"] is False)
        assert (await api.post("/api/connect")).status_code == 202
        await next_of(ws, "status", lambda s: s["connected"] is True)
    await wait_until(lambda: api.services.runtime.phone.link_up, what="the link back up")
