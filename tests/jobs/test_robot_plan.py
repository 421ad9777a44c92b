"""J2's rules, pure: binding the query, reading the columns, planning the events."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from agent.core.errors import ConfigError
from agent.core.robot_plan import (
    RobotRow,
    bind_query,
    checkpoint_after,
    column_positions,
    plan_robot,
    read_rows,
)

KYIV = ZoneInfo("Europe/Kyiv")
SINCE = datetime(2025, 3, 1, 9, 0)
TABLE = {"1": "high", "2": "normal"}


def row(call_id: str, dtmf: str = "1", phone: str = "0671234567") -> RobotRow:
    return RobotRow(call_id, phone, dtmf, datetime(2025, 3, 3, 10, tzinfo=UTC))


# ------------------------------------------------------------------ the query


@pytest.mark.parametrize(
    ("style", "sql", "params"),
    [
        ("pyformat", "SELECT 1 WHERE a >= %(since)s AND b LIKE 'x%%'", {"since": SINCE}),
        ("named", "SELECT 1 WHERE a >= :since AND b LIKE 'x%'", {"since": SINCE}),
        ("qmark", "SELECT 1 WHERE a >= ? AND b LIKE 'x%'", [SINCE]),
        ("format", "SELECT 1 WHERE a >= %s AND b LIKE 'x%%'", [SINCE]),
        ("numeric", "SELECT 1 WHERE a >= :1 AND b LIKE 'x%'", [SINCE]),
    ],
)
def test_since_is_written_in_the_drivers_parameter_style(
    style: str, sql: str, params: object
) -> None:
    query = "SELECT 1 WHERE a >= :since AND b LIKE 'x%'"
    assert bind_query(query, style, {"since": SINCE}) == (sql, params)


def test_a_literal_percent_is_kept_as_written_for_a_driver_that_does_not_collapse_doubles() -> None:
    # pymssql's substitute_params replaces the placeholders only: '%%' would reach
    # MS SQL as two characters (docs: robot-import.md).
    query = "SELECT call_id FROM t WHERE note = '50%' AND at >= :since"
    assert bind_query(query, "pyformat", {"since": SINCE}, percent_doubled=False) == (
        "SELECT call_id FROM t WHERE note = '50%' AND at >= %(since)s",
        {"since": SINCE},
    )


def test_a_query_without_parameters_goes_as_written() -> None:
    query = "SELECT call_id FROM t WHERE note LIKE '50%' AND at::date > now()::date"
    assert bind_query(query, "pyformat", {"since": SINCE}) == (query, None)


def test_an_unknown_paramstyle_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        bind_query("SELECT :since", "weird", {"since": SINCE})


def test_the_columns_are_found_by_name_whatever_the_case_and_order() -> None:
    description = [("Called_At",), ("DTMF",), ("phone",), ("extra",), ("call_id",)]
    assert column_positions(description) == {"call_id": 4, "phone": 2, "dtmf": 1, "called_at": 0}


def test_a_missing_column_is_named() -> None:
    with pytest.raises(ConfigError, match="'dtmf'"):
        column_positions([("call_id",), ("phone",), ("called_at",)])


# ------------------------------------------------------------------ rows


def test_rows_are_read_with_naive_times_in_the_team_zone() -> None:
    positions = {"call_id": 0, "phone": 1, "dtmf": 2, "called_at": 3}
    rows, bad = read_rows(
        positions,
        [
            (17, 380671234567, 1.0, datetime(2025, 3, 3, 12, 0)),
            ("18", "067 123 45 67", "#", "2025-03-03T12:00:00+00:00"),
            ("19", "0671234567", "1", date(2025, 3, 3)),
            (None, "0671234567", "1", None),
            ("20", "0671234567", "1", "soon"),
        ],
        KYIV,
    )
    assert [(r.call_id, r.phone, r.dtmf, r.called_at) for r in rows] == [
        ("17", "380671234567", "1", datetime(2025, 3, 3, 10, 0, tzinfo=UTC)),
        ("18", "067 123 45 67", "#", datetime(2025, 3, 3, 12, 0, tzinfo=UTC)),
        ("19", "0671234567", "1", datetime(2025, 3, 2, 22, 0, tzinfo=UTC)),
    ]
    assert [(p.row, p.reason[:12]) for p in bad] == [(4, "no call_id"), (5, "called_at 's")]


def test_a_mapped_code_becomes_a_planned_event_with_its_importance() -> None:
    plan = plan_robot([row("1", "1"), row("2", "2")], **_args())
    assert [(e.robot_call_id, e.importance, e.number, e.operator) for e in plan.events] == [
        ("1", "high", "+380671234567", "robot"),
        ("2", "normal", "+380671234567", "robot"),
    ]


def test_an_unmapped_code_is_skipped_and_counted() -> None:
    plan = plan_robot([row("1", "9"), row("2", "9"), row("3", "")], **_args())
    assert plan.events == []
    assert plan.unmapped == {"9": 2, "": 1}
    assert plan.counts()["skipped_unmapped"] == 3


def test_a_call_imported_before_or_twice_in_one_result_is_repeated() -> None:
    plan = plan_robot([row("1"), row("2"), row("2")], **_args(seen={"1"}))
    assert [e.robot_call_id for e in plan.events] == ["2"]
    assert plan.repeated == 2


def test_a_row_whose_phone_is_not_a_number_is_invalid() -> None:
    plan = plan_robot([row("1", phone="n/a")], **_args())
    assert plan.events == []
    assert plan.counts()["invalid"] == 1


def test_a_short_robot_call_id_is_the_events_call_id_as_earlier_versions_wrote_it() -> None:
    # Reruns over calls imported before must find their events: the short form stays.
    plan = plan_robot([row("ABCD-1234"), row("x" * 34)], **_args())
    assert [e.ref for e in plan.events] == ["robot:abcd1234", "robot:" + "x" * 34]


def test_long_robot_call_ids_sharing_a_prefix_get_distinct_call_ids_of_forty_characters() -> None:
    first, second = "CALL-" + "9" * 40 + "-1", "CALL-" + "9" * 40 + "-2"
    plan = plan_robot([row(first), row(second)], **_args())
    refs = [e.ref for e in plan.events]
    assert refs[0] != refs[1]
    assert all(len(ref) == 40 and ref.startswith("robot#") for ref in refs)
    assert plan_robot([row(first)], **_args()).events[0].ref == refs[0]  # stable across runs


def test_a_hashed_call_id_never_equals_a_short_one() -> None:
    long_ref = plan_robot([row("z" * 35)], **_args()).events[0].ref
    short_ref = plan_robot([row(long_ref[6:])], **_args()).events[0].ref
    assert long_ref != short_ref


def test_the_next_since_is_the_newest_call_seen() -> None:
    old = datetime(2025, 1, 1, tzinfo=UTC)
    assert checkpoint_after([row("1")], old) == datetime(2025, 3, 3, 10, tzinfo=UTC)
    assert checkpoint_after([], old) == old


def _args(seen: set[str] | None = None) -> dict[str, object]:
    return {"dtmf_table": TABLE, "seen": seen or set(), "identity": "robot", "region": "UA"}
