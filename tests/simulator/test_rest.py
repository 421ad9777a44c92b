"""The simulator's REST API against phonet-api.md §1 and §2, over real HTTP."""

from __future__ import annotations

import re
import wave
from io import BytesIO

import httpx
import pytest

from agent.simulator import SimControl, SimulatorInfo
from agent.simulator.testing import SimulatorFactory

PROTECTED = [
    ("GET", "/rest/users"),
    ("GET", "/rest/calls/active/v3"),
    ("GET", "/rest/calls/company.api"),
    ("GET", "/rest/calls/users.api"),
    ("GET", "/rest/calls/missed.api"),
    ("POST", "/rest/user/makeCall"),
    ("GET", "/rest/calls/active/0123456789abcdef0123456789abcdef/hangup"),
    ("GET", "/rest/no/such/path"),
]


# -------------------------------------------------------------------- authorize


def test_authorize_sets_a_tomcat_style_jsessionid_as_the_first_cookie(
    anonymous: httpx.Client, simulator: SimulatorInfo
) -> None:
    response = anonymous.post(
        "/rest/security/authorize", json={"domain": simulator.domain, "apiKey": simulator.api_key}
    )
    assert response.status_code == 200
    first = response.headers.get_list("set-cookie")[0]
    assert re.fullmatch(r"JSESSIONID=[0-9A-F]{32}; Path=/; HttpOnly", first)


def test_authorize_accepts_a_body_without_domain(
    anonymous: httpx.Client, simulator: SimulatorInfo
) -> None:
    response = anonymous.post("/rest/security/authorize", json={"apiKey": simulator.api_key})
    assert response.status_code == 200
    assert response.headers["set-cookie"].startswith("JSESSIONID=")


@pytest.mark.parametrize(
    "body",
    [{"apiKey": "wrong"}, {"domain": "other.phonet.com.ua", "apiKey": None}, {}],
)
def test_authorize_refuses_a_wrong_key_or_domain_with_403(
    anonymous: httpx.Client, simulator: SimulatorInfo, body: dict[str, object]
) -> None:
    if body.get("apiKey", "") is None:
        body = {**body, "apiKey": simulator.api_key}
    response = anonymous.post("/rest/security/authorize", json=body)
    assert response.status_code == 403
    assert "set-cookie" not in response.headers


def test_authorize_refuses_a_body_that_is_not_json_with_400(anonymous: httpx.Client) -> None:
    response = anonymous.post("/rest/security/authorize", content=b"apiKey=x")
    assert response.status_code == 400


# ------------------------------------------------------------- the session gate


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_every_non_public_rest_path_answers_403_without_a_session(
    anonymous: httpx.Client, method: str, path: str
) -> None:
    response = anonymous.request(method, path, json={})
    assert response.status_code == 403
    with pytest.raises(ValueError):
        response.json()  # a short non-JSON body (phonet-api.md §4.2)


@pytest.mark.parametrize(("method", "path"), PROTECTED[:3])
def test_an_unknown_session_is_refused_like_none(
    anonymous: httpx.Client, method: str, path: str
) -> None:
    response = anonymous.request(method, path, headers={"Cookie": "JSESSIONID=" + "A" * 32})
    assert response.status_code == 403


def test_an_expired_session_gets_403_and_a_new_authorize_works(
    rest: httpx.Client, sim: SimControl, simulator: SimulatorInfo
) -> None:
    assert rest.get("/rest/users").status_code == 200
    assert sim.expire() == 1
    assert rest.get("/rest/users").status_code == 403
    fresh = rest.post("/rest/security/authorize", json={"apiKey": simulator.api_key})
    cookie = fresh.headers["set-cookie"].split(";")[0]
    assert rest.get("/rest/users", headers={"Cookie": cookie}).status_code == 200


def test_a_session_ttl_set_by_config_expires_sessions(rest: httpx.Client, sim: SimControl) -> None:
    assert sim.config(session_ttl_s=0)["session_ttl_s"] == 0
    sim.wait_for(lambda: rest.get("/rest/users").status_code == 403)


