"""The licence in a running agent and its local API (L1, U10; issue 8 items 3–6):
against the real simulator over real sockets on 127.0.0.1."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import quote

import pytest

from agent.core.errors import LicenseError
from agent.core.license_seats import SeatHolder
from agent.license import wiring
from agent.simulator import SimControl, SimulatorInfo
from tests.license.conftest import CODE, OTHER_CODE, Vendor
from tests.scenarios.conftest import AgentFactory, AgentHandle, wait_until


@pytest.fixture
async def agent(
    agent_factory: AgentFactory, simulator: SimulatorInfo, test_pubkey: str
) -> AgentHandle:
    handle = await agent_factory(simulator)
    await handle.online()
    return handle


async def licence(agent: AgentHandle) -> dict[str, Any]:
    response = await agent.api("GET", "/api/license")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_an_agent_without_a_key_connects_as_one_seat_and_says_so(
    agent: AgentHandle,
) -> None:
    assert "licence: no licence key is installed: running as one seat" in agent.lines
    shown = await licence(agent)
    assert shown == shown | {
        "state": "unlicensed",
        "count": 1,
        "required": True,
        "client_code": None,
        "active": [],
        "expires_at": None,
    }
    assert len(shown["client_id"]) == 36


async def test_the_request_text_comes_ready_to_copy(agent: AgentHandle) -> None:
    client_id = (await licence(agent))["client_id"]
    response = await agent.api("GET", f"/api/license/request?client_code={CODE}&count=4")
    assert response.status_code == 200
    assert response.json() == {
        "text": "Phonet Agent licence request\n"
        f"Client ID: {client_id}\nClient code (EDRPOU): {CODE}\nLicences: 4\n",
        "client_id": client_id,
        "client_code": CODE,
        "count": 4,
    }


@pytest.mark.parametrize(
    ("query", "field"),
    [("client_code=32855962", "client_code"), (f"client_code={CODE}&count=0", "count"),
     (f"client_code={CODE}&count=x", "count"), ("", "client_code")],
)  # fmt: skip
async def test_a_request_with_a_bad_field_is_422_naming_it(
    agent: AgentHandle, query: str, field: str
) -> None:
    response = await agent.api("GET", f"/api/license/request?{query}")
    assert response.status_code == 422
    assert response.json()["error"]["field"] == field


async def test_a_valid_key_registers_the_agent_and_the_count_changes_with_a_new_key(
    agent: AgentHandle, vendor: Vendor
) -> None:
    client_id = (await licence(agent))["client_id"]
    key = vendor.key(client_id, CODE, 5, expires=date(2099, 1, 31))
    response = await agent.api(
        "POST", "/api/license", {"key": key, "client_code": CODE, "count": 5}
    )
    assert response.status_code == 200, response.text
    assert response.json() == response.json() | {
        "state": "licensed",
        "required": False,
        "count": 5,
        "client_code": CODE,
        "expires_on": "2099-01-31",
        "expires_at": "2099-02-01T00:00:00+00:00",
    }
    assert (await agent.status())["connected"]  # still connected: nothing to wait for
    lowered = await agent.api("POST", "/api/license", {"key": vendor.key(client_id, CODE, 2)})
    assert lowered.status_code == 200 and lowered.json()["count"] == 2  # U10


def _typo(key: str) -> str:
    return key[:40] + ("B" if key[40] != "B" else "C") + key[41:]


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        (lambda v, cid: {"key": _typo(v.key(cid))}, "key", "license.malformed"),
        (lambda v, cid: {"key": "PA1-ABC"}, "key", "license.malformed"),
        (lambda v, cid: {"key": ""}, "key", "invalid_input"),
        (lambda v, cid: {"key": v.key("0b5e1a55-8f1c-4d07-a3c2-2f3a8e9d1b00")}, "client_id",
         "license.other_client_id"),
        (lambda v, cid: {"key": v.key(cid, OTHER_CODE), "client_code": CODE}, "client_code",
         "license.other_client_code"),
        (lambda v, cid: {"key": v.key(cid), "client_code": "1234"}, "client_code",
         "license.bad_client_code"),
        (lambda v, cid: {"key": v.key(cid, count=3), "count": 4}, "count", "license.other_count"),
        (lambda v, cid: {"key": v.key(cid, expires=date(2025, 2, 1))}, "key", "license.expired"),
    ],
    ids=["typo", "short", "empty", "other-client-id", "other-code", "bad-code", "other-count",
         "expired"],
)  # fmt: skip
async def test_each_bad_input_is_422_with_its_field_and_changes_nothing(
    agent: AgentHandle, vendor: Vendor, body: Any, field: str, code: str
) -> None:
    before = await licence(agent)
    response = await agent.api("POST", "/api/license", body(vendor, before["client_id"]))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field and error["code"] == code.removeprefix("error.")
    assert error["message"]
    assert await licence(agent) == before


async def test_a_tampered_key_is_422_on_the_key_field(agent: AgentHandle, vendor: Vendor) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    stranger = Vendor(Ed25519PrivateKey.generate())
    response = await agent.api(
        "POST", "/api/license", {"key": stranger.key((await licence(agent))["client_id"])}
    )
    assert response.status_code == 422
    assert response.json()["error"] == {
        "code": "license.tampered",
        "field": "key",
        "message": "the key's signature does not hold: it was altered, or it was not issued "
        "by this agent's vendor",
    }


async def test_the_openapi_document_declares_the_licence_endpoints(agent: AgentHandle) -> None:
    document = (await agent.api("GET", "/api/openapi.json")).json()
    paths = document["paths"]
    assert set(paths["/api/license"]) == {"get", "post"}
    post = paths["/api/license"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"]["required"] == ["key"]
    assert "422" in post["responses"]
    shown = paths["/api/license"]["get"]["responses"]["200"]["content"]["application/json"]
    assert {"client_id", "client_code", "count", "active", "expires_at", "state"} <= set(
        shown["schema"]["required"]
    )
    assert [p["name"] for p in paths["/api/license/request"]["get"]["parameters"]] == [
        "client_code",
        "count",
    ]


# ------------------------------------------------------------------ refusing the start


class FullHouse:
    """Two others connected now (a stand-in for issue 6's heartbeats)."""

    agent_id = "sim.phonet.local/001"

    def active_operators(self, exclude_agent_id: str) -> list[SeatHolder]:
        return [SeatHolder("x/002", "002", "Петро"), SeatHolder("x/003", "003", "Іван")]


async def test_a_start_beyond_the_count_is_refused_before_the_pbx_hears_of_it(
    agent_factory: AgentFactory,
    simulator: SimulatorInfo,
    sim: SimControl,
    test_pubkey: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(wiring, "find_presence", lambda services: FullHouse())
    sim.clear_requests()
    with pytest.raises(LicenseError) as refused:
        await agent_factory(simulator)
    message = str(refused.value)
    assert refused.value.exit_code == 5
    assert message.startswith("the licence refused the start: no licence key is installed")
    assert "by 002 Петро, 003 Іван" in message
    assert sim.requests() == []  # neither authorize nor the live stream
    assert sim.connections() == []


async def test_a_start_within_the_count_connects(
    agent_factory: AgentFactory,
    simulator: SimulatorInfo,
    vendor: Vendor,
    test_pubkey: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    db_url = f"sqlite:///{tmp_path / 'team.db'}"
    first = await agent_factory(simulator, db_url=db_url)
    client_id = (await licence(first))["client_id"]
    assert (
        await first.api("POST", "/api/license", {"key": vendor.key(client_id, count=3)})
    ).is_success
    await first.agent.stop()
    monkeypatch.setattr(wiring, "find_presence", lambda services: FullHouse())
    second = await agent_factory(simulator, db_url=db_url, ext="004")
    await second.online()
    shown = await licence(second)
    assert [h["label"] for h in shown["active"]] == ["002 Петро", "003 Іван"]
    assert shown["count"] == 3 and "licence: " not in " ".join(second.lines)


async def test_the_request_query_takes_an_encoded_code(agent: AgentHandle) -> None:
    response = await agent.api("GET", f"/api/license/request?client_code={quote(' 3285 5961')}")
    assert response.status_code == 200 and response.json()["client_code"] == CODE


async def test_the_licence_tab_is_served_while_the_link_is_down(
    agent: AgentHandle, sim: SimControl
) -> None:
    sim.faults(ws_refuse=100)
    sim.drop()
    await wait_until(lambda: not agent.agent.runtime.phone.link_up)  # type: ignore[union-attr]
    assert (await licence(agent))["state"] == "unlicensed"


async def test_other_areas_give_a_database_seats_with_one_call(
    agent_factory: AgentFactory,
    simulator: SimulatorInfo,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """tests/license/support.py: what team tests of other areas call first."""
    from tests.license.support import give_seats

    db_url = f"sqlite:///{tmp_path / 'team.db'}"
    give_seats(db_url, 4, monkeypatch)
    handle = await agent_factory(simulator, db_url=db_url)
    shown = await licence(handle)
    assert shown["state"] == "licensed" and shown["count"] == 4


async def test_a_refused_agent_has_stopped_what_it_started_and_stops_again_harmlessly(
    simulator: SimulatorInfo,
    test_pubkey: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    """The desktop shell stops the agent after a failed start too."""
    from agent.app import Agent, AgentOptions
    from agent.paths import DataDir

    monkeypatch.setattr(wiring, "find_presence", lambda services: FullHouse())
    refused = Agent(
        AgentOptions(
            data_dir=DataDir(tmp_path / "refused").ensure(),
            domain=simulator.domain,
            ext="001",
            api_key=simulator.api_key,
            base_url=simulator.base_url,
            banner=lambda line: None,
        )
    )
    with pytest.raises(LicenseError):
        await refused.start()
    assert all(task.done() for task in refused._tasks)
    assert refused.api is None  # the local API never opened
    await refused.stop()
