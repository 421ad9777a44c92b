"""The retry rules setting (U6: per outcome, how long to postpone and how many retries)
says what is wrong with it in words that fit: a value left out is missing, a value
given is out of range. The message is shown inside ``settings.invalid.retry``
("Check the retry rules: {message}") beside the field."""

from __future__ import annotations

from typing import Any

import pytest

from agent.core.settings import DEFAULT_RETRY, OperatorSettings, parse_settings


def problem(retry: Any) -> str | None:
    settings, errors = parse_settings(OperatorSettings, {"retry": retry})
    if not errors:
        assert settings.retry == retry
        return None
    (error,) = errors
    assert (error.field, error.message_key) == ("retry", "settings.invalid.retry")
    assert settings.retry == DEFAULT_RETRY, "a refused value keeps the default"
    return error.message


def rules(**no_answer: Any) -> dict[str, Any]:
    return {**DEFAULT_RETRY, "no_answer": no_answer}


def test_the_default_rules_are_taken() -> None:
    assert problem(DEFAULT_RETRY) is None
    assert problem(rules(postpone_min=0, retries=0)) is None
    assert problem(rules(postpone_min=10080, retries=100)) is None


def test_a_rule_without_its_retries_says_they_are_missing() -> None:
    assert problem(rules(postpone_min=1)) == "no_answer.retries is missing"


def test_a_rule_without_its_postponement_says_it_is_missing() -> None:
    assert problem(rules(retries=3)) == "no_answer.postpone_min is missing"
    assert problem(rules()) == "no_answer.postpone_min is missing"


def test_an_outcome_left_out_is_missing() -> None:
    retry = {"no_answer": {"postpone_min": 1, "retries": 1}}
    assert problem(retry) == "busy is missing"


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"postpone_min": -1, "retries": 3}, "no_answer.postpone_min must be 0..10080"),
        ({"postpone_min": 10081, "retries": 3}, "no_answer.postpone_min must be 0..10080"),
        ({"postpone_min": "30", "retries": 3}, "no_answer.postpone_min must be 0..10080"),
        ({"postpone_min": True, "retries": 3}, "no_answer.postpone_min must be 0..10080"),
        ({"postpone_min": 30, "retries": 101}, "no_answer.retries must be 0..100"),
        ({"postpone_min": 30, "retries": 2.5}, "no_answer.retries must be 0..100"),
        ({"postpone_min": 30, "retries": True}, "no_answer.retries must be 0..100"),
        ({"postpone_min": None, "retries": 3}, "no_answer.postpone_min is missing"),
    ],
)
def test_a_value_out_of_range_or_of_the_wrong_kind_says_its_range(
    rule: dict[str, Any], message: str
) -> None:
    assert problem(rules(**rule)) == message