@pytest.mark.parametrize(
    "path",
    [
        "/rest/users/",
        "/rest/calls/active/v3/",
        "/rest/calls/company.api/",
        "/rest/calls/users.api/",
        "/rest/calls/missed.api/",
    ],
)
def test_a_trailing_slash_is_accepted_on_every_path(rest: httpx.Client, path: str) -> None:
    response = rest.get(path)
    assert response.status_code == 200
    assert isinstance(response.json(), list)


def test_a_trailing_slash_is_accepted_on_authorize_and_make_call(
    anonymous: httpx.Client, simulator: SimulatorInfo
) -> None:
    login = anonymous.post("/rest/security/authorize/", json={"apiKey": simulator.api_key})
    assert login.status_code == 200
    cookie = login.headers["set-cookie"].split(";")[0]
    made = anonymous.post(
        "/rest/user/makeCall/",
        json={"legExt": "001", "otherLegNum": "+380501234567"},
        headers={"Cookie": cookie},
    )
    assert made.status_code == 200
    hung = anonymous.get(
        f"/rest/calls/active/{made.json()['uuid']}/hangup/", headers={"Cookie": cookie}
    )
    assert hung.status_code == 200


# ---------------------------------------------------------------------- users


def test_users_is_a_top_level_array_of_employees(rest: httpx.Client, sim: SimControl) -> None:
    sim.add_user("007", "James Bond", None)
    users = rest.get("/rest/users").json()
    assert users[0] == {
        "id": 1,
        "displayName": users[0]["displayName"],
        "ext": "001",
        "email": users[0]["email"],
    }
    assert users[0]["displayName"] and "@" in users[0]["email"]
    assert users[1] == {"id": 2, "displayName": "James Bond", "ext": "007", "email": None}


# --------------------------------------------------------------- active calls


def test_active_calls_show_calls_in_progress_in_milliseconds(
    rest: httpx.Client, sim: SimControl
) -> None:
    uuid = sim.play_call("in", "001", "+380501234567", ring_s=None)
    [active] = rest.get("/rest/calls/active/v3").json()
    assert active["uuid"] == uuid and re.fullmatch(r"[0-9a-f]{32}", uuid)
    assert active["lastEvent"] == "call.dial"
    assert active["lgDirection"] == 4 and active["bridgeAt"] is None
    assert active["dialAt"] > 10**12  # ms
    assert active["leg"]["ext"] == "001"
    assert active["otherLegs"][0]["num"] == "+380501234567"
    assert active["trunkNum"].startswith("+380")
    assert set(active) == {
        "uuid", "parentUuid", "lastEvent", "dialAt", "bridgeAt", "lgDirection",
        "leg", "leg2", "otherLegs", "trunkNum", "trunkName",
    }  # fmt: skip
    sim.answer(uuid)
    [active] = rest.get("/rest/calls/active/v3").json()
    assert active["lastEvent"] == "call.bridge" and active["bridgeAt"] >= active["dialAt"]
    sim.hangup(uuid)
    assert rest.get("/rest/calls/active/v3").json() == []


def test_a_named_party_has_a_crm_contact_whose_id_is_a_string_in_active_calls(
    rest: httpx.Client, sim: SimControl
) -> None:
    sim.play_call("in", "001", "+380501234567", ring_s=None, name="ТОВ Ромашка", company="Ромашка")
    [active] = rest.get("/rest/calls/active/v3").json()
    other = active["otherLegs"][0]
    assert isinstance(other["id"], str) and other["name"] == "ТОВ Ромашка"
    assert other["companyName"] == "Ромашка" and other["url"]


