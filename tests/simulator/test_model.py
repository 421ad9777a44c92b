"""The simulator's pure parts: the call state machine, history queries, masking."""

from __future__ import annotations

import pytest

from agent.simulator.history import HistoryQuery, HistoryStore, QueryError, Scope, parse_query
from agent.simulator.masking import mask
from agent.simulator.model import (
    TRANSITIONS,
    Call,
    InvalidTransition,
    Kind,
    Phase,
    Plan,
    Trigger,
    User,
    WireEvent,
    fire,
    next_step,
)

USER = User(1, "001", "Олена", "o@x")
PLAN = Plan()


def call(plan: Plan = PLAN, phase: Phase = Phase.RINGING) -> Call:
    return Call("a" * 32, Kind.IN, USER, "+380501234567", plan, dial_at=100.0, phase=phase)


def test_an_answered_call_sends_dial_then_bridge_then_hangup_with_disposition_0() -> None:
    c = call()
    assert fire(c, Trigger.ANSWER, 101.0) is WireEvent.BRIDGE
    assert fire(c, Trigger.HANGUP, 104.0) is WireEvent.HANGUP
    assert (c.phase, c.disposition, c.talk_s(0), c.duration_s()) == (Phase.ENDED, 0, 3, 4)


def test_an_unanswered_call_ends_with_disposition_1_and_no_talk() -> None:
    c = call()
    assert fire(c, Trigger.HANGUP, 110.0) is WireEvent.HANGUP
    assert (c.disposition, c.talk_s(0), c.duration_s()) == (1, 0, 10)


def test_an_explicit_disposition_wins() -> None:
    c = call()
    fire(c, Trigger.HANGUP, 101.0, disposition=4)
    assert c.disposition == 4


def test_the_operator_answering_a_make_call_sends_nothing_and_rings_the_far_end() -> None:
    c = call(phase=Phase.OPERATOR_RINGING)
    assert fire(c, Trigger.OPERATOR_ANSWER, 100.5) is None
    assert c.phase is Phase.RINGING and c.phase_at == 100.5


def test_answering_a_talking_call_again_is_harmless() -> None:
    c = call()
    fire(c, Trigger.ANSWER, 101.0)
    assert fire(c, Trigger.ANSWER, 102.0) is None
    assert c.bridge_at == 101.0


@pytest.mark.parametrize("trigger", list(Trigger))
def test_an_ended_call_takes_no_trigger(trigger: Trigger) -> None:
    c = call()
    fire(c, Trigger.HANGUP, 101.0)
    with pytest.raises(InvalidTransition):
        fire(c, trigger, 102.0)


def test_every_pair_missing_from_the_table_raises() -> None:
    for phase in Phase:
        for trigger in Trigger:
            if (phase, trigger) not in TRANSITIONS:
                with pytest.raises(InvalidTransition):
                    fire(call(phase=phase), trigger, 101.0)


def test_next_step_follows_the_plan_from_the_phase_start() -> None:
    step = next_step(call(phase=Phase.OPERATOR_RINGING), 0.5)
    assert step is not None and (step.at, step.trigger) == (100.5, Trigger.OPERATOR_ANSWER)
    step = next_step(call(Plan(ring_s=3.0)), 1.0)
    assert step is not None and (step.at, step.trigger) == (103.0, Trigger.ANSWER)
    step = next_step(call(Plan(ring_s=3.0, answer=False, disposition=4)), 1.0)
    assert step is not None and (step.trigger, step.disposition) == (Trigger.HANGUP, 4)
    talking = call(Plan(talk_s=7.0), phase=Phase.TALKING)
    step = next_step(talking, 1.0)
    assert step is not None and (step.at, step.trigger, step.disposition) == (
        107.0,
        Trigger.HANGUP,
        0,
    )


def test_null_times_wait_for_the_control_api() -> None:
    assert next_step(call(Plan(ring_s=None)), 1.0) is None
    assert next_step(call(Plan(talk_s=None), phase=Phase.TALKING), 1.0) is None


# ------------------------------------------------------------------- history query


@pytest.mark.parametrize(
    "pairs",
    [
        [("directions", "2"), ("directions", "4")],
        [("directions[]", "2"), ("directions[]", "4")],
        [("directions[0]", "2"), ("directions[1]", "4")],
        [("directions", "6")],
        [("directions", "2,4")],
    ],
)
def test_every_directions_encoding_is_one_bitmask(pairs: list[tuple[str, str]]) -> None:
    assert parse_query(pairs).directions == 6


def test_limit_is_clamped_to_50_and_defaults_to_50() -> None:
    assert parse_query([("limit", "500")]).limit == 50
    assert parse_query([]) == HistoryQuery()


@pytest.mark.parametrize(
    "pairs",
    [[("limit", "0")], [("offset", "-1")], [("timeFrom", "yesterday")], [("directions", "0")]],
)
def test_bad_history_parameters_are_refused(pairs: list[tuple[str, str]]) -> None:
    with pytest.raises(QueryError):
        parse_query(pairs)


def test_the_store_pages_newest_first_within_an_inclusive_window() -> None:
    store = HistoryStore()
    store.add({"uuid": str(i), "endAt": 1000 * i, "lgDirection": 4} for i in range(1, 11))
    page = store.query(Scope.COMPANY, HistoryQuery(time_from=3000, time_to=8000, limit=4))
    assert [r["uuid"] for r in page] == ["8", "7", "6", "5"]
    page = store.query(Scope.COMPANY, HistoryQuery(time_from=3000, time_to=8000, offset=4))
    assert [r["uuid"] for r in page] == ["4", "3"]
    store.add([{"uuid": "new", "endAt": 8000, "lgDirection": 2}])
    page = store.query(Scope.COMPANY, HistoryQuery(time_to=8000, limit=2))
    assert [r["uuid"] for r in page] == ["new", "8"]


def test_masking_hides_keys_and_sessions_in_queries_json_and_cookies() -> None:
    text = 'apiKey=abc&x=1 {"apiKey": "abc"} JSESSIONID=ABCDEF; other SECRET'
    masked = mask(text, ["SECRET"])
    assert "abc" not in masked and "ABCDEF" not in masked and "SECRET" not in masked
    assert "x=1" in masked
