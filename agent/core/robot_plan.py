"""Robot import (J2): SpRobot's answers become planned events (manual §1.1, §7 item 2; G6).

SpRobot (a cold-calling robot) keeps its results in MS SQL. Its schema is the
customer's (phonet-api.md §6: nothing public exists), so the admin writes the query,
and the query must return these columns (docs/robot-import.md):

=============  =========================================================
``call_id``    the robot's id of the call: the import is idempotent by it
``phone``      the number the robot called (any format; E.164 is stored)
``dtmf``       the key(s) the subscriber pressed
``called_at``  when the robot called (a naive time is the team's zone)
=============  =========================================================

A row whose DTMF code is in the G6 table becomes a planned event with that code's
importance under the robot identity; a code not in the table is skipped and
counted (manual: «если код не указан, такой звонок пропускается»).

The query may use ``:since`` for the time of the last import, bound by
:func:`bind_query` in the driver's own parameter style (pymssql and psycopg2
``%(since)s``, sqlite3 ``:since``), a literal ``%`` doubled only for a driver that
reads ``%%`` back as ``%`` (psycopg2, not pymssql).

Pure: no database, no clock (architecture.md, rule 1).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from agent.core.errors import ConfigError
from agent.core.events import normalise_uuid
from agent.core.numbers import to_e164

COLUMNS = ("call_id", "phone", "dtmf", "called_at")
DEFAULT_QUERY = (
    "SELECT call_id, phone, dtmf, called_at FROM dbo.robot_results "
    "WHERE called_at >= :since ORDER BY called_at"
)
CALL_ID_MAX = 40  # G5: an event's call id field holds 40 characters
SHORT_REF = "robot:"  # + the robot's call id, when it fits in CALL_ID_MAX
LONG_REF = "robot#"  # + 34 hex digits of the SHA-256 of a longer call id (136 bits)
PARAMS = ("since",)
_PARAM = re.compile(r"(?<![:\w]):(" + "|".join(PARAMS) + r")\b")


@dataclass(frozen=True, slots=True)
class RobotRow:
    call_id: str
    phone: str
    dtmf: str
    called_at: datetime | None
    row: int = 0  # 1-based position in the query's result


@dataclass(frozen=True, slots=True)
class RowProblem:
    """A row that cannot be used; ``row`` counts from 1 in the query's result."""

    row: int
    reason: str


@dataclass(frozen=True, slots=True)
class RobotEventDraft:
    """A planned event (U8 fields: number, importance) for a robot answer (J2)."""

    robot_call_id: str
    number: str
    dtmf: str
    importance: str
    called_at: datetime | None
    operator: str  # G6: the identity robot events are recorded under

    @property
    def ref(self) -> str:
        """The event's call id (G5, ≤ 40 characters), one per robot call id.

        ``robot:<call_id>`` written as events compare call ids (lower case, no dashes:
        events.normalise_uuid) when that fits; a longer id gets ``robot#`` and a hash
        of it instead, since cutting it to 40 made two ids with a common prefix one
        event (issue 6 audit). The short form is the one earlier versions wrote, so
        reruns over those ids still find their events; ``#`` never starts a short one.
        """
        ref = normalise_uuid(f"{SHORT_REF}{self.robot_call_id}")
        if len(ref) <= CALL_ID_MAX:
            return ref
        digest = hashlib.sha256(self.robot_call_id.encode("utf-8", "surrogatepass"))
        return LONG_REF + digest.hexdigest()[: CALL_ID_MAX - len(LONG_REF)]


@dataclass
class RobotPlan:
    events: list[RobotEventDraft] = field(default_factory=list)
    unmapped: Counter[str] = field(default_factory=Counter)  # DTMF code -> rows
    repeated: int = 0
    invalid: list[RowProblem] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "rows": len(self.events)
            + sum(self.unmapped.values())
            + self.repeated
            + len(self.invalid),
            "planned": len(self.events),
            "skipped_unmapped": sum(self.unmapped.values()),
            "skipped_repeated": self.repeated,
            "invalid": len(self.invalid),
        }


# ------------------------------------------------------------------ the query


