"""Retry rules (U6, A6, B2, B17), the dial order (A4, U6 sort field, M6 ABC) and calling
hours (B3): examples, and hypothesis properties of the invariants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.core.calling_hours import CallingWindow, is_open, next_opening
from agent.core.dial_list import EntryState, Tries, abc_order, pick, shown_state, sort_key
from agent.core.outcomes import Outcome
from agent.core.retry_rules import OutcomeClass, class_of, decide
from tests.dialer.core_support import T0, entry, rules

KYIV = ZoneInfo("Europe/Kyiv")

# ------------------------------------------------------------------ retry rules


def test_a_completed_call_marks_the_whole_contact_done_or_removes_it_u6() -> None:
    done = decide(rules(), Outcome.ANSWERED, Tries(), T0)
    assert (done.state, done.whole_contact, done.remove) == (EntryState.DONE, True, False)
    removed = decide(rules(on_complete="remove"), Outcome.ANSWERED, Tries(), T0)
    assert removed.remove and removed.whole_contact


def test_a_short_answer_counts_as_not_reached_under_the_no_answer_rule_b17() -> None:
    decision = decide(rules(), Outcome.NOT_REACHED, Tries(), T0)
    assert decision.state is EntryState.POSTPONED
    assert decision.next_dial_at == T0 + timedelta(minutes=30)
    assert decision.tries == Tries(no_answer=1)


def test_busy_and_failed_have_their_own_postpone_and_limit_b2() -> None:
    busy = decide(rules(), Outcome.BUSY, Tries(no_answer=3), T0)
    assert busy.state is EntryState.POSTPONED and busy.next_dial_at == T0 + timedelta(minutes=10)
    assert busy.tries == Tries(no_answer=3, busy=1)
    failed = decide(rules(), Outcome.CONGESTED, Tries(failed=2), T0)
    assert failed.state is EntryState.EXHAUSTED, "failed: 2 retries, this was the third"


def test_past_the_limit_the_entry_is_parked_or_removed() -> None:
    parked = decide(rules(), Outcome.NO_ANSWER, Tries(no_answer=3), T0)
    assert parked.state is EntryState.EXHAUSTED and not parked.remove
    assert decide(rules(on_exhausted="remove"), Outcome.NO_ANSWER, Tries(no_answer=3), T0).remove


outcomes = st.sampled_from(list(Outcome))


@settings(max_examples=300, deadline=None)
@given(st.lists(outcomes, min_size=1, max_size=30), st.integers(0, 5), st.integers(0, 5))
def test_retry_invariants_hold_for_any_run_of_outcomes(
    run: list[Outcome], na_retries: int, busy_retries: int
) -> None:
    """Dials of one class never exceed 1 + its retries; a postponed entry is never due
    before its last try plus the postpone; a completed one is never dialled again."""
    retry = {
        "no_answer": {"postpone_min": 30, "retries": na_retries},
        "busy": {"postpone_min": 10, "retries": busy_retries},
        "failed": {"postpone_min": 15, "retries": 2},
    }
    from agent.core.retry_rules import RetryRules

    the_rules = RetryRules.from_settings(retry)
    tries, at = Tries(), T0
    for outcome in run:
        decision = decide(the_rules, outcome, tries, at)
        cls = class_of(outcome)
        if cls is OutcomeClass.COMPLETED:
            assert decision.state is EntryState.DONE
            return
        limit = the_rules.rule_for(cls).retries
        count = getattr(decision.tries, cls.value)
        assert count == getattr(tries, cls.value) + 1
        if decision.state is EntryState.EXHAUSTED:
            assert count == limit + 1
            return
        assert count <= limit
        assert decision.next_dial_at == at + the_rules.rule_for(cls).postpone
        tries, at = decision.tries, decision.next_dial_at


# ------------------------------------------------------------------ sort keys and order


def test_sort_keys_order_numbers_numerically_text_without_case_and_missing_last() -> None:
    values = [10, 9.5, -3, "b", "A", "10.5", None, "", Decimal("2")]
    asc = sorted(values, key=lambda v: sort_key(v))
    assert asc == [-3, Decimal("2"), 9.5, 10, "10.5", "A", "b", None, ""]
    desc = sorted(values, key=lambda v: sort_key(v, descending=True))
    assert desc[:7] == ["b", "A", "10.5", 10, 9.5, Decimal("2"), -3]
    assert set(desc[7:]) == {None, ""}, "missing values last in both directions"


sortable = st.one_of(
    st.integers(-(10**9), 10**9),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(alphabet="abcXYZ ёя01", max_size=6),
)


def _natural(value: object) -> tuple[int, object]:
    if isinstance(value, str):
        stripped = value.strip()
        try:
            return (0, float(stripped.replace(" ", "").replace(",", ".")))
        except ValueError:
            return (1, stripped.casefold())
    return (0, float(value))  # type: ignore[arg-type]


@settings(max_examples=400, deadline=None)
@given(sortable, sortable)
def test_sort_keys_keep_the_values_order_in_both_directions(a: object, b: object) -> None:
    if (isinstance(a, str) and not a.strip()) or (isinstance(b, str) and not b.strip()):
        return
    na, nb = _natural(a), _natural(b)
    if na == nb:
        assert sort_key(a) == sort_key(b)
        return
    assert (sort_key(a) < sort_key(b)) == (na < nb)
    assert (sort_key(a, True) < sort_key(b, True)) == (na > nb)


def test_smart_mode_takes_the_earliest_next_dial_then_the_fewest_attempts_a4() -> None:
    later = entry(1, next_dial_at=T0 - timedelta(minutes=1), attempts=0)
    earlier_more = entry(2, "+380501111111", next_dial_at=T0 - timedelta(minutes=5), attempts=2)
    earlier_fewer = entry(3, "+380502222222", next_dial_at=T0 - timedelta(minutes=5), attempts=1)
    future = entry(4, "+380503333333", next_dial_at=T0 + timedelta(minutes=1))
    chosen = pick([later, earlier_more, earlier_fewer, future], T0, smart=True)
    assert chosen is not None and chosen.id == 3
    plain = pick([later, earlier_more, earlier_fewer, future], T0, smart=False)
    assert plain is not None and plain.id == 1, "plain mode keeps the list's order"


def test_the_extra_sort_field_breaks_ties_in_its_direction_u6() -> None:
    low = entry(1, sort_key=sort_key(100, descending=True))
    high = entry(2, "+380501111111", sort_key=sort_key(900, descending=True))
    chosen = pick([low, high], T0, smart=True)
    assert chosen is not None and chosen.id == 2


def test_dnc_and_closed_zones_and_finished_entries_are_never_picked_b3() -> None:
    dnc = entry(1, "+380501111111")
    far = entry(2, "+12125551234", zone="America/New_York")
    done = entry(3, "+380502222222", state=EntryState.DONE)
    assert (
        pick([dnc, far, done], T0, smart=True, open_zones=[""], blocked=["+380501111111"]) is None
    )


def test_abc_sort_puts_a_first_ascending_and_c_first_descending_unclassed_last() -> None:
    entries = [entry(i, f"+38050000000{i}", contact_id=i) for i in range(1, 6)]
    classes = {1: "C", 2: "A", 3: "B", 5: "A"}
    assert abc_order(entries, classes, descending=False) == [2, 5, 3, 1, 4]
    assert abc_order(entries, classes, descending=True) == [1, 3, 2, 5, 4]


def test_an_entry_waiting_for_its_window_or_on_dnc_says_why_b3() -> None:
    due = entry(1)
    shut = shown_state(
        due, T0, window_open=False, opens_at=T0 + timedelta(hours=2), window_text="09–20",
        on_dnc=False,
    )  # fmt: skip
    assert shut.state is EntryState.OUTSIDE_HOURS and shut.reason is not None
    assert "09–20" in shut.reason
    banned = shown_state(due, T0, window_open=True, opens_at=None, window_text="", on_dnc=True)
    assert banned.state is EntryState.DNC


# ------------------------------------------------------------------ calling hours


WINDOW = CallingWindow.from_setting({"start": "09:00", "end": "20:00", "days": [1, 2, 3, 4, 5, 6]})


def test_the_window_is_read_in_the_numbers_own_zone_b3() -> None:
    # 2024-05-06 (Monday) 05:30 UTC is 08:30 in Kyiv, 01:30 in New York.
    now = datetime(2024, 5, 6, 5, 30, tzinfo=UTC)
    assert not is_open(WINDOW, KYIV, now)
    assert next_opening(WINDOW, KYIV, now) == datetime(2024, 5, 6, 6, 0, tzinfo=UTC)
    assert is_open(WINDOW, KYIV, now + timedelta(minutes=30))
    assert not is_open(WINDOW, KYIV, datetime(2024, 5, 6, 17, 0, tzinfo=UTC)), "20:00 is shut"


def test_a_sunday_waits_for_monday_and_no_window_means_any_time() -> None:
    sunday_noon = datetime(2024, 5, 5, 9, 0, tzinfo=UTC)
    assert next_opening(WINDOW, KYIV, sunday_noon) == datetime(2024, 5, 6, 6, 0, tzinfo=UTC)
    assert is_open(None, KYIV, sunday_noon)


def test_the_window_opens_at_local_nine_across_a_dst_change() -> None:
    # Kyiv moved to summer time on 2024-03-31 (Sunday): Monday 09:00 is 06:00 UTC.
    saturday_night = datetime(2024, 3, 30, 20, 0, tzinfo=UTC)
    assert next_opening(WINDOW, KYIV, saturday_night) == datetime(2024, 4, 1, 6, 0, tzinfo=UTC)


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(2023, 1, 1), max_value=datetime(2026, 1, 1)))
def test_the_next_opening_is_open_and_nothing_before_it_is(naive: datetime) -> None:
    now = naive.replace(tzinfo=UTC)
    opens = next_opening(WINDOW, KYIV, now)
    assert opens is not None and opens >= now
    assert is_open(WINDOW, KYIV, opens)
    step = now
    while step < opens:  # hourly probes before it are all shut
        assert not is_open(WINDOW, KYIV, step)
        step += timedelta(minutes=59)
