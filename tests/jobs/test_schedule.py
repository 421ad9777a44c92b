"""Job schedules as a pure "next run after t", and the lease rule (G2, G6, B5)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from agent.core.errors import InvalidInput
from agent.core.schedule import (
    Cron,
    Every,
    LeaseState,
    Verdict,
    lease_verdict,
    next_period,
    next_run,
    parse_schedule,
    runs_between,
    schedule_problem,
)
from agent.core.settings import TeamSettings, parse_settings

KYIV = ZoneInfo("Europe/Kyiv")


def kyiv(*args: int) -> datetime:
    return datetime(*args, tzinfo=KYIV).astimezone(UTC)  # type: ignore[misc]


# ------------------------------------------------------------------ reading


def test_every_n_minutes_within_a_daily_window_is_read() -> None:
    assert parse_schedule("every 15 min 08:00-21:00") == Every(
        timedelta(minutes=15), (time(8), time(21))
    )


@pytest.mark.parametrize(
    ("text", "step"),
    [
        ("every 5 s", timedelta(seconds=5)),
        ("Every 2 Hours", timedelta(hours=2)),
        ("every 90 minutes", timedelta(minutes=90)),
        ("every 1 sec", timedelta(seconds=1)),
    ],
)
def test_units_are_seconds_minutes_or_hours(text: str, step: timedelta) -> None:
    schedule = parse_schedule(text)
    assert isinstance(schedule, Every)
    assert schedule.step == step


def test_weekdays_are_read_by_name_or_number() -> None:
    by_name = parse_schedule("every 1 h 09:00-18:00 on mon-fri, sun")
    by_number = parse_schedule("every 1 h 09:00-18:00 on 1-5,7")
    assert isinstance(by_name, Every)
    assert by_name.days == frozenset({1, 2, 3, 4, 5, 7}) == by_number.days  # type: ignore[union-attr]


def test_a_cron_expression_is_read_by_cronsim() -> None:
    assert parse_schedule(" */30  8-20 * * 1-5 ") == Cron("*/30 8-20 * * 1-5")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "every",
        "every 15 fortnights",
        "every 0 min",
        "every 25 h",
        "every 15 min 08:00-08:00",
        "every 15 min 25:00-26:00",
        "every 15 min on funday",
        "every 15 min on fri-mon",
        "*/61 * * *",
        "not a schedule",
    ],
)
def test_a_bad_schedule_says_what_is_wrong(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_schedule(text)
    assert caught.value.field == "schedule"
    assert schedule_problem(text) == str(caught.value)


def test_the_settings_refuse_a_bad_schedule_and_keep_the_default() -> None:
    team, errors = parse_settings(TeamSettings, {"history_schedule": "every 0 min"})
    assert team.history_schedule == TeamSettings().history_schedule
    assert [e.field for e in errors] == ["history_schedule"]


# ------------------------------------------------------------------ next run


def test_runs_are_aligned_to_the_window_start_and_the_end_is_included() -> None:
    schedule = parse_schedule("every 15 min 08:00-21:00")
    assert next_run(schedule, kyiv(2025, 3, 3, 8, 7), KYIV) == kyiv(2025, 3, 3, 8, 15)
    assert next_run(schedule, kyiv(2025, 3, 3, 20, 50), KYIV) == kyiv(2025, 3, 3, 21, 0)
    assert next_run(schedule, kyiv(2025, 3, 3, 21, 0), KYIV) == kyiv(2025, 3, 4, 8, 0)
    assert next_run(schedule, kyiv(2025, 3, 3, 3, 0), KYIV) == kyiv(2025, 3, 3, 8, 0)


def test_the_next_run_is_strictly_after_the_given_time() -> None:
    schedule = parse_schedule("every 15 min")
    at = kyiv(2025, 3, 3, 10, 15)
    assert next_run(schedule, at, KYIV) == kyiv(2025, 3, 3, 10, 30)
    assert next_run(schedule, at - timedelta(microseconds=1), KYIV) == at


def test_without_a_window_runs_are_aligned_to_midnight() -> None:
    schedule = parse_schedule("every 7 min")
    assert next_run(schedule, kyiv(2025, 3, 3, 23, 58), KYIV) == kyiv(2025, 3, 4, 0, 0)
    assert next_run(schedule, kyiv(2025, 3, 3, 0, 1), KYIV) == kyiv(2025, 3, 3, 0, 7)


def test_seconds_schedules_run_on_whole_multiples() -> None:
    schedule = parse_schedule("every 2 s")
    at = datetime(2025, 3, 3, 10, 0, 1, 500_000, tzinfo=UTC)
    assert next_run(schedule, at, UTC) == datetime(2025, 3, 3, 10, 0, 2, tzinfo=UTC)


def test_weekdays_outside_the_list_are_skipped() -> None:
    schedule = parse_schedule("every 1 h 09:00-18:00 on mon-fri")
    friday_evening = kyiv(2025, 3, 7, 18, 30)  # 2025-03-07 is a Friday
    assert next_run(schedule, friday_evening, KYIV) == kyiv(2025, 3, 10, 9, 0)


def test_a_window_past_midnight_runs_into_the_next_day() -> None:
    schedule = parse_schedule("every 1 h 22:00-02:00 on mon")
    monday_night = kyiv(2025, 3, 3, 23, 30)
    assert next_run(schedule, monday_night, KYIV) == kyiv(2025, 3, 4, 0, 0)
    assert next_run(schedule, kyiv(2025, 3, 4, 2, 0), KYIV) == kyiv(2025, 3, 10, 22, 0)


def test_times_are_the_team_zones_wall_clock_across_daylight_saving() -> None:
    schedule = parse_schedule("every 1 h 08:00-10:00")
    before = kyiv(2025, 3, 29, 10, 30)  # Kyiv moves to +03:00 on 30 March 2025
    assert next_run(schedule, before, KYIV) == datetime(2025, 3, 30, 5, 0, tzinfo=UTC)


def test_a_cron_schedule_uses_the_team_zone() -> None:
    schedule = parse_schedule("0 9 * * 1-5")
    assert next_run(schedule, kyiv(2025, 3, 7, 9, 0), KYIV) == kyiv(2025, 3, 10, 9, 0)


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        next_run(parse_schedule("every 5 min"), datetime(2025, 1, 1), UTC)


def test_runs_between_lists_the_runs_of_a_span() -> None:
    runs = runs_between(
        parse_schedule("every 6 h"), kyiv(2025, 3, 3, 0, 0), kyiv(2025, 3, 4, 0, 0), KYIV
    )
    assert runs == [kyiv(2025, 3, 3, h, 0) for h in (6, 12, 18)] + [kyiv(2025, 3, 4, 0, 0)]


def test_after_a_long_run_one_catch_up_period_runs_not_one_per_missed_period() -> None:
    schedule = parse_schedule("every 15 min")
    done = kyiv(2025, 3, 3, 10, 0)
    now = kyiv(2025, 3, 3, 10, 50)
    assert next_period(schedule, done, now, KYIV) == kyiv(2025, 3, 3, 10, 45)
    assert next_period(schedule, done, kyiv(2025, 3, 3, 10, 5), KYIV) == kyiv(2025, 3, 3, 10, 15)


# ------------------------------------------------------------------ leases (B5)

T = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
LATER = T + timedelta(minutes=15)


def test_a_free_job_is_claimed_for_a_period_that_has_not_run() -> None:
    assert lease_verdict(LeaseState(), period=T, now=T, manual=False) == (Verdict.CLAIM, T)
    done = LeaseState("a", T, running=False)
    assert lease_verdict(done, period=LATER, now=LATER, manual=False) == (Verdict.CLAIM, LATER)


def test_a_period_that_ran_already_is_done() -> None:
    done = LeaseState("a", T, running=False)
    assert lease_verdict(done, period=T, now=T, manual=False)[0] is Verdict.DONE


def test_a_live_lease_is_busy_and_an_expired_one_is_taken_over() -> None:
    running = LeaseState("a", T, running=True, expires_at=T + timedelta(seconds=60))
    assert lease_verdict(running, period=T, now=T + timedelta(seconds=30), manual=False)[0] is (
        Verdict.BUSY
    )
    verdict = lease_verdict(running, period=T, now=T + timedelta(seconds=61), manual=False)
    assert verdict == (Verdict.TAKE_OVER, T)


def test_a_take_over_runs_the_newer_of_the_dead_period_and_ours() -> None:
    dead = LeaseState("a", T, running=True, expires_at=T)
    assert lease_verdict(dead, period=LATER, now=LATER, manual=False) == (
        Verdict.TAKE_OVER,
        LATER,
    )


def test_run_now_needs_only_a_free_job() -> None:
    done = LeaseState("a", LATER, running=False)
    assert lease_verdict(done, period=T, now=T, manual=True) == (Verdict.CLAIM, T)
    running = LeaseState("a", T, running=True, expires_at=LATER)
    assert lease_verdict(running, period=T, now=T, manual=True)[0] is Verdict.BUSY