def bind_query(
    query: str,
    paramstyle: str,
    params: Mapping[str, Any],
    *,
    percent_doubled: bool = True,
) -> tuple[str, Sequence[Any] | Mapping[str, Any] | None]:
    """The admin's query with ``:since`` written in the driver's style (PEP 249).

    Without a known parameter the query goes as written with no parameters, so a
    ``%`` in it needs no doubling. ``::`` (PostgreSQL casts) is left alone.

    ``percent_doubled``: whether the driver reads ``%%`` as one ``%`` in the
    ``pyformat``/``format`` styles. psycopg2 does; pymssql does not (its
    ``_mssql.substitute_params`` replaces the placeholders and leaves every other
    ``%`` as written), so for it a literal ``'50%'`` must go undoubled.
    """
    names = [m.group(1) for m in _PARAM.finditer(query)]
    if not names:
        return query, None
    missing = sorted(set(names) - set(params))
    if missing:
        raise ConfigError(f"the robot query uses :{missing[0]}, which the import cannot give")
    if paramstyle == "named":
        return query, {name: params[name] for name in names}
    if paramstyle == "qmark":
        return _PARAM.sub("?", query), [params[name] for name in names]
    escaped = query.replace("%", "%%") if percent_doubled else query
    if paramstyle == "pyformat":
        return _PARAM.sub(lambda m: f"%({m.group(1)})s", escaped), dict(params)
    if paramstyle == "format":
        return _PARAM.sub("%s", escaped), [params[name] for name in names]
    if paramstyle == "numeric":
        counter = iter(range(1, len(names) + 1))
        return _PARAM.sub(lambda m: f":{next(counter)}", query), [params[n] for n in names]
    raise ConfigError(f"the robot database's driver uses an unknown paramstyle {paramstyle!r}")


def column_positions(description: Sequence[Sequence[Any]] | None) -> dict[str, int]:
    """Where each expected column is in a DB-API ``cursor.description``; names are
    compared case-insensitively. A missing one is a :class:`ConfigError` naming it."""
    if not description:
        raise ConfigError("the robot query returned no columns (is it a SELECT?)")
    names = [str(col[0]).strip().lower() for col in description]
    positions: dict[str, int] = {}
    for wanted in COLUMNS:
        if wanted not in names:
            raise ConfigError(
                f"the robot query has no column {wanted!r}; it must return "
                f"{', '.join(COLUMNS)} (got {', '.join(names)})"
            )
        positions[wanted] = names.index(wanted)
    return positions


# ------------------------------------------------------------------ rows


def read_rows(
    positions: Mapping[str, int], rows: Iterable[Sequence[Any]], tz: tzinfo
) -> tuple[list[RobotRow], list[RowProblem]]:
    """Typed rows, and the rows that could not be read (each with its reason)."""
    good: list[RobotRow] = []
    bad: list[RowProblem] = []
    for index, raw in enumerate(rows, start=1):
        row = _read_row(positions, raw, tz, index)
        if isinstance(row, str):
            bad.append(RowProblem(index, row))
        else:
            good.append(row)
    return good, bad


def _read_row(
    positions: Mapping[str, int], raw: Sequence[Any], tz: tzinfo, index: int
) -> RobotRow | str:
    call_id = _text(raw[positions["call_id"]])
    if not call_id:
        return "no call_id"
    phone = _text(raw[positions["phone"]])
    dtmf = _text(raw[positions["dtmf"]])
    called_at = _time(raw[positions["called_at"]], tz)
    if isinstance(called_at, str):
        return called_at
    return RobotRow(call_id, phone, dtmf, called_at, index)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a code or a number stored as FLOAT
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value).strip()


def _time(value: Any, tz: tzinfo) -> datetime | str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return f"called_at {value[:40]!r} is not a date-time"
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if not isinstance(value, datetime):
        return f"called_at is a {type(value).__name__}, not a date-time"
    found: datetime = value
    if found.tzinfo is None:  # MS SQL datetime: the robot server's wall clock
        found = found.replace(tzinfo=tz)
    return found.astimezone(UTC)


def plan_robot(
    rows: Iterable[RobotRow],
    *,
    dtmf_table: Mapping[str, str],
    seen: set[str],
    identity: str,
    region: str,
    invalid: Iterable[RowProblem] = (),
) -> RobotPlan:
    """Which rows become planned events, and why the others do not.

    ``seen``: robot call ids imported before (idempotence). A call id twice in one
    result counts once; the second is "repeated".
    """
    table = {str(code).strip(): str(importance) for code, importance in dtmf_table.items()}
    plan = RobotPlan(invalid=list(invalid))
    taken: set[str] = set()
    for row in rows:
        importance = table.get(row.dtmf)
        if importance is None:
            plan.unmapped[row.dtmf] += 1
            continue
        if row.call_id in seen or row.call_id in taken:
            plan.repeated += 1
            continue
        number = to_e164(row.phone, region) if row.phone else None
        if number is None:
            plan.invalid.append(RowProblem(row.row, f"phone {row.phone[:30]!r} is not a number"))
            continue
        taken.add(row.call_id)
        plan.events.append(
            RobotEventDraft(row.call_id, number, row.dtmf, importance, row.called_at, identity)
        )
    return plan


def checkpoint_after(rows: Iterable[RobotRow], previous: datetime | None) -> datetime | None:
    """The newest robot call seen so far: the next run's ``:since`` starts near it."""
    times = [r.called_at for r in rows if r.called_at is not None]
    if previous is not None:
        times.append(previous)
    return max(times, default=None)