def test_active_calls_are_in_seconds_with_the_seconds_option(
    simulator_factory: SimulatorFactory,
) -> None:
    info = simulator_factory(seconds=True)
    with httpx.Client(base_url=info.base_url) as client, SimControl(info.base_url) as control:
        login = client.post("/rest/security/authorize", json={"apiKey": info.api_key})
        assert login.status_code == 200
        control.play_call("out", "001", "+380501234567", ring_s=None)
        [active] = client.get("/rest/calls/active/v3").json()
        assert 10**9 < active["dialAt"] < 10**11


# ------------------------------------------------------------ makeCall, hangup


def test_make_call_answers_with_the_calls_uuid(rest: httpx.Client, sim: SimControl) -> None:
    response = rest.post(
        "/rest/user/makeCall", json={"legExt": "001", "otherLegNum": "+380501234567"}
    )
    assert response.status_code == 200
    uuid = response.json()["uuid"]
    assert re.fullmatch(r"[0-9a-f]{32}", uuid)
    item = sim.call(uuid)
    assert (item["direction"], item["ext"], item["number"]) == ("out", "001", "+380501234567")
    assert item["made_by_api"] is True


@pytest.mark.parametrize(
    "body",
    [{"legExt": "999", "otherLegNum": "+380501234567"}, {"legExt": "001"}, {"otherLegNum": "1"}],
)
def test_make_call_refuses_an_unknown_extension_or_a_missing_field_with_400(
    rest: httpx.Client, body: dict[str, str]
) -> None:
    assert rest.post("/rest/user/makeCall", json=body).status_code == 400


def test_hangup_ends_a_talking_call_with_an_empty_200_and_disposition_0(
    rest: httpx.Client, sim: SimControl
) -> None:
    uuid = sim.play_call("in", "001", "+380501234567", ring_s=0, talk_s=None)
    sim.wait_for(lambda: sim.call(uuid)["state"] == "talking")
    response = rest.get(f"/rest/calls/active/{uuid}/hangup")
    assert (response.status_code, response.content) == (200, b"")
    assert sim.call(uuid)["state"] == "ended" and sim.call(uuid)["disposition"] == 0


def test_hangup_of_a_ringing_call_gives_disposition_1(rest: httpx.Client, sim: SimControl) -> None:
    uuid = sim.play_call("in", "001", "+380501234567", ring_s=None)
    assert rest.get(f"/rest/calls/active/{uuid}/hangup").status_code == 200
    assert sim.call(uuid)["disposition"] == 1


def test_hangup_of_an_unknown_or_ended_call_is_404(rest: httpx.Client, sim: SimControl) -> None:
    assert rest.get(f"/rest/calls/active/{'0' * 32}/hangup").status_code == 404
    uuid = sim.play_call("in", "001", "+380501234567", ring_s=None)
    sim.hangup(uuid)
    assert rest.get(f"/rest/calls/active/{uuid}/hangup").status_code == 404


# ---------------------------------------------------------------------- audio


def test_the_recording_of_an_answered_call_is_public_audio(
    anonymous: httpx.Client, sim: SimControl
) -> None:
    uuid = sim.play_call("in", "001", "+380501234567", ring_s=0, talk_s=0)
    sim.wait_for(lambda: sim.call(uuid)["state"] == "ended")
    [record] = sim.history()
    url = record["audioRecUrl"].strip()
    for path in (
        url.removeprefix(str(anonymous.base_url).rstrip("/")),
        f"/rest/public/calls/{uuid}-rx/audio",
    ):
        response = anonymous.get(path)
        assert response.status_code == 200
        with wave.open(BytesIO(response.content)) as audio:
            assert audio.getnframes() > 0


def test_there_is_no_recording_of_an_unanswered_or_unknown_call(
    anonymous: httpx.Client, sim: SimControl
) -> None:
    uuid = sim.play_call("in", "001", "+380501234567", ring_s=None)
    assert anonymous.get(f"/rest/public/calls/{uuid}/audio").status_code == 404
    sim.hangup(uuid)
    assert anonymous.get(f"/rest/public/calls/{uuid}/audio").status_code == 404
    assert anonymous.get(f"/rest/public/calls/{'0' * 32}/audio").status_code == 404
