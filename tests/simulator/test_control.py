"""The control API ``/_sim/`` (contracts.md §3) and the faults it injects."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from agent.simulator import SimControl, SimulatorInfo
from agent.simulator.testing import LiveOpener


def status_of(error: pytest.ExceptionInfo[httpx.HTTPStatusError]) -> int:
    return error.value.response.status_code


# ----------------------------------------------------------------------- users


def test_a_user_is_added_and_replaced_keeping_its_id(sim: SimControl, rest: httpx.Client) -> None:
    sim.add_user("002", "Тарас", "t@example.com", dnd_code="*79")
    sim.add_user("002", "Тарас Шевченко", None)
    users = {u["ext"]: u for u in rest.get("/rest/users").json()}
    assert users["002"] == {"id": 2, "displayName": "Тарас Шевченко", "ext": "002", "email": None}
    assert {u["ext"]: u["dnd_code"] for u in sim.users()} == {"001": "*78", "002": None}


def test_a_user_needs_an_ext_and_a_display_name(sim: SimControl) -> None:
    response = sim.request("POST", "/users", {"ext": "002"})
    assert response.status_code == 400
    assert response.json()["field"] == "displayName"


# ----------------------------------------------------------------------- calls


def test_a_played_call_is_listed_with_its_state(sim: SimControl) -> None:
    uuid = sim.play_call("in", "001", "+380501234567", ring_s=None, talk_s=None)
    item = sim.call(uuid)
    assert {k: item[k] for k in ("uuid", "state", "direction", "ext", "number")} == {
        "uuid": uuid,
        "state": "ringing",
        "direction": "in",
        "ext": "001",
        "number": "+380501234567",
    }
    assert item["disposition"] is None and item["talk_s"] == 0
    assert sim.answer(uuid)["state"] == "talking"
    ended = sim.hangup(uuid, disposition=2)
    assert (ended["state"], ended["disposition"]) == ("ended", 2)
    assert [c["uuid"] for c in sim.calls()] == [uuid]


def test_a_scripted_call_plays_out_by_itself(sim: SimControl) -> None:
    uuid = sim.play_call("out", "001", "+380501234567", ring_s=0, talk_s=0)
    item = sim.wait_for(lambda: sim.call(uuid)["state"] == "ended" and sim.call(uuid))
    assert item["disposition"] == 0


def test_an_unanswered_call_defaults_to_disposition_1_and_keeps_a_given_one(
    sim: SimControl,
) -> None:
    plain = sim.play_call("in", "001", "+380501234567", ring_s=0, answer=False)
    busy = sim.play_call("in", "001", "+380501234567", ring_s=0, answer=False, disposition=4)
    sim.wait_for(lambda: all(c["state"] == "ended" for c in sim.calls()))
    assert (sim.call(plain)["disposition"], sim.call(busy)["disposition"]) == (1, 4)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"direction": "in", "ext": "999", "number": "+380501234567"}, "ext"),
        ({"direction": "internal", "ext": "001", "number": "999"}, "ext"),
        ({"direction": "sideways", "ext": "001", "number": "1"}, "direction"),
        ({"direction": "in", "ext": "001"}, "number"),
        ({"direction": "in", "ext": "001", "number": "1", "ring_s": -1}, "ring_s"),
        ({"direction": "in", "ext": "001", "number": "1", "disposition": 9}, "disposition"),
        ({"direction": "in", "ext": "001", "number": "1", "answer": "yes"}, "answer"),
    ],
)
def test_a_bad_call_is_refused_with_400_naming_the_field(
    sim: SimControl, body: dict[str, Any], field: str
) -> None:
    response = sim.request("POST", "/calls", body)
    assert response.status_code == 400
    assert response.json()["field"] == field


def test_driving_an_unknown_or_ended_call_is_404(sim: SimControl) -> None:
    with pytest.raises(httpx.HTTPStatusError) as caught:
        sim.answer("0" * 32)
    assert status_of(caught) == 404
    uuid = sim.play_call("in", "001", "+380501234567", ring_s=None)
    sim.hangup(uuid)
    for action in (sim.answer, sim.hangup):
        with pytest.raises(httpx.HTTPStatusError) as caught:
            action(uuid)
        assert status_of(caught) == 404
    with pytest.raises(httpx.HTTPStatusError) as caught:
        sim.call("0" * 32)
    assert status_of(caught) == 404


def test_calls_are_found_by_the_dashed_uuid_too(sim: SimControl) -> None:
    uuid = sim.play_call("in", "001", "+380501234567", ring_s=None)
    dashed = f"{uuid[:8]}-{uuid[8:12]}-{uuid[12:16]}-{uuid[16:20]}-{uuid[20:]}".upper()
    assert sim.call(dashed)["uuid"] == uuid


# ---------------------------------------------------------------------- faults


def test_rest_5xx_fails_the_next_rest_requests_authorize_included(
    sim: SimControl, anonymous: httpx.Client, simulator: SimulatorInfo
) -> None:
    sim.faults(rest_5xx=2)
    login = {"apiKey": simulator.api_key}
    assert anonymous.post("/rest/security/authorize", json=login).status_code == 503
    assert anonymous.get("/rest/users").status_code == 503
    assert anonymous.post("/rest/security/authorize", json=login).status_code == 200
    assert sim.faults()["rest_5xx"] == 0


def test_faults_never_touch_the_control_api(sim: SimControl) -> None:
    sim.faults(rest_5xx=5, rest_delay_ms=60_000)
    assert sim.calls() == [] and sim.connections() == []
    assert sim.faults()["rest_5xx"] == 5


def test_rest_delay_holds_rest_requests_past_a_clients_timeout(
    sim: SimControl, simulator: SimulatorInfo
) -> None:
    sim.faults(rest_delay_ms=3_000, rest_delay_n=1)
    with httpx.Client(base_url=simulator.base_url, verify=False, timeout=0.2) as impatient:
        with pytest.raises(httpx.ReadTimeout):
            impatient.get("/rest/users")
        assert sim.faults()["rest_delay_n"] == 0
        assert impatient.get("/rest/users").status_code == 403  # no longer delayed


def test_history_lag_writes_the_record_that_long_after_the_hang_up(sim: SimControl) -> None:
    sim.faults(history_lag_ms=400)
    uuid = sim.play_call("in", "001", "+380442249895", ring_s=0.0, answer=False)
    sim.wait_for(lambda: sim.call(uuid)["state"] == "ended")
    assert sim.history() == []  # not yet: history trails the live stream
    record = sim.wait_for(lambda: sim.history())[0]
    assert record["uuid"].replace("-", "") == uuid.replace("-", "")


def test_reset_drops_the_records_history_has_not_written_yet(sim: SimControl) -> None:
    sim.faults(history_lag_ms=300)
    uuid = sim.play_call("in", "001", "+380442249895", ring_s=0.0, answer=False)
    sim.wait_for(lambda: sim.call(uuid)["state"] == "ended")
    sim.reset()
    later = sim.play_call("in", "001", "+380442249896", ring_s=0.0, answer=False)
    sim.wait_for(lambda: sim.history())  # written at once: reset cleared the lag too
    time.sleep(0.4)  # an absence shows only once the old lag has passed
    assert [r["uuid"].replace("-", "") for r in sim.history()] == [later.replace("-", "")]


def test_an_unknown_fault_is_refused(sim: SimControl) -> None:
    with pytest.raises(httpx.HTTPStatusError) as caught:
        sim.faults(rest_6xx=1)
    assert status_of(caught) == 400


# ------------------------------------------------------------------- requests log


async def test_the_request_log_masks_keys_and_sessions_and_shows_websocket_connects(
    sim: SimControl, rest: httpx.Client, simulator: SimulatorInfo, live: LiveOpener
) -> None:
    rest.get("/rest/calls/company.api/", params={"limit": 5})
    await live("001")
    log = sim.requests()
    assert [(e["method"], e["path"]) for e in log] == [
        ("POST", "/rest/security/authorize"),
        ("GET", "/rest/calls/company.api/"),
        ("WS", "/live/connector/v3/easy"),
    ]
    assert [e["status"] for e in log] == [200, 200, 101]
    assert log[1]["query"] == "limit=5"
    assert simulator.api_key not in str(log)
    assert '"apiKey": "***"' in log[0]["body"] or '"apiKey":"***"' in log[0]["body"]
    assert "apiKey=***" in log[2]["query"] and "subscriber=001" in log[2]["query"]
    assert all(isinstance(e["at"], float) for e in log)
    sim.clear_requests()
    assert sim.requests() == []


def test_control_requests_are_not_logged(sim: SimControl) -> None:
    sim.calls()
    assert sim.requests() == []


# ------------------------------------------------------------ reset and config


def test_reset_forgets_calls_history_sessions_faults_scripts_and_users(
    sim: SimControl, rest: httpx.Client
) -> None:
    sim.add_user("002", "Тарас", None)
    sim.play_call("in", "001", "+380501234567", ring_s=None)
    sim.add_history([{"uuid": "a", "endAt": 1}])
    sim.faults(duplicate_events=True, ws_refuse=3)
    sim.script("+380501234567", answer=False)
    sim.config(operator_answer_s=9)
    sim.reset()
    assert sim.calls() == [] and sim.history() == [] and sim.requests() == []
    assert [u["ext"] for u in sim.users()] == ["001"]
    assert sim.faults() == {
        "rest_5xx": 0,
        "rest_delay_ms": 0,
        "rest_delay_n": None,
        "ws_refuse": 0,
        "duplicate_events": False,
        "history_lag_ms": 0,
    }
    assert sim.config()["operator_answer_s"] == 0.05  # back to the constructor's value
    assert rest.get("/rest/users").status_code == 403  # the session is gone


def test_config_sets_how_fast_the_operator_answers(sim: SimControl, rest: httpx.Client) -> None:
    assert sim.config(operator_answer_s=30)["operator_answer_s"] == 30
    uuid = rest.post(
        "/rest/user/makeCall", json={"legExt": "001", "otherLegNum": "+380501234567"}
    ).json()["uuid"]
    assert sim.call(uuid)["phase"] == "operator_ringing"
    sim.config(operator_answer_s=0)  # applies from the next call on
    with pytest.raises(httpx.HTTPStatusError) as caught:
        sim.answer(uuid)  # the far end is not ringing yet
    assert status_of(caught) == 409
