"""``GET/PUT /api/settings``: team (G1–G6) and operator (U1–U10) settings, checked per
field, secrets write-only (contracts.md §4; M3, B7)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agent.core.settings import OperatorSettings, TeamSettings
from agent.simulator import SimulatorInfo
from tests.api.conftest import Api, start_api
from tests.scenarios.conftest import AgentFactory, wait_until


async def test_settings_carry_every_field_of_both_scopes_and_secrets_only_as_set(
    api: Api,
) -> None:
    body = (await api.get("/api/settings")).json()
    assert set(TeamSettings.__dataclass_fields__) <= set(body["team"])
    assert set(OperatorSettings.__dataclass_fields__) <= set(body["operator"])
    assert body["operator"]["api_key"] == {"set": False}
    assert body["team"]["api_key"] == {"set": False}
    assert body["team"]["robot_password"] == {"set": False}
    assert body["team"]["completed_talk_s"] == 0  # the fixture's override
    assert body["language"] in ("en", "uk", "ru")


async def test_a_change_is_merged_saved_and_read_back(api: Api) -> None:
    answer = await api.put(
        "/api/settings",
        {"operator": {"dnd_code": "*78", "retry": _retry(45)}, "team": {"time_zone": "UTC"}},
    )
    assert answer.status_code == 200, answer.text
    assert set(answer.json()["applied"]) >= {"operator.dnd_code", "team.time_zone"}
    body = (await api.get("/api/settings")).json()
    assert body["operator"]["dnd_code"] == "*78"
    assert body["operator"]["retry"]["no_answer"]["postpone_min"] == 45
    assert body["operator"]["dial_pause_s"] == 10.0  # untouched fields keep their values
    assert body["team"]["time_zone"] == "UTC"
    assert api.services.runtime.dnd_code == "*78"  # U4 applied without a restart


def _retry(no_answer_min: int) -> dict[str, Any]:
    return {
        "no_answer": {"postpone_min": no_answer_min, "retries": 3},
        "busy": {"postpone_min": 10, "retries": 5},
        "failed": {"postpone_min": 15, "retries": 2},
    }


async def test_every_wrong_field_is_named_and_nothing_is_saved(api: Api) -> None:
    answer = await api.put(
        "/api/settings",
        {
            "operator": {"reconnect_s": -1, "dnd_code": "12a", "dial_pause_s": 5},
            "team": {"calling_window": {"start": "20:00", "end": "09:00", "days": [1]}},
        },
    )
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "invalid_settings"
    named = {(e["scope"], e["field"]) for e in error["fields"]}
    assert named == {
        ("operator", "reconnect_s"),
        ("operator", "dnd_code"),
        ("team", "calling_window"),
    }
    assert all(e["message_key"].startswith("settings.invalid.") for e in error["fields"])
    body = (await api.get("/api/settings")).json()
    assert body["operator"]["dial_pause_s"] == 10.0  # the good field was not saved alone


async def test_an_unknown_setting_is_a_field_error(api: Api) -> None:
    answer = await api.put("/api/settings", {"operator": {"colour": "blue"}})
    assert answer.status_code == 422
    assert answer.json()["error"]["fields"][0]["field"] == "colour"


async def test_a_body_that_is_not_an_object_is_refused_in_the_error_shape(api: Api) -> None:
    answer = await api.put("/api/settings", ["team"])
    assert answer.status_code == 422
    assert set(answer.json()["error"]) >= {"code", "message"}


async def test_secrets_go_to_the_keyring_and_never_come_back(api: Api) -> None:
    api.services.agent.team = api.services.agent.team.__class__(
        robot_server="sql.local", robot_user="robot"
    )
    answer = await api.put(
        "/api/settings",
        {
            "operator": {"api_key": "op-key-1234567890"},
            "team": {"api_key": "team-key-0987654321", "robot_password": "pw-secret-42"},
        },
    )
    assert answer.status_code == 200, answer.text
    assert "op-key-1234567890" not in answer.text
    domain = api.services.agent.options.domain
    assert api.secrets.values == {
        f"{domain}/001": "op-key-1234567890",
        f"{domain}/team": "team-key-0987654321",
        "robot/sql.local/robot": "pw-secret-42",
    }
    body = (await api.get("/api/settings")).text
    for secret in api.secrets.values.values():
        assert secret not in body
    shown = json.loads(body)
    assert shown["operator"]["api_key"] == {"set": True}
    assert shown["team"]["robot_password"] == {"set": True}
    assert "operator.api_key" in answer.json()["restart"]  # a new key needs a reconnect
    rows = await api.services.storage.run(
        lambda: [
            api.services.storage.settings.load("team"),
            api.services.storage.settings.load(f"operator:{domain}/001"),
        ]
    )
    assert "api_key" not in rows[0] and "api_key" not in rows[1]


async def test_the_get_shape_sent_back_leaves_a_secret_alone_and_null_removes_it(
    api: Api,
) -> None:
    await api.put("/api/settings", {"operator": {"api_key": "op-key-1234567890"}})
    await api.put("/api/settings", {"operator": {"api_key": {"set": True}}})
    assert len(api.secrets.values) == 1
    await api.put("/api/settings", {"operator": {"api_key": None}})
    assert api.secrets.values == {}
    shown = (await api.get("/api/settings")).json()
    assert shown["operator"]["api_key"] == {"set": False}


async def test_a_robot_password_needs_the_server_and_user_first(api: Api) -> None:
    answer = await api.put("/api/settings", {"team": {"robot_password": "pw-secret-42"}})
    assert answer.status_code == 422
    assert answer.json()["error"]["fields"][0]["field"] == "robot_password"
    assert api.secrets.values == {}


async def test_changing_the_language_tells_the_open_pages(api: Api) -> None:
    async with api.live() as ws:
        assert json.loads(await ws.recv())["topic"] == "hello"
        answer = await api.put("/api/settings", {"operator": {"language": "uk"}})
        assert answer.status_code == 200
        while True:
            message = json.loads(await ws.recv())
            if message["topic"] == "settings":
                break
    assert message["data"]["language"] == "uk"
    assert "operator.language" in message["data"]["changed"]
    assert (await api.get("/api/ui")).json()["language"] == "uk"


async def test_saved_settings_survive_a_restart_of_the_agent(
    agent_factory: AgentFactory, simulator: SimulatorInfo, tmp_path: Path
) -> None:
    first = await start_api(agent_factory, simulator, data_dir=tmp_path / "kept")
    answer = await first.put("/api/settings", {"operator": {"popup_seconds": 20}})
    assert answer.status_code == 200
    await first.handle.agent.stop()
    second = await start_api(agent_factory, simulator, data_dir=tmp_path / "kept")
    body = (await second.get("/api/settings")).json()
    assert body["operator"]["popup_seconds"] == 20


async def test_the_field_list_says_each_settings_type_default_and_meaning(api: Api) -> None:
    fields = (await api.get("/api/settings/fields")).json()
    by_name = {f["name"]: f for f in fields["operator"]}
    assert by_name["reconnect_s"]["type"] == "float"
    assert by_name["reconnect_s"]["default"] == 10.0
    assert by_name["on_complete"] == {
        "name": "on_complete",
        "type": "enum",
        "default": "done",
        "doc": "U6 completed contact",
        "nullable": False,
        "options": ["done", "remove"],
    }
    assert by_name["api_key"]["type"] == "secret"
    team = {f["name"]: f for f in fields["team"]}
    assert team["calling_window"]["nullable"] is True


async def test_listeners_hear_each_saved_change(api: Api) -> None:
    heard: list[dict[str, list[str]]] = []
    api.services.settings_listeners.append(lambda team, op, outcome: heard.append(outcome))
    await api.put("/api/settings", {"operator": {"smart_mode": False}})
    await wait_until(lambda: bool(heard))
    assert heard[0]["applied"] == ["operator.smart_mode"]
    assert api.services.agent.operator.smart_mode is False


def test_docs_settings_md_lists_every_setting() -> None:
    from agent.api.routes_settings import settings_markdown

    text = (Path(__file__).resolve().parents[2] / "docs" / "settings.md").read_text("utf-8")
    for cls, scope in ((TeamSettings, "team"), (OperatorSettings, "operator")):
        for name in cls.__dataclass_fields__:
            assert f"`{scope}.{name}`" in text, (
                f"{scope}.{name} is missing from docs/settings.md: "
                "run `python -m agent.api.routes_settings > docs/settings.md`"
            )
    assert settings_markdown().startswith("# Settings")
