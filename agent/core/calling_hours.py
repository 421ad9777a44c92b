"""Calling hours (B3): when a number may be dialled, in the contact's local time.

The window is a team setting (``team.calling_window``: ``{"start": "09:00",
"end": "20:00", "days": [1..7]}`` in ISO weekdays, or null for none). A number's
zone comes from its numbering plan (``numbers.local_time_zone``), else the team's
(features.md, Defaults). Zones arrive here as ``tzinfo`` values: the adapter
resolves names (zoneinfo reads files; the core does no I/O).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Any

# A window opens at most a week after any moment (days is not empty).
_WEEK = 8


@dataclass(frozen=True, slots=True)
class CallingWindow:
    start: time
    end: time
    days: frozenset[int]  # ISO weekdays, 1 = Monday

    @classmethod
    def from_setting(cls, value: Mapping[str, Any] | None) -> CallingWindow | None:
        """The setting as checked by agent/core/settings.py; None: no window (any time)."""
        if value is None:
            return None
        return cls(
            start=time.fromisoformat(str(value["start"])),
            end=time.fromisoformat(str(value["end"])),
            days=frozenset(int(d) for d in value["days"]),
        )

    def describe(self) -> str:
        """ "09:00–20:00 Mon–Sat" style text for reasons in the list."""
        names = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
        days = ",".join(names[d - 1] for d in sorted(self.days)) or "no days"
        return f"{self.start:%H:%M}–{self.end:%H:%M} {days}"


def is_open(window: CallingWindow | None, zone: tzinfo, now: datetime) -> bool:
    """May a number in ``zone`` be dialled at ``now``? Start inclusive, end exclusive."""
    if window is None:
        return True
    local = now.astimezone(zone)
    return local.isoweekday() in window.days and window.start <= local.time() < window.end


def next_opening(window: CallingWindow | None, zone: tzinfo, after: datetime) -> datetime | None:
    """The first instant at or after ``after`` when the window is open (``after`` itself
    when open now); None when the window has no days at all."""
    if is_open(window, zone, after):
        return after
    assert window is not None
    if not window.days:
        return None
    local_day = after.astimezone(zone).date()
    for offset in range(_WEEK):
        day = local_day + timedelta(days=offset)
        if day.isoweekday() not in window.days:
            continue
        # A local start that a DST jump skips is read by zoneinfo as the later side.
        opens = datetime.combine(day, window.start, tzinfo=zone).astimezone(UTC)
        if opens >= after:
            return opens
    return None
