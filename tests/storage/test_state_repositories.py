"""Small state (checkpoints) and settings by scope, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest

from agent.core.errors import InvalidInput
from agent.storage import TEAM_SCOPE, Storage, operator_scope
from tests.storage.conftest import OnWorker

SECRET = "s3cr3t-Value"

# ------------------------------------------------------------------ key-value


def test_a_value_comes_back_as_the_json_it_was(kv: OnWorker) -> None:
    value = {"covered_until": "2025-03-01T09:00:00+00:00", "pages": [1, 2], "ok": True, "n": None}
    kv.set("history.checkpoint", value)

    assert kv.get("history.checkpoint") == value


def test_a_missing_key_gives_none_or_the_default(kv: OnWorker) -> None:
    assert kv.get("nothing") is None
    assert kv.get("nothing", 7) == 7


def test_setting_a_key_again_replaces_its_value(kv: OnWorker) -> None:
    kv.set("k", 1)
    kv.set("k", "two")

    assert kv.get("k") == "two"


def test_deleting_a_key_forgets_it(kv: OnWorker) -> None:
    kv.set("k", 1)

    assert kv.delete("k") is True
    assert kv.delete("k") is False
    assert kv.get("k") is None


def test_a_value_that_is_not_json_is_refused(kv: OnWorker) -> None:
    with pytest.raises(ValueError, match="not a JSON value"):
        kv.set("k", {1, 2})


def test_compare_and_set_changes_a_value_only_when_it_holds_the_expected_one(
    kv: OnWorker,
) -> None:
    assert kv.compare_and_set("lease", None, {"owner": "a"}) is True  # absent -> set
    assert kv.compare_and_set("lease", None, {"owner": "b"}) is False  # present now
    assert kv.compare_and_set("lease", {"owner": "b"}, {"owner": "c"}) is False
    assert kv.compare_and_set("lease", {"owner": "a"}, {"owner": "c"}) is True

    assert kv.get("lease") == {"owner": "c"}


def test_compare_and_set_lets_exactly_one_of_many_agents_win(db_url: str) -> None:
    storages = [Storage.open_sync(db_url) for _ in range(4)]
    barrier = threading.Barrier(len(storages))
    wins: list[bool] = []

    def contend(storage: Storage, name: str) -> None:
        barrier.wait(timeout=30)
        wins.append(storage.call(storage.kv.compare_and_set, "job.lease", None, name))

    threads = [
        threading.Thread(target=contend, args=(storage, f"agent-{i}"))
        for i, storage in enumerate(storages)
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        for storage in storages:
            storage.close_sync()

    assert sorted(wins) == [False, False, False, True]


# ------------------------------------------------------------------ settings


def test_saved_settings_load_back_by_scope(settings: OnWorker) -> None:
    window = {"start": "09:00", "end": "20:00", "days": [1, 2, 3, 4, 5, 6]}
    settings.save(TEAM_SCOPE, {"completed_talk_s": 10, "calling_window": window})

    assert settings.load(TEAM_SCOPE) == {"completed_talk_s": 10, "calling_window": window}
    assert settings.load(operator_scope("sim.phonet.local", "001")) == {}


def test_saving_merges_the_names_given_and_keeps_the_others(settings: OnWorker) -> None:
    scope = operator_scope("sim.phonet.local", "001")
    settings.save(scope, {"reconnect_s": 10, "retry": {"busy": {"retries": 5}}})
    settings.save(scope, {"dial_pause_s": 15, "retry": {"no_answer": {"retries": 3}}})

    assert settings.load(scope) == {
        "reconnect_s": 10,
        "dial_pause_s": 15,
        "retry": {"no_answer": {"retries": 3}},  # a value is replaced whole
    }


def test_null_is_a_value_and_removing_a_setting_brings_back_its_default(
    settings: OnWorker,
) -> None:
    settings.save(TEAM_SCOPE, {"calling_window": None, "time_zone": "Europe/Kyiv"})
    assert settings.load(TEAM_SCOPE) == {"calling_window": None, "time_zone": "Europe/Kyiv"}

    settings.remove(TEAM_SCOPE, ["calling_window"])

    assert settings.load(TEAM_SCOPE) == {"time_zone": "Europe/Kyiv"}


def test_operators_are_told_apart_by_domain_and_extension(settings: OnWorker) -> None:
    settings.save(operator_scope("a.phonet.com.ua", "001"), {"language": "uk"})
    settings.save(operator_scope("A.Phonet.com.ua ", "002"), {"language": "en"})
    settings.save(operator_scope("b.phonet.com.ua", "001"), {"language": "ru"})

    assert operator_scope("A.Phonet.com.ua", "001") == "operator:a.phonet.com.ua/001"
    assert settings.load("operator:a.phonet.com.ua/001") == {"language": "uk"}
    assert settings.load("operator:a.phonet.com.ua/002") == {"language": "en"}


@pytest.mark.parametrize(
    "values",
    [
        {"api_key": SECRET},
        {"team_api_key": SECRET},
        {"robot_password": SECRET},
        {"robot": {"server": "sql1", "Password": SECRET}},
        {"session_id": SECRET},
    ],
)
def test_a_setting_that_reads_like_a_secret_is_refused_secrets_live_in_the_keyring(
    settings: OnWorker, values: dict[str, object]
) -> None:
    with pytest.raises(InvalidInput, match="looks like a secret") as caught:
        settings.save(TEAM_SCOPE, values)

    assert SECRET not in str(caught.value)
    assert settings.load(TEAM_SCOPE) == {}


def test_a_setting_that_only_says_whether_a_secret_is_held_is_allowed(settings: OnWorker) -> None:
    settings.save(TEAM_SCOPE, {"team_api_key_set": True})

    assert settings.load(TEAM_SCOPE) == {"team_api_key_set": True}


def test_a_bad_scope_or_name_is_refused(settings: OnWorker) -> None:
    with pytest.raises(InvalidInput, match="scope"):
        settings.save("", {"a": 1})
    with pytest.raises(InvalidInput, match="name"):
        settings.save(TEAM_SCOPE, {"": 1})
