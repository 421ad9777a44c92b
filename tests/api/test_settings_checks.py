"""``PUT /api/settings`` refuses a value the agent could not use, beside its field
(contracts.md §4 error shape, message keys ``settings.invalid.<field>``), and saves
nothing of that change; the team key saved through Settings is the one the agent
reads (G1, contracts.md §2)."""

from __future__ import annotations

from typing import Any

import pytest

from agent.core.errors import InvalidInput
from agent.core.hotkeys import Hotkey, hotkey_problem, parse_hotkey
from agent.secrets import SecretName
from tests.api.conftest import Api


async def refused(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    """The 422's error object, after checking nothing of the change was saved."""
    before = (await api.get("/api/settings")).json()
    answer = await api.put("/api/settings", body)
    assert answer.status_code == 422, answer.text
    error: dict[str, Any] = answer.json()["error"]
    assert set(error) >= {"code", "message", "field", "fields"}
    assert error["code"] == "invalid_settings"
    after = (await api.get("/api/settings")).json()
    assert after == before
    return error


@pytest.mark.parametrize(
    ("scope", "name", "value"),
    [
        ("operator", "hotkey", "blah"),
        ("operator", "hotkey", "<ctrl>+<alt>"),  # a modifier without a key
        ("operator", "hotkey", "d"),  # a key without a modifier
        ("team", "time_zone", "Mars/Olympus"),
        ("team", "time_zone", "Europe"),  # a folder of zones, not a zone
        ("team", "default_region", "ZZ"),
        ("team", "default_region", "ua"),  # the codes are capitals
        ("team", "extension_users", {"001": 5}),
        ("team", "extension_users", {"001": "Оксана", "002": None}),
        ("team", "extension_users", {" ": "Оксана"}),
    ],
)
async def test_a_value_the_agent_could_not_use_is_refused_beside_its_field(
    api: Api, scope: str, name: str, value: Any
) -> None:
    body: dict[str, Any] = {"operator": {"popup_seconds": 20}}  # a good value beside it
    body.setdefault(scope, {})[name] = value
    error = await refused(api, body)
    assert error["field"] == name
    assert error["fields"] == [
        {
            "scope": scope,
            "field": name,
            "message_key": f"settings.invalid.{name}",
            "message": error["fields"][0]["message"],
        }
    ]
    assert error["fields"][0]["message"]  # says why, in words


async def test_values_the_agent_can_use_are_saved_and_applied(api: Api) -> None:
    answer = await api.put(
        "/api/settings",
        {
            "operator": {"hotkey": "<Ctrl>+<Shift>+F9"},
            "team": {
                "time_zone": "America/New_York",
                "default_region": "PL",
                "extension_users": {"001": "Оксана", "002": ""},
            },
        },
    )
    assert answer.status_code == 200, answer.text
    agent = api.services.agent
    assert agent.operator.hotkey == "<Ctrl>+<Shift>+F9"
    assert agent.team.time_zone == "America/New_York"
    assert agent.team.default_region == "PL"
    assert agent.team.extension_users == {"001": "Оксана", "002": ""}


async def test_an_empty_hotkey_means_none_and_is_accepted_b1(api: Api) -> None:
    answer = await api.put("/api/settings", {"operator": {"hotkey": ""}})
    assert answer.status_code == 200, answer.text
    assert api.services.agent.operator.hotkey == ""


async def test_a_region_phone_numbers_know_is_what_dialling_then_uses(api: Api) -> None:
    answer = await api.put("/api/settings", {"team": {"default_region": "PL"}})
    assert answer.status_code == 200, answer.text
    dialled = await api.post("/api/dial", {"number": "22 123 45 67"})
    assert dialled.status_code == 202, dialled.text  # +48 22 123 45 67, a Warsaw number


def test_the_hotkey_parser_reads_the_settings_notation_b1() -> None:
    assert parse_hotkey("<ctrl>+<alt>+d") == Hotkey(frozenset({"ctrl", "alt"}), "d")
    assert str(parse_hotkey(" <Control> + <Win> + F12 ")) == "<ctrl>+<super>+f12"
    assert hotkey_problem("") is None
    assert hotkey_problem("<ctrl>+<alt>+d") is None
    for bad in ("blah", "<ctrl>+f25", "<ctrl>+a+b", "<alt>", "x"):
        problem = hotkey_problem(bad)
        assert problem is not None and bad in problem
        with pytest.raises(InvalidInput) as caught:
            parse_hotkey(bad)
        assert caught.value.field == "hotkey"


# ------------------------------------------------------------------ G1: the team key


async def test_the_team_key_saved_in_settings_is_the_one_the_agent_reads_g1(api: Api) -> None:
    domain = api.services.agent.options.domain
    answer = await api.put(
        "/api/settings", {"team": {"domain": domain.upper(), "api_key": "team-key-0987654321"}}
    )
    assert answer.status_code == 200, answer.text
    # agent/secrets.py falls back to this entry for an operator with no key of their own.
    assert api.secrets.get(SecretName.team_api_key(domain)) == "team-key-0987654321"
    assert api.secrets.values == {f"{domain}/team": "team-key-0987654321"}
    assert (await api.get("/api/settings")).json()["team"]["api_key"] == {"set": True}


async def test_a_team_domain_other_than_the_profiles_is_refused_g1(api: Api) -> None:
    error = await refused(
        api, {"team": {"domain": "other.phonet.com.ua", "api_key": "team-key-0987654321"}}
    )
    assert error["fields"][0]["field"] == "domain"
    assert error["fields"][0]["message_key"] == "settings.invalid.domain_profile"
    assert api.services.agent.options.domain in error["fields"][0]["message"]
    assert api.secrets.values == {}  # the key was not written either


async def test_a_team_key_follows_the_profile_whatever_domain_was_stored_before_g1(
    api: Api,
) -> None:
    """A database from before: a different team.domain stored; the key still goes
    where the agent looks."""
    agent = api.services.agent
    agent.team = agent.team.__class__(domain="old.phonet.com.ua")
    answer = await api.put("/api/settings", {"team": {"api_key": "team-key-0987654321"}})
    assert answer.status_code == 200, answer.text
    assert api.secrets.values == {f"{agent.options.domain}/team": "team-key-0987654321"}
