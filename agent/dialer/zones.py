"""Time zones for calling hours (B3): a number's zone from its numbering plan, and
zone names as ``tzinfo`` (zoneinfo reads files: an adapter's job, not the core's)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

log = logging.getLogger(__name__)

# Zones come by number prefix; the first 8 characters of E.164 hold phonenumbers' map
# keys for nearly every plan, so a 100k-row import walks the map a few thousand times.
_PREFIX = 8


class NumberZones:
    """A number's IANA zone name ('' = the team's), cached by prefix.

    The longest prefix of the number in phonenumbers' timezone map names the zones
    (phonenumbers.timezone without its parse, ~1 ms a number). A plan that names
    several zones for a prefix (a whole country, "+7", "+1") says nothing certain:
    the team's zone is taken when it is one of them, else the first.
    """

    def __init__(self, team_zone: str = "") -> None:
        self.team_zone = team_zone
        self._by_prefix: dict[str, str] = {}
        self._data: Mapping[str, Sequence[str]] | None = None
        self._longest = 0

    def __call__(self, e164: str) -> str:
        if not e164.startswith("+"):
            return ""
        prefix = e164[:_PREFIX]
        found = self._by_prefix.get(prefix)
        if found is None:
            found = self._look_up(e164[1:])
            self._by_prefix[prefix] = found
        return found

    def _look_up(self, digits: str) -> str:
        if self._data is None:
            from phonenumbers import tzdata  # large data: load on first use

            self._data = tzdata.TIMEZONE_DATA
            self._longest = int(tzdata.TIMEZONE_LONGEST_PREFIX)
        for length in range(min(len(digits), self._longest), 0, -1):
            zones = self._data.get(digits[:length])
            if zones:
                break
        else:
            return ""
        known = [z for z in zones if _known(z)]
        if not known or (len(known) > 1 and self.team_zone in known):
            return ""
        return known[0]


@lru_cache(maxsize=512)
def _known(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


@lru_cache(maxsize=256)
def tz(name: str) -> tzinfo:
    """A zone by name; UTC (logged once) for a name this machine does not know."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown time zone %r; calling hours use UTC for it", name)
        return UTC
