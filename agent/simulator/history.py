"""Call history: the three ``*.api`` endpoints' query language and record store.

phonet-api.md §2.3: ``timeFrom``/``timeTo`` in epoch ms, ``limit`` 1..50, ``offset``,
and ``directions`` in any of three encodings, none confirmed: a repeated key
(``directions=2&directions=4``), PHP array keys (``directions[]=2``,
``directions[0]=2``) and a summed bitmask (``directions=6``). lgDirection values are
powers of two, so all three fold into one bitmask: a record matches when
``lgDirection & mask``. Decisions where the sources are silent (contracts.md §3 and
docs/architecture/simulator.md): the window on ``endAt`` is inclusive; ``limit``
above 50 is clamped to 50, below 1 is refused; a missing bound is open; newest
``endAt`` first.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from agent.simulator.model import Disposition, LgDirection

MAX_LIMIT = 50
_DIRECTIONS_KEY = re.compile(r"^directions(\[\d*\])?$")

Record = dict[str, Any]


class Scope(StrEnum):
    """Which history endpoint: ``/rest/calls/{scope}.api``."""

    COMPANY = "company"  # every record
    USERS = "users"  # records with an employee leg
    MISSED = "missed"  # incoming records with disposition != 0


class QueryError(ValueError):
    """A history query parameter the simulator refuses (answered with 400)."""


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    time_from: int | None = None
    time_to: int | None = None
    limit: int = MAX_LIMIT
    offset: int = 0
    directions: int | None = None  # a bitmask of lgDirection values


def _int(name: str, value: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise QueryError(f"{name} must be an integer") from None


def parse_query(params: Sequence[tuple[str, str]]) -> HistoryQuery:
    """Read the query string pairs (in order, repeated keys kept)."""
    single: dict[str, str] = {}
    mask: int | None = None
    for key, value in params:
        if _DIRECTIONS_KEY.match(key):
            for part in value.split(","):
                bits = _int("directions", part)
                if bits <= 0:
                    raise QueryError("directions must be positive")
                mask = (mask or 0) | bits
        else:
            single[key] = value
    limit = _int("limit", single["limit"]) if "limit" in single else MAX_LIMIT
    offset = _int("offset", single["offset"]) if "offset" in single else 0
    if limit < 1:
        raise QueryError("limit must be at least 1")
    if offset < 0:
        raise QueryError("offset must not be negative")
    return HistoryQuery(
        time_from=_int("timeFrom", single["timeFrom"]) if "timeFrom" in single else None,
        time_to=_int("timeTo", single["timeTo"]) if "timeTo" in single else None,
        limit=min(limit, MAX_LIMIT),
        offset=offset,
        directions=mask,
    )


def _has_employee_leg(record: Record) -> bool:
    return any(
        isinstance(leg, dict) and bool(leg.get("ext"))
        for leg in (record.get("leg"), record.get("leg2"))
    )


def _is_missed(record: Record) -> bool:
    return (
        record.get("lgDirection") == LgDirection.IN
        and record.get("disposition") != Disposition.ANSWERED
    )


SCOPES: dict[Scope, Callable[[Record], bool]] = {
    Scope.COMPANY: lambda record: True,
    Scope.USERS: _has_employee_leg,
    Scope.MISSED: _is_missed,
}


def check_record(record: object) -> str | None:
    """Why a raw record cannot be stored (None if it can): it needs an int ``endAt``."""
    if not isinstance(record, dict):
        return "a record must be a JSON object"
    end_at = record.get("endAt")
    if not isinstance(end_at, int) or isinstance(end_at, bool):
        return "endAt must be an integer (epoch ms)"
    return None


class HistoryStore:
    """Completed-call records, served newest ``endAt`` first.

    Each (scope, directions) view is filtered and sorted once per change of the
    store, so paging through a large history costs a bisect and a slice per page.
    """

    def __init__(self) -> None:
        self._records: list[tuple[int, int, Record]] = []  # (endAt, seq, record)
        self._version = 0
        self._views: dict[tuple[Scope, int | None], tuple[int, list[int], list[Record]]] = {}

    def __len__(self) -> int:
        return len(self._records)

    def add(self, records: Iterable[Record]) -> int:
        count = 0
        for record in records:
            self._records.append((int(record["endAt"]), len(self._records), record))
            count += 1
        self._version += 1
        return count

    def clear(self) -> None:
        self._records.clear()
        self._views.clear()
        self._version += 1

    def all(self) -> list[Record]:
        return self._view(Scope.COMPANY, None)[1]

    def query(self, scope: Scope, query: HistoryQuery) -> list[Record]:
        keys, rows = self._view(scope, query.directions)
        # keys are -endAt ascending, so rows run newest first; the window is inclusive.
        lo = 0 if query.time_to is None else bisect.bisect_left(keys, -query.time_to)
        hi = len(keys) if query.time_from is None else bisect.bisect_right(keys, -query.time_from)
        start = lo + query.offset
        return rows[start : min(hi, start + query.limit)]

    def _view(self, scope: Scope, directions: int | None) -> tuple[list[int], list[Record]]:
        cached = self._views.get((scope, directions))
        if cached is not None and cached[0] == self._version:
            return cached[1], cached[2]
        wanted = SCOPES[scope]
        chosen = [
            (end_at, seq, record)
            for end_at, seq, record in self._records
            if wanted(record) and _direction_matches(record, directions)
        ]
        # Newest first; among equal endAt, the record added last first.
        chosen.sort(key=lambda item: (-item[0], -item[1]))
        keys = [-end_at for end_at, _, _ in chosen]
        rows = [record for _, _, record in chosen]
        self._views[scope, directions] = (self._version, keys, rows)
        return keys, rows


def _direction_matches(record: Record, directions: int | None) -> bool:
    if directions is None:
        return True
    value = record.get("lgDirection")
    return isinstance(value, int) and bool(value & directions)
