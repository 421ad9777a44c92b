"""Planning rows in batches (issue 5: the imports' hot path): the same records and
rejections as one row at a time, whatever the batch size, with the row numbers,
cells and progress an import needs (M6, U7, contracts.md §4)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.core.table_plan import (
    FieldSpec,
    Layout,
    Record,
    Rejection,
    detect_layout,
    plan_batches,
    plan_rows,
)
from agent.files import read_table
from tests.files.samples import make_xlsx

FIELDS = [
    FieldSpec("name", "text", aliases=("піб",)),
    FieldSpec("number", "phone", required=True, aliases=("телефон",)),
    FieldSpec("calls", "int", aliases=("дзвінки",)),
    FieldSpec("since", "date", aliases=("дата",)),
]

CELLS = st.one_of(
    st.none(),
    st.sampled_from(["", "  ", "0442249895", " +380 67 123-45-67 ", "8 093 1234567", "abc"]),
    st.sampled_from(["12", "1 234", "12.5", "2024-03-01", "31.02.2024", "Іван", "x"]),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e13, max_value=1e13),
    st.integers(-(10**12), 10**12),
    st.booleans(),
    st.just(380671234567.0),
    st.just(datetime(2024, 3, 1, 10, 30)),
)
ROWS = st.lists(st.lists(CELLS, max_size=5), max_size=40)


def flattened(batches: Any, fields: list[FieldSpec]) -> list[Record | Rejection]:
    """The batches' good rows as Records and their rejections, in row order."""
    names = [spec.name for spec in fields]
    out: list[Record | Rejection] = []
    for batch in batches:
        out += [
            Record(row, dict(zip(names, values, strict=True)))
            for row, values in zip(batch.rows, batch.values, strict=True)
        ]
        out += batch.rejected
    return sorted(out, key=lambda item: item.row)  # stable: a row's rejections in field order


@settings(max_examples=300, deadline=None)
@given(rows=ROWS, first=st.integers(1, 4), size=st.integers(1, 9), region=st.just("UA"))
def test_batches_of_any_size_plan_what_plan_rows_plans(
    rows: list[list[object]], first: int, size: int, region: str
) -> None:
    numbered = [(index + 1, cells) for index, cells in enumerate(rows)]
    headers = ("ПІБ", "", "Телефон")
    layout = Layout(None, first, {"name": 0, "number": 2, "calls": 3, "since": 4}, headers)

    batches = list(plan_batches(numbered, layout, FIELDS, region, size))

    assert flattened(batches, FIELDS) == list(plan_rows(numbered, layout, FIELDS, region))
    assert all(len(batch.rows) + len(batch.rejected) > 0 or batch.last_row for batch in batches)


def test_a_batch_holds_its_good_rows_values_in_field_order_and_their_cells() -> None:
    rows: list[tuple[int, list[object]]] = [
        (1, ["ПІБ", "Телефон", "Дзвінки", "Місто"]),
        (2, ["Іван ", "044 224 98 95", "3", "Київ"]),
        (3, ["Петро", "abc", "x", None]),
        (4, [None, None, None, None]),
        (5, [None, None, None, "Львів"]),
        (6, ["Олена", "380671234567", None, None]),
    ]
    layout = detect_layout([cells for _, cells in rows], FIELDS)

    (batch,) = plan_batches(rows, layout, FIELDS)

    assert batch.rows == [2, 6]
    assert batch.values == [
        ("Іван", "+380442249895", 3, None),
        ("Олена", "+380671234567", None, None),
    ]
    assert batch.cells == [rows[1][1], rows[5][1]]  # as read: for columns that are no field
    assert batch.rejected == [
        Rejection(3, "Телефон", "not a phone number: 'abc'"),
        Rejection(3, "Дзвінки", "not an integer: 'x'"),
        Rejection(5, "Телефон", "empty required field"),  # row 4, wholly empty, is skipped
    ]
    assert batch.last_row == 6


def test_batches_follow_the_file_and_report_the_last_row_read_for_progress() -> None:
    rows: list[tuple[int, list[object]]] = [(1, ["Телефон"])]
    rows += [(n, [f"050{n:07d}"]) for n in range(2, 12)]
    rows += [(12, [None]), (13, ["n/a"])]
    layout = detect_layout([cells for _, cells in rows], FIELDS)

    batches = list(plan_batches(rows, layout, FIELDS, size=4))

    # ``size`` rows read a batch, the header and the empty row 12 among them.
    assert [batch.last_row for batch in batches] == [4, 8, 12, 13]
    assert [batch.rows for batch in batches] == [[2, 3, 4], [5, 6, 7, 8], [9, 10, 11], []]
    assert [r for batch in batches for r in batch.rejected] == [
        Rejection(13, "Телефон", "not a phone number: 'n/a'")
    ]


def test_a_workbook_plans_in_batches_as_read_numeric_phone_cells_included() -> None:
    sheet: list[list[object]] = [
        ["Телефон", "ПІБ"], [380442249895.0, "Іван"], ["0671234567", None], [12.0, "x"],
    ]  # fmt: skip
    table = read_table(make_xlsx({"S": sheet}), "contacts.xlsx")
    layout = detect_layout(table.head(50), FIELDS)

    batches = list(plan_batches(table, layout, FIELDS))

    assert [(b.rows, b.values) for b in batches] == [
        (
            [2, 3],
            [("Іван", "+380442249895", None, None), (None, "+380671234567", None, None)],
        )
    ]
    assert batches[0].rejected == [Rejection(4, "Телефон", "not a phone number: '12'")]
