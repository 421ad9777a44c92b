"""Job schedules as a pure "next run after t" (G2, G6; manual §7).

A schedule is text an admin types in the settings, in one of two forms:

- ``every N UNIT [HH:MM-HH:MM] [on DAYS]``: every N seconds, minutes or hours
  (``s``/``sec``, ``min``, ``h``), optionally only within a daily window (both ends
  included; a window whose end is before its start runs past midnight) and on some
  weekdays (``mon-fri``, ``mon,wed,fri``, ``1-5``; ISO numbers, Monday = 1).
  Runs are aligned to the window's start (or midnight), so every agent of a team
  computes the same instants and one run per instant is one period (B5).
  Examples: ``every 15 min 08:00-21:00``, ``every 2 h on mon-sat``, ``every 5 s``.
- a cron expression, computed by cronsim (``*/30 8-20 * * 1-5``).

Times are wall-clock times of the team's time zone (features.md, "Defaults": job
windows); the zone is an argument, so this module reads no tz database and no clock
(architecture.md, rule 1). Results are aware UTC datetimes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum

from cronsim import CronSim, CronSimError

from agent.core.errors import InvalidInput

ALL_DAYS = frozenset(range(1, 8))
MIN_STEP = timedelta(seconds=1)
MAX_STEP = timedelta(days=1)
# How many days ahead a schedule may find no run before it is called "never".
_HORIZON_DAYS = 9

_UNITS = {
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hour": 3600,
    "hours": 3600,
}
_DAY_NAMES = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}
_EVERY = re.compile(
    r"^every\s+(?P<n>\d+)\s*(?P<unit>[a-z]+)"
    r"(?:\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2}))?"
    r"(?:\s+on\s+(?P<days>[a-z0-9,\s-]+))?$"
)


@dataclass(frozen=True, slots=True)
class Every:
    """Every ``step``, from ``window[0]`` up to ``window[1]`` (whole day when None)."""

    step: timedelta
    window: tuple[time, time] | None = None
    days: frozenset[int] = ALL_DAYS


@dataclass(frozen=True, slots=True)
class Cron:
    expr: str


Schedule = Every | Cron


def parse_schedule(text: str) -> Schedule:
    """The schedule a settings text means; :class:`InvalidInput` (field ``schedule``)
    saying what is wrong otherwise."""
    cleaned = " ".join(text.strip().lower().split())
    if not cleaned:
        raise InvalidInput("the schedule is empty", field="schedule")
    if cleaned.startswith("every"):
        return _parse_every(cleaned)
    try:
        sim = CronSim(cleaned, datetime(2000, 1, 1, tzinfo=UTC))
        next(sim)
    except (CronSimError, StopIteration, ValueError) as exc:
        raise InvalidInput(
            f"not a schedule: {exc or 'never runs'} (write `every 15 min 08:00-21:00` "
            "or a cron expression such as `*/30 8-20 * * 1-5`)",
            field="schedule",
        ) from exc
    return Cron(cleaned)


def schedule_problem(text: object) -> str | None:
    """For the settings layer: None when ``text`` is a schedule, else why not."""
    if not isinstance(text, str):
        return "must be text"
    try:
        parse_schedule(text)
    except InvalidInput as exc:
        return str(exc)
    return None


def _parse_every(text: str) -> Every:
    match = _EVERY.match(text)
    if match is None:
        raise InvalidInput(
            f"cannot read {text!r}: write e.g. `every 15 min`, `every 15 min 08:00-21:00` "
            "or `every 2 h 09:00-18:00 on mon-fri`",
            field="schedule",
        )
    unit = _UNITS.get(match["unit"])
    if unit is None:
        raise InvalidInput(f"unknown unit {match['unit']!r}: use s, min or h", field="schedule")
    step = timedelta(seconds=int(match["n"]) * unit)
    if not MIN_STEP <= step <= MAX_STEP:
        raise InvalidInput("the interval must be between 1 s and 24 h", field="schedule")
    window = None
    if match["start"] is not None:
        window = (_hhmm(match["start"]), _hhmm(match["end"]))
        if window[0] == window[1]:
            raise InvalidInput("the window's start and end are the same", field="schedule")
    days = _days(match["days"]) if match["days"] else ALL_DAYS
    return Every(step, window, days)


def _hhmm(text: str) -> time:
    hours, minutes = (int(part) for part in text.split(":"))
    if hours > 23 or minutes > 59:
        raise InvalidInput(f"{text} is not a time of day (HH:MM)", field="schedule")
    return time(hours, minutes)


def _days(text: str) -> frozenset[int]:
    days: set[int] = set()
    for part in (p.strip() for p in text.split(",")):
        first, _, last = part.partition("-")
        lo, hi = _day(first), _day(last or first)
        if lo > hi:
            raise InvalidInput(f"the day range {part!r} runs backwards", field="schedule")
        days.update(range(lo, hi + 1))
    return frozenset(days)


def _day(text: str) -> int:
    text = text.strip()
    value = _DAY_NAMES.get(text[:3]) if text.isalpha() else None
    if value is None and text.isdigit() and 1 <= int(text) <= 7:
        value = int(text)
    if value is None:
        raise InvalidInput(f"{text!r} is not a weekday (mon..sun or 1..7)", field="schedule")
    return value


# ------------------------------------------------------------------ next run


def next_run(schedule: Schedule, after: datetime, tz: tzinfo) -> datetime | None:
    """The first run strictly after ``after`` (aware), as an aware UTC datetime;
    None when the schedule never runs again (e.g. no weekday selected)."""
    if after.tzinfo is None:
        raise ValueError("naive datetime: give `after` a time zone")
    if isinstance(schedule, Cron):
        try:
            found: datetime = next(CronSim(schedule.expr, after.astimezone(tz)))
        except (CronSimError, StopIteration):
            return None
        return found.astimezone(UTC)
    return _next_every(schedule, after, tz)


def _next_every(schedule: Every, after: datetime, tz: tzinfo) -> datetime | None:
    local = after.astimezone(tz).replace(tzinfo=None)
    # A window past midnight that started yesterday may still be open today.
    for offset in range(-1, _HORIZON_DAYS):
        day = local.date() + timedelta(days=offset)
        if day.isoweekday() not in schedule.days:
            continue
        found = _next_in_day(schedule, day, local, after, tz)
        if found is not None:
            return found
    return None


def _next_in_day(
    schedule: Every, day: date, local: datetime, after: datetime, tz: tzinfo
) -> datetime | None:
    start, end, end_included = _bounds(schedule, day)
    step = schedule.step
    k = max(0, (local - start) // step) if local > start else 0
    while True:
        wall = start + k * step
        if wall > end or (wall == end and not end_included):
            return None
        instant = wall.replace(tzinfo=tz).astimezone(UTC)
        if instant > after:
            return instant
        k += 1  # wall clock and instants differ by DST: a few steps at most


def _bounds(schedule: Every, day: date) -> tuple[datetime, datetime, bool]:
    """The wall-clock span of the runs that start on ``day``, and whether its end is a run."""
    if schedule.window is None:
        start = datetime.combine(day, time(0, 0))
        return start, start + timedelta(days=1), False
    first, last = schedule.window
    start = datetime.combine(day, first)
    end = datetime.combine(day if last > first else day + timedelta(days=1), last)
    return start, end, True


def next_period(schedule: Schedule, done: datetime, now: datetime, tz: tzinfo) -> datetime | None:
    """The period to run once the period ``done`` has run: the latest run time in
    ``(done, now]`` when some passed meanwhile (one catch-up run, not one per
    missed period), else the first run after ``done``."""
    at = next_run(schedule, done, tz)
    while at is not None and at <= now:
        following = next_run(schedule, at, tz)
        if following is None or following > now:
            return at
        at = following
    return at


def runs_between(
    schedule: Schedule, start: datetime, end: datetime, tz: tzinfo, limit: int = 1000
) -> list[datetime]:
    """Every run in ``(start, end]`` (at most ``limit``): for the settings preview."""
    runs: list[datetime] = []
    at: datetime | None = start
    while len(runs) < limit:
        at = next_run(schedule, at, tz) if at is not None else None
        if at is None or at > end:
            break
        runs.append(at)
    return runs


# ------------------------------------------------------------------ periods and leases


class Verdict(StrEnum):
    """What an agent may do about a job's lease (B5: one run per period, team-wide)."""

    CLAIM = "claim"  # free, and the period has not run: take it
    TAKE_OVER = "take_over"  # the holder stopped renewing: take its period over
    BUSY = "busy"  # another agent runs the job now
    DONE = "done"  # this period (or a later one) ran already


@dataclass(frozen=True, slots=True)
class LeaseState:
    """A job's lease row as the database holds it."""

    holder: str | None = None
    period_at: datetime | None = None
    running: bool = False
    expires_at: datetime | None = None


def lease_verdict(
    lease: LeaseState, *, period: datetime, now: datetime, manual: bool
) -> tuple[Verdict, datetime]:
    """Whether the job may run for ``period`` now, and the period it would run for.

    A scheduled period runs once: a lease that already names that period or a
    later one (a "run now" after the slot) says DONE. A "run now" (``manual``)
    only needs the job to be free. A running lease whose ``expires_at`` passed
    belongs to an agent that died or lost the database: its period is taken over
    (the newer of its period and ours), and the job's checkpoint resumes it.
    """
    if lease.running:
        alive = lease.expires_at is not None and lease.expires_at > now
        if alive:
            return Verdict.BUSY, period
        taken = period if lease.period_at is None else max(lease.period_at, period)
        return Verdict.TAKE_OVER, taken
    if manual or lease.period_at is None or lease.period_at < period:
        return Verdict.CLAIM, period
    return Verdict.DONE, period
