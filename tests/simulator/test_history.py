"""History endpoints (phonet-api.md §2.3, contracts.md §3): scopes, paging, filters, quirks."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from agent.simulator import SimControl, SimulatorInfo
from agent.simulator.testing import SimulatorFactory

BASE_MS = 1_700_000_000_000


def record(i: int, lg: int = 4, disposition: int = 0, ext: str | None = "001") -> dict[str, Any]:
    return {
        "uuid": f"{i:032x}",
        "endAt": BASE_MS + i * 1000,
        "lgDirection": lg,
        "otherLegNum": "+380501234567",
        "otherLegName": "+380501234567",
        "leg": {"id": 1, "type": 1, "displayName": "X", "ext": ext} if ext is not None else None,
        "leg2": None,
        "billSecs": 1,
        "duration": 2,
        "disposition": disposition,
        "transferHistory": None,
        "audioRecUrl": None,
        "trunk": None,
    }


def ids(records: list[dict[str, Any]]) -> list[int]:
    return [int(r["uuid"], 16) for r in records]


def page(rest: httpx.Client, scope: str = "company", **params: Any) -> list[dict[str, Any]]:
    response = rest.get(f"/rest/calls/{scope}.api", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body, list)  # a top-level array, no total (phonet-api.md §2.3)
    return body


@pytest.fixture
def mixed(sim: SimControl) -> None:
    """1: in answered, 2: in missed (busy), 3: out, 4: internal, 5: in missed, no employee leg."""
    sim.add_history(
        [
            record(1),
            record(2, disposition=4),
            record(3, lg=2),
            record(4, lg=1),
            record(5, 4, 1, None),
        ]
    )


def test_company_serves_every_record_newest_first(rest: httpx.Client, mixed: None) -> None:
    assert ids(page(rest)) == [5, 4, 3, 2, 1]


def test_missed_serves_incoming_records_with_a_nonzero_disposition(
    rest: httpx.Client, mixed: None
) -> None:
    assert ids(page(rest, "missed")) == [5, 2]


def test_users_serves_records_with_an_employee_leg(rest: httpx.Client, mixed: None) -> None:
    assert ids(page(rest, "users")) == [4, 3, 2, 1]


@pytest.mark.parametrize(
    "query",
    [
        "directions=2&directions=4",
        "directions%5B%5D=2&directions%5B%5D=4",
        "directions[]=2&directions[]=4",
        "directions%5B0%5D=2&directions%5B1%5D=4",
        "directions=6",
    ],
)
def test_every_directions_encoding_filters_the_same(
    rest: httpx.Client, mixed: None, query: str
) -> None:
    response = rest.get(f"/rest/calls/company.api?{query}")
    assert ids(response.json()) == [5, 3, 2, 1]


def test_one_direction_filters_to_it(rest: httpx.Client, mixed: None) -> None:
    assert ids(page(rest, directions=1)) == [4]


def test_the_time_window_on_end_at_is_inclusive_at_both_ends(
    rest: httpx.Client, mixed: None
) -> None:
    got = page(rest, timeFrom=BASE_MS + 2000, timeTo=BASE_MS + 4000)
    assert ids(got) == [4, 3, 2]


def test_limit_and_offset_page_through_the_history(rest: httpx.Client, sim: SimControl) -> None:
    sim.add_history([record(i) for i in range(1, 121)])
    first = page(rest, limit=50, offset=0)
    second = page(rest, limit=50, offset=50)
    third = page(rest, limit=50, offset=100)
    assert ids(first + second + third) == list(range(120, 0, -1))
    assert len(third) == 20


def test_a_limit_above_50_is_clamped_to_50(rest: httpx.Client, sim: SimControl) -> None:
    sim.add_history([record(i) for i in range(1, 61)])
    assert len(page(rest, limit=500)) == 50
    assert len(page(rest)) == 50  # the default


@pytest.mark.parametrize("params", [{"limit": 0}, {"offset": -1}, {"timeFrom": "x"}])
def test_bad_parameters_get_400(rest: httpx.Client, params: dict[str, Any]) -> None:
    assert rest.get("/rest/calls/company.api", params=params).status_code == 400


def test_a_played_call_leaves_a_record_of_its_own_shape(
    rest: httpx.Client, sim: SimControl, simulator: SimulatorInfo
) -> None:
    uuid = sim.play_call("out", "001", "+380501234567", ring_s=0, talk_s=0)
    sim.wait_for(lambda: sim.call(uuid)["state"] == "ended")
    [rec] = page(rest)
    assert rec["uuid"] == uuid and re.fullmatch(r"[0-9a-f]{32}", uuid)
    assert rec["endAt"] > 10**12  # always ms
    assert rec["lgDirection"] == 2 and rec["disposition"] == 0
    assert rec["otherLegNum"] == rec["otherLegName"] == "+380501234567"
    assert rec["leg"] == {
        "id": 1,
        "type": 1,
        "displayName": rec["leg"]["displayName"],
        "ext": "001",
    }
    assert rec["leg2"] is None and rec["transferHistory"] is None
    assert rec["duration"] >= rec["billSecs"] >= 0
    assert rec["audioRecUrl"] == f"{simulator.base_url}/rest/public/calls/{uuid}/audio "
    assert re.fullmatch(r"o=380\d+;", rec["trunk"])
    assert "parentUuid" in rec and rec["parentUuid"] is None


def test_every_other_record_has_no_parent_uuid_key(rest: httpx.Client, sim: SimControl) -> None:
    uuids = [sim.play_call("in", "001", "+380501234567", ring_s=0, answer=False) for _ in range(4)]
    sim.wait_for(lambda: len(sim.history()) == 4)
    by_uuid = {r["uuid"]: r for r in page(rest)}
    assert ["parentUuid" in by_uuid[u] for u in uuids] == [True, False, True, False]


def test_an_unanswered_call_has_no_recording_and_disposition_1(
    rest: httpx.Client, sim: SimControl
) -> None:
    uuid = sim.play_call("in", "001", "+380501234567", ring_s=0, answer=False)
    sim.wait_for(lambda: sim.history())
    [rec] = page(rest, "missed")
    assert (rec["uuid"], rec["disposition"], rec["billSecs"], rec["audioRecUrl"]) == (
        uuid,
        1,
        0,
        None,
    )


def test_an_internal_call_records_both_employees_and_no_trunk(
    rest: httpx.Client, sim: SimControl
) -> None:
    sim.add_user("002", "Тарас", "taras@example.com")
    sim.play_call("internal", "001", "002", ring_s=0, talk_s=0)
    sim.wait_for(lambda: sim.history())
    [rec] = page(rest, "users")
    assert rec["lgDirection"] == 1 and rec["leg2"]["ext"] == "002"
    assert rec["otherLegNum"] is None and rec["trunk"] is None


def test_dashed_uuids_option_writes_history_uuids_in_the_36_character_form(
    simulator_factory: SimulatorFactory,
) -> None:
    info = simulator_factory(dashed_uuids=True)
    with (
        httpx.Client(base_url=info.base_url, verify=False) as client,
        SimControl(info.base_url) as control,
    ):
        client.post("/rest/security/authorize", json={"apiKey": info.api_key})
        uuid = control.play_call("in", "001", "+380501234567", ring_s=0, talk_s=0)
        control.wait_for(lambda: control.history())
        [rec] = client.get("/rest/calls/company.api").json()
        assert re.fullmatch(r"[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}", rec["uuid"])
        assert rec["uuid"].replace("-", "") == uuid
        # the recording is found by either form
        assert client.get(rec["audioRecUrl"].strip()).status_code == 200
        assert client.get(f"/rest/public/calls/{uuid}/audio").status_code == 200


def test_raw_records_without_an_integer_end_at_are_refused_whole(sim: SimControl) -> None:
    with pytest.raises(httpx.HTTPStatusError) as caught:
        sim.add_history([record(1), {"uuid": "x", "endAt": "soon"}])
    assert caught.value.response.status_code == 400
    assert "records[1]" in caught.value.response.json()["error"]
    assert sim.history() == []
