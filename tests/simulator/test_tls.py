"""``--tls``: HTTPS and WSS on one port, trusted through the banner's ``ca_file``."""

from __future__ import annotations

import asyncio
import json
import ssl
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from agent.simulator import SimControl, SimulatorInfo

TIMEOUT_S = 5.0


def test_the_banner_of_a_tls_simulator_names_https_wss_and_a_ca_file(
    tls_simulator: SimulatorInfo,
) -> None:
    assert tls_simulator.base_url.startswith("https://127.0.0.1:")
    assert tls_simulator.ws_url.startswith("wss://127.0.0.1:")
    assert tls_simulator.ca_file is not None
    assert "BEGIN CERTIFICATE" in Path(tls_simulator.ca_file).read_text()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_https_verifies_against_the_ca_file_for_both_names(
    tls_simulator: SimulatorInfo, host: str
) -> None:
    base_url = tls_simulator.base_url.replace("127.0.0.1", host)
    with httpx.Client(
        base_url=base_url, verify=ssl.create_default_context(cafile=tls_simulator.ca_file)
    ) as client:
        login = client.post("/rest/security/authorize", json={"apiKey": tls_simulator.api_key})
        assert login.status_code == 200
        assert client.get("/rest/users").status_code == 200


def test_https_without_the_ca_is_not_trusted(tls_simulator: SimulatorInfo) -> None:
    with (
        httpx.Client(verify=ssl.create_default_context()) as client,
        pytest.raises(httpx.ConnectError),
    ):
        client.get(f"{tls_simulator.base_url}/rest/users")


async def test_wss_carries_the_live_stream(
    tls_simulator: SimulatorInfo, tls_sim: SimControl
) -> None:
    context = ssl.create_default_context(cafile=tls_simulator.ca_file)
    url = (
        f"{tls_simulator.ws_url}?domain={tls_simulator.domain}"
        f"&apiKey={tls_simulator.api_key}&subscriber=001"
    )
    async with connect(url, ssl=context, open_timeout=TIMEOUT_S) as ws:
        uuid = tls_sim.play_call("in", "001", "+380501234567", ring_s=None)
        frame = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT_S))
        assert (frame["event"], frame["uuid"]) == ("call.dial", uuid)
        [record] = [r for r in tls_sim.connections() if r["subscriber"] == "001"]
        assert record["since"] > 0


def test_recording_urls_point_at_the_https_origin(
    tls_sim: SimControl, tls_simulator: SimulatorInfo
) -> None:
    uuid = tls_sim.play_call("in", "001", "+380501234567", ring_s=0, talk_s=0)
    tls_sim.wait_for(lambda: tls_sim.history())
    [record] = tls_sim.history()
    assert record["audioRecUrl"].startswith(f"{tls_simulator.base_url}/rest/public/calls/{uuid}")
