"""Parsing plans: from spreadsheet rows to records, every reject reported (M6, U7, U9).

Rows and columns as contracts.md §4 has them: row 1-based as a spreadsheet
shows it (header included), column the header text, else the letter.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from agent.core.errors import InvalidInput
from agent.core.table_plan import (
    FieldSpec,
    Layout,
    Record,
    Rejection,
    column_index,
    column_letter,
    detect_layout,
    plan_rows,
)

NAME = FieldSpec("name", "text", aliases=("name", "піб", "фио", "ім'я", "имя", "клієнт", "клиент"))
COMPANY = FieldSpec("company", "text", aliases=("company", "компанія", "компания", "організація"))
NUMBER = FieldSpec(
    "number", "phone", required=True, aliases=("phone", "телефон", "тел", "номер", "моб", "mobile")
)
CONTACT = (NAME, COMPANY, NUMBER)

KYIV = "+380442249895"
KYIVSTAR = "+380671234567"


def numbered(rows: Sequence[Sequence[object]]) -> list[tuple[int, Sequence[object]]]:
    return list(enumerate(rows, 1))


def plan(
    rows: Sequence[Sequence[object]],
    fields: Sequence[FieldSpec] = CONTACT,
    mapping: dict[str, str] | None = None,
) -> tuple[Layout, list[Record | Rejection]]:
    layout = detect_layout(rows, fields, mapping)
    return layout, list(plan_rows(numbered(rows), layout, fields))


# ------------------------------------------------------------------ layout


def test_the_header_row_is_found_below_title_rows_and_names_the_columns() -> None:
    rows = [
        ["Контакти, експорт 01.03.2024"],
        [],
        ["ПІБ", "Компанія", "Телефон"],
        ["Іван", "ТОВ Ромашка", "044 224 98 95"],
    ]
    layout = detect_layout(rows, CONTACT)
    assert layout == Layout(
        header_row=3,
        first_row=4,
        columns={"name": 0, "company": 1, "number": 2},
        headers=("ПІБ", "Компанія", "Телефон"),
    )


@pytest.mark.parametrize(
    "header",
    [
        ["Name", "Company", "Phone"],
        ["ФИО", "Компания", "Телефон"],
        ["Ім'я", "Організація", "Номер телефону"],
        ["name:", "COMPANY", "Phone number*"],
    ],
)
def test_header_words_are_recognised_in_english_ukrainian_and_russian(header: list[str]) -> None:
    layout = detect_layout([header, ["Іван", "ТОВ", "0442249895"]], CONTACT)
    assert (layout.header_row, layout.columns) == (1, {"name": 0, "company": 1, "number": 2})


def test_an_exact_header_word_wins_over_a_header_that_merely_contains_it() -> None:
    rows = [["Номер договору", "Телефон"], ["12/24", "0442249895"]]
    assert detect_layout(rows, CONTACT).columns == {"number": 1}


def test_a_title_row_that_mentions_a_field_does_not_beat_the_real_header() -> None:
    rows = [["Phone list"], ["Phone"], ["0442249895"]]
    layout = detect_layout(rows, [NUMBER])
    assert (layout.header_row, layout.first_row) == (2, 3)


def test_without_a_header_the_number_column_is_where_most_cells_are_numbers() -> None:
    rows = [
        ["Іван", "ТОВ Ромашка", "044 224 98 95", "12"],
        ["Петро", "", "abc", "13"],
        ["Олена", "ФОП", "+380671234567", "14"],
    ]
    layout, out = plan(rows)
    assert layout == Layout(header_row=None, first_row=1, columns={"number": 2})
    assert out == [
        Record(1, {"name": None, "company": None, "number": KYIV}),
        Rejection(2, "C", "not a phone number: 'abc'"),
        Record(3, {"name": None, "company": None, "number": KYIVSTAR}),
    ]


def test_a_data_row_with_header_like_words_is_still_data() -> None:
    rows = [["Phone Company", "0442249895"], ["Номер 1", "0671234567"]]
    layout = detect_layout(rows, CONTACT)
    assert (layout.header_row, layout.first_row, layout.columns["number"]) == (None, 1, 1)


def test_an_unrecognised_header_above_the_numbers_labels_the_columns_and_is_not_data() -> None:
    rows = [["Звіт"], ["Хто", "Куди дзвонити"], ["Іван", "0442249895"], ["Петро", "abc"]]
    layout, out = plan(rows)
    assert (layout.header_row, layout.first_row, layout.columns) == (2, 3, {"number": 1})
    assert out == [
        Record(3, {"name": None, "company": None, "number": KYIV}),
        Rejection(4, "Куди дзвонити", "not a phone number: 'abc'"),
    ]


def test_a_mapping_by_letter_pins_columns_contracts_4() -> None:
    rows = [["Іван", "ТОВ", "0442249895"], ["Петро", "ФОП", "0671234567"]]
    layout, out = plan(rows, mapping={"number": "C", "name": "A", "company": "b"})
    assert layout.columns == {"number": 2, "name": 0, "company": 1}
    assert [r.values for r in out if isinstance(r, Record)] == [
        {"name": "Іван", "company": "ТОВ", "number": KYIV},
        {"name": "Петро", "company": "ФОП", "number": KYIVSTAR},
    ]


def test_a_mapping_by_header_text_pins_columns_whatever_the_aliases() -> None:
    rows = [["Title"], ["Клієнт", "Основний", "Запасний"], ["Іван", "0442249895", "0671234567"]]
    layout = detect_layout(rows, CONTACT, mapping={"number": "запасний"})
    assert (layout.header_row, layout.columns) == (2, {"name": 0, "number": 2})


def test_a_mapping_moves_a_field_away_from_the_column_its_alias_found() -> None:
    rows = [["Name", "Phone", "Mobile"], ["Іван", "0442249895", "0671234567"]]
    layout = detect_layout(rows, CONTACT, mapping={"number": "Mobile"})
    assert layout.columns == {"name": 0, "number": 2}


@pytest.mark.parametrize(
    ("mapping", "key", "message"),
    [
        ({"phone": "A"}, "import.unknown_field", "unknown field 'phone'"),
        ({"number": "Mobile"}, "import.column_not_found", "no column 'Mobile' for the field"),
        ({"number": "Z"}, "import.column_not_found", "no column 'Z'"),
        ({"number": "B", "name": "B"}, "import.column_twice", "column B is mapped to both"),
    ],
)
def test_a_wrong_mapping_is_a_clear_input_error(
    mapping: dict[str, str], key: str, message: str
) -> None:
    rows = [["Name", "Phone"], ["Іван", "0442249895"]]
    with pytest.raises(InvalidInput, match=message) as info:
        detect_layout(rows, CONTACT, mapping=mapping)
    assert info.value.message_key == key


def test_a_file_without_any_number_column_is_a_clear_input_error() -> None:
    with pytest.raises(InvalidInput, match="no column found for the required field 'number'"):
        detect_layout([["Name", "City"], ["Іван", "Київ"]], CONTACT)


def test_column_letters_follow_spreadsheets() -> None:
    assert [column_letter(i) for i in (0, 1, 25, 26, 27, 701, 702)] == [
        "A", "B", "Z", "AA", "AB", "ZZ", "AAA",
    ]  # fmt: skip
    assert all(column_index(column_letter(i)) == i for i in range(2000))


# ------------------------------------------------------------------ rows


def test_a_broken_row_never_stops_the_rest_and_every_reject_is_reported() -> None:
    rows: list[list[object]] = [
        ["Name", "Company", "Phone"],
        ["Іван", "ТОВ", "044 224 98 95"],
        ["Петро", "ФОП", "abc"],
        ["", "", ""],
        ["Олена", "", ""],
        ["Марія", None, "8 067 123 45 67"],
    ]
    _, out = plan(rows)
    assert out == [
        Record(2, {"name": "Іван", "company": "ТОВ", "number": KYIV}),
        Rejection(3, "Phone", "not a phone number: 'abc'"),
        Rejection(5, "Phone", "empty required field"),
        Record(6, {"name": "Марія", "company": None, "number": KYIVSTAR}),
    ]


def test_a_row_with_several_bad_cells_reports_each_in_field_order() -> None:
    fields = [NUMBER, FieldSpec("amount", "money", aliases=("сума",)), FieldSpec("on", "date")]
    rows = [["Телефон", "Сума", "On"], ["x1", "12,3,4", "31.02.2024"]]
    _, out = plan(rows, fields)
    assert out == [
        Rejection(2, "Телефон", "not a phone number: 'x1'"),
        Rejection(2, "Сума", "not an amount: '12,3,4'"),
        Rejection(2, "On", "not a date: '31.02.2024'"),
    ]


def test_cells_of_a_row_shorter_than_the_header_are_empty() -> None:
    _, out = plan([["Phone", "Name"], ["0442249895"]])
    assert out == [Record(2, {"name": None, "company": None, "number": KYIV})]


def test_spreadsheet_numbers_as_floats_and_digit_strings_are_phone_numbers() -> None:
    _, out = plan([["Phone"], [380442249895.0], ["380671234567"], [442249895.0]])
    assert [r.values["number"] for r in out if isinstance(r, Record)] == [KYIV, KYIVSTAR, KYIV]


def test_a_long_bad_value_is_cut_in_the_reason() -> None:
    _, out = plan([["Phone"], ["y" * 100]])
    assert out == [Rejection(2, "Phone", "not a phone number: '" + "y" * 39 + "…'")]


MONEY = (FieldSpec("amount", "money", aliases=("amount",)),)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("1 234,56", Decimal("1234.56")),
        ("1,234.56", Decimal("1234.56")),
        ("1234.56 грн", Decimal("1234.56")),
        ("1234,56 грн.", Decimal("1234.56")),
        ("₴ 1 234", Decimal("1234")),
        ("1\u00a0234,5", Decimal("1234.5")),
        ("$12", Decimal("12")),
        ("-12.5", Decimal("-12.5")),
        ("1.234.567,89", Decimal("1234567.89")),
        ("1,234,567", Decimal("1234567")),
        ("1,234", Decimal("1234")),
        ("0,125", Decimal("0.125")),
        ("12,5", Decimal("12.5")),
        (12.5, Decimal("12.5")),
        ("100", Decimal("100")),
    ],
)
def test_amounts_in_local_and_english_notation(cell: object, expected: Decimal) -> None:
    _, out = plan([["Amount"], [cell]], MONEY)
    assert out == [Record(2, {"amount": expected})]


@pytest.mark.parametrize(
    "cell", ["12,3,4", "abc", "1.2.3", "1,234.567.8", "12 грн 50", "--1", True]
)
def test_what_is_not_an_amount_is_rejected(cell: object) -> None:
    _, out = plan([["Amount"], [cell]], MONEY)
    assert out == [Rejection(2, "Amount", f"not an amount: {str(cell)!r}")]


DATES = (FieldSpec("on", "date", aliases=("date",)), FieldSpec("at", "datetime", aliases=("time",)))


@pytest.mark.parametrize(
    ("cell", "on", "at"),
    [
        ("2024-03-01", date(2024, 3, 1), datetime(2024, 3, 1)),
        ("01.03.2024", date(2024, 3, 1), datetime(2024, 3, 1)),
        ("1.3.24", date(2024, 3, 1), datetime(2024, 3, 1)),
        ("01/03/2024", date(2024, 3, 1), datetime(2024, 3, 1)),
        ("20240301", date(2024, 3, 1), datetime(2024, 3, 1)),
        ("01.03.2024 09:05", date(2024, 3, 1), datetime(2024, 3, 1, 9, 5)),
        ("2024-03-01T12:30:15.5", date(2024, 3, 1), datetime(2024, 3, 1, 12, 30, 15, 500000)),
        (
            "2024-03-01T12:30:00+02:00",
            date(2024, 3, 1),
            datetime(2024, 3, 1, 12, 30, tzinfo=timezone(timedelta(hours=2))),
        ),
        ("2024-03-01 10:00Z", date(2024, 3, 1), datetime(2024, 3, 1, 10, tzinfo=UTC)),
        ("45352", date(2024, 3, 1), datetime(2024, 3, 1)),  # an Excel serial
        (45352.75, date(2024, 3, 1), datetime(2024, 3, 1, 18)),
        (59, date(1900, 2, 28), datetime(1900, 2, 28)),  # before Lotus' 29 Feb 1900
        (datetime(2024, 3, 1, 8), date(2024, 3, 1), datetime(2024, 3, 1, 8)),
    ],
)
def test_dates_in_iso_dotted_and_excel_serial_forms(cell: object, on: date, at: datetime) -> None:
    _, out = plan([["Date", "Time"], [cell, cell]], DATES)
    assert out == [Record(2, {"on": on, "at": at})]


@pytest.mark.parametrize("cell", ["31.02.2024", "2024-13-01", "yesterday", "2024", "1.3", 60])
def test_what_is_not_a_date_is_rejected(cell: object) -> None:
    _, out = plan([["Date", "Time"], [cell, cell]], DATES)
    assert out == [
        Rejection(2, "Date", f"not a date: {str(cell)!r}"),
        Rejection(2, "Time", f"not a date and time: {str(cell)!r}"),
    ]


@pytest.mark.parametrize(
    ("cell", "expected"), [("12", 12), ("-3", -3), ("1 000", 1000), (7.0, 7), ("+5", 5)]
)
def test_integers(cell: object, expected: int) -> None:
    _, out = plan([["Count"], [cell]], [FieldSpec("count", "int", aliases=("count",))])
    assert out == [Record(2, {"count": expected})]


@pytest.mark.parametrize("cell", ["12.5", "x", 2.5, "1e3"])
def test_what_is_not_an_integer_is_rejected(cell: object) -> None:
    _, out = plan([["Count"], [cell]], [FieldSpec("count", "int", aliases=("count",))])
    assert out == [Rejection(2, "Count", f"not an integer: {str(cell)!r}")]


def test_text_cells_are_trimmed_and_numbers_shown_as_written() -> None:
    fields = [NUMBER, FieldSpec("note", "text", aliases=("note",))]
    rows: list[list[object]] = [
        ["Phone", "Note"],
        ["0442249895", "  hello "],
        ["0442249895", 12.0],
        ["0442249895", 1.5],
    ]
    _, out = plan(rows, fields)
    assert [r.values["note"] for r in out if isinstance(r, Record)] == ["hello", "12", "1.5"]


# ------------------------------------------------------------------ at scale


def test_100k_rows_with_1_percent_broken_keep_every_good_row_and_report_every_bad_one() -> None:
    rng = random.Random(5)
    forms = ["+380 67 {0} {1} {2}", "067{0}{1}{2}", "(067) {0}-{1}-{2}", "8 067 {0}{1}{2}"]
    rows: list[list[object]] = [["Export"], ["Name", "Company", "Phone"]]
    expected_good: dict[int, str] = {}
    expected_bad: list[Rejection] = []
    for i in range(100_000):
        row = i + 3
        if i % 100 == 37:
            rows.append([f"Person {i}", "Co", f"bad-{i}"])
            expected_bad.append(Rejection(row, "Phone", f"not a phone number: 'bad-{i}'"))
            continue
        n = f"{i:07d}"
        rows.append([f"Person {i}", "Co", rng.choice(forms).format(n[:3], n[3:5], n[5:])])
        expected_good[row] = f"+38067{n}"
    layout = detect_layout(rows[:50], CONTACT)
    out = list(plan_rows(numbered(rows), layout, CONTACT))
    assert [r for r in out if isinstance(r, Rejection)] == expected_bad
    assert {r.row: r.values["number"] for r in out if isinstance(r, Record)} == expected_good
