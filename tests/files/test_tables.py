"""Reading tables: csv in the encodings Excel writes, xls, xlsx and ods (M6, U7, U9)."""

from __future__ import annotations

import codecs
import random
from datetime import datetime
from pathlib import Path

import pytest

from agent.core.errors import InvalidInput
from agent.core.table_plan import FieldSpec, Record, Rejection, detect_layout, plan_rows
from agent.files import read_table
from tests.files.samples import CONTACT_ROWS, make_big_xlsx, make_ods, make_xlsx

FIXTURES = Path(__file__).parent.parent / "fixtures" / "files"
KYIV = "+380442249895"

# What every reader must give for CONTACT_ROWS: floats as digit strings, dates as
# datetimes, empty cells as None.
EXPECTED_CONTACTS = [
    (1, ["ПІБ", "Компанія", "Телефон", "Дата"]),
    (2, ["Іван Петренко", "ТОВ «Ромашка»", "+380 44 224-98-95", datetime(2024, 3, 1)]),
    (3, ["Олена Коваль", "ФОП Коваль", "380671234567", datetime(2024, 3, 2)]),
    (4, ["Петро", None, "abc", None]),
]

CONTACT_FIELDS = [
    FieldSpec("name", "text", aliases=("піб",)),
    FieldSpec("company", "text", aliases=("компанія",)),
    FieldSpec("number", "phone", required=True, aliases=("телефон",)),
    FieldSpec("since", "date", aliases=("дата",)),
]

CSV_TEXT = (
    "Контакти\r\n"
    "ПІБ{d}Компанія{d}Телефон{d}Сума\r\n"
    'Іван{d}"ТОВ {d} «Ромашка»"{d}044 224 98 95{d}"1 234,56"\r\n'
    'Олена{d}"ФОП ""Коваль""\r\nфілія"{d}+380671234567{d}12\r\n'
    "Петро{d}{d}abc{d}\r\n"
)
EXPECTED_CSV: list[tuple[int, list[str | None]]] = [
    (1, ["Контакти"]),
    (2, ["ПІБ", "Компанія", "Телефон", "Сума"]),
    (3, ["Іван", "ТОВ {d} «Ромашка»", "044 224 98 95", "1 234,56"]),
    (4, ["Олена", 'ФОП "Коваль"\r\nфілія', "+380671234567", "12"]),
    (5, ["Петро", None, "abc", None]),
]


def _expected_csv(delimiter: str) -> list[tuple[int, list[str | None]]]:
    return [
        (n, [c.replace("{d}", delimiter) if c else c for c in cells]) for n, cells in EXPECTED_CSV
    ]


@pytest.mark.parametrize(
    "encoding", ["utf-8", "utf-8-sig", "cp1251", "utf-16", "utf-16-le", "utf-16-be"]
)
@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_csv_in_the_encodings_and_delimiters_spreadsheets_write(
    encoding: str, delimiter: str
) -> None:
    data = CSV_TEXT.replace("{d}", delimiter).encode(encoding)
    if encoding == "utf-16-le":
        data = codecs.BOM_UTF16_LE + data
    table = read_table(data, "contacts.csv")
    assert (table.delimiter, table.problem) == (delimiter, None)
    assert list(table) == _expected_csv(delimiter)


def test_utf16_without_a_bom_is_recognised_by_its_zero_bytes() -> None:
    table = read_table("Телефон\n0442249895\n".encode("utf-16-le"), "x.csv")
    assert list(table) == [(1, ["Телефон"]), (2, ["0442249895"])]


def test_a_semicolon_file_with_comma_decimals_is_split_on_semicolons() -> None:
    text = "Name;Phone;Amount\nIvan;0442249895;12,50\nOlena;0671234567;3\nPetro;0671234568;1,5\n"
    table = read_table(text.encode(), "x.csv")
    assert table.delimiter == ";"
    assert list(table)[1] == (2, ["Ivan", "0442249895", "12,50"])


def test_a_single_column_csv_is_one_cell_per_row() -> None:
    table = read_table(b"0442249895\n0671234567\n", "numbers.txt")
    assert list(table) == [(1, ["0442249895"]), (2, ["0671234567"])]


def test_a_csv_from_a_path_is_named_by_its_file(tmp_path: Path) -> None:
    path = tmp_path / "Контакти.csv"
    path.write_bytes("Телефон\n0442249895\n".encode("cp1251"))
    table = read_table(path)
    assert (table.filename, table.encoding) == ("Контакти.csv", "cp1251")
    assert list(table)[-1] == (2, ["0442249895"])


def test_xlsx_gives_digit_strings_for_numbers_and_datetimes_for_dates() -> None:
    table = read_table(make_xlsx({"Контакти": CONTACT_ROWS, "Інше": [["x"]]}), "c.xlsx")
    assert (table.sheet, table.sheet_names) == ("Контакти", ("Контакти", "Інше"))
    assert list(table) == EXPECTED_CONTACTS


def test_ods_reads_like_xlsx() -> None:
    table = read_table(make_ods({"Контакти": CONTACT_ROWS, "Інше": [["x"]]}), "c.ods")
    assert (table.sheet, table.sheet_names) == ("Контакти", ("Контакти", "Інше"))
    assert list(table) == EXPECTED_CONTACTS


def test_legacy_xls_reads_like_xlsx() -> None:
    table = read_table(FIXTURES / "contacts.xls")
    assert (table.filename, table.sheet_names) == ("contacts.xls", ("Контакти", "Other"))
    assert list(table) == EXPECTED_CONTACTS


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("c.xlsx", make_xlsx({"Контакти": CONTACT_ROWS, "Other": [["second sheet"]]})),
        ("c.ods", make_ods({"Контакти": CONTACT_ROWS, "Other": [["second sheet"]]})),
        ("c.xls", (FIXTURES / "contacts.xls").read_bytes()),
    ],
)
def test_a_named_sheet_is_read_instead_of_the_first(name: str, data: bytes) -> None:
    assert list(read_table(data, name, sheet="Other")) == [(1, ["second sheet"])]
    with pytest.raises(
        InvalidInput, match=r"no sheet 'Missing' in 'c\.\w+' \(sheets: Контакти, Other\)"
    ):
        read_table(data, name, sheet="Missing")


def test_rows_and_columns_keep_their_places_below_and_right_of_empty_space() -> None:
    grid: list[list[object]] = [[], [], [None, None, "Телефон"], [None, None, 380442249895]]
    for name, data in (("gap.xlsx", make_xlsx({"S": grid})), ("gap.ods", make_ods({"S": grid}))):
        rows = list(read_table(data, name))
        assert rows[2:] == [(3, [None, None, "Телефон"]), (4, [None, None, "380442249895"])], name
        assert [n for n, _ in rows] == [1, 2, 3, 4]


def test_head_peeks_the_first_rows_without_losing_them() -> None:
    table = read_table(CSV_TEXT.replace("{d}", ";").encode(), "x.csv")
    assert table.head(2) == [["Контакти"], ["ПІБ", "Компанія", "Телефон", "Сума"]]
    assert table.head(50)[-1] == ["Петро", None, "abc", None]
    assert [n for n, _ in table] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("c.csv", make_xlsx({"S": CONTACT_ROWS})),  # a workbook saved as .csv
        ("c.xls", make_xlsx({"S": CONTACT_ROWS})),  # an xlsx named .xls
        ("c.xlsx", (FIXTURES / "contacts.xls").read_bytes()),
    ],
)
def test_the_content_decides_the_format_not_the_name(name: str, data: bytes) -> None:
    assert list(read_table(data, name)) == EXPECTED_CONTACTS


def test_a_tab_separated_export_named_xls_reads_as_text() -> None:
    table = read_table("Телефон\tІм'я\n0442249895\tІван\n".encode("cp1251"), "export.xls")
    assert list(table) == [(1, ["Телефон", "Ім'я"]), (2, ["0442249895", "Іван"])]


# ------------------------------------------------------------------ what cannot be read


_UNREADABLE = [
    ("photo.jpg", b"\xff\xd8\xff", r"'photo\.jpg': unknown file type '\.jpg'", "file.unknown_type"),
    ("noext", b"a,b", r"'noext': unknown file type '\(none\)'", "file.unknown_type"),
    ("empty.csv", b"", r"'empty\.csv': the file is empty", "file.empty"),
    (
        "page.xls",
        b"<html><table><tr><td>1</td></tr></table>",
        r"'page\.xls': it is a web page",
        "file.html",
    ),
    ("junk.xlsx", bytes(range(256)) * 8, r"'junk\.xlsx': the file is damaged", "file.corrupt"),
    ("junk.csv", b"\x00\x01\x02\x03" * 500, r"'junk\.csv': it is not a text file", "file.corrupt"),
]


@pytest.mark.parametrize(("name", "data", "message", "key"), _UNREADABLE)
def test_what_cannot_be_read_is_a_clear_error_naming_the_file(
    name: str, data: bytes, message: str, key: str
) -> None:
    with pytest.raises(InvalidInput, match="cannot read " + message) as info:
        read_table(data, name)
    assert info.value.message_key == key


def test_a_missing_path_is_a_clear_error_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"cannot read 'gone\.csv': No such file"):
        read_table(tmp_path / "gone.csv")


@pytest.mark.parametrize("name", ["c.xlsx", "c.ods", "c.xls"])
def test_a_truncated_workbook_is_a_clear_error_naming_the_file(name: str) -> None:
    whole = {
        "c.xlsx": make_xlsx({"S": CONTACT_ROWS}),
        "c.ods": make_ods({"S": CONTACT_ROWS}),
        "c.xls": (FIXTURES / "contacts.xls").read_bytes(),
    }[name]
    for cut in (len(whole) // 3, len(whole) - 10):
        with pytest.raises(InvalidInput, match=rf"'{name}'.*damaged") as info:
            list(read_table(whole[:cut], name))
        assert info.value.message_key == "file.corrupt"


def test_a_truncated_csv_keeps_the_rows_before_the_cut() -> None:
    data = "Телефон;Ім'я\n0442249895;Іван\n0671234567;Оле".encode()
    table = read_table(data[:-1], "cut.csv")  # cut inside the UTF-8 of "е"
    assert list(table) == [
        (1, ["Телефон", "Ім'я"]),
        (2, ["0442249895", "Іван"]),
        (3, ["0671234567", "Ол"]),
    ]
    assert table.encoding == "utf-8"
    assert table.problem == "the file ends in the middle of a character: it may be truncated"


def test_a_csv_cut_inside_a_quoted_field_keeps_every_row() -> None:
    table = read_table(b'Phone,Note\n0442249895,"ok"\n0671234567,"unfinished', "cut.csv")
    assert list(table)[-1] == (3, ["0671234567", "unfinished"])


def test_a_quote_never_closed_loses_no_row_after_it_and_is_told() -> None:
    """F7: `"Acme;0501000001` typed by hand once swallowed every later row, silently."""
    rows = ["ПІБ;Телефон", '"Ромашка ТОВ;0501000001'] + [
        f"Клієнт {i};0501{i:06d}" for i in range(2, 1000)
    ]
    table = read_table("\r\n".join(rows).encode("cp1251"), "quote.csv")
    read = list(table)
    assert len(read) == 1000
    assert read[1] == (2, ["Ромашка ТОВ", "0501000001"])
    assert read[-1] == (1000, ["Клієнт 999", "0501000999"])
    assert table.problem is not None and "row(s) 2;" in table.problem


def test_a_quoted_cell_spanning_lines_is_still_one_row_and_no_problem() -> None:
    table = read_table(
        'Phone;Address\n0442249895;"Київ,\nвул. Хрещатик, 1"\n0671234567;x\n'.encode(), "a.csv"
    )
    assert list(table)[1:] == [
        (2, ["0442249895", "Київ,\nвул. Хрещатик, 1"]),
        (3, ["0671234567", "x"]),
    ]
    assert table.problem is None


def test_a_csv_field_past_the_csv_module_limit_stops_with_a_problem_keeping_earlier_rows() -> None:
    data = b"Phone\n0442249895\n" + b'"' + b"x" * 200_000 + b'"\n0671234567\n'
    table = read_table(data, "huge.csv")
    assert list(table) == [(1, ["Phone"]), (2, ["0442249895"])]
    assert table.problem is not None
    assert table.problem.startswith("'huge.csv' is damaged after row 2:")


# ------------------------------------------------------------------ the whole import path


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("c.xlsx", make_xlsx({"S": CONTACT_ROWS})),
        ("c.ods", make_ods({"S": CONTACT_ROWS})),
        ("c.xls", (FIXTURES / "contacts.xls").read_bytes()),
        ("c.csv", "ПІБ;Компанія;Телефон;Дата\r\nІван Петренко;ТОВ «Ромашка»;+380 44 224-98-95;"
         "01.03.2024\r\nОлена Коваль;ФОП Коваль;380671234567;2024-03-02\r\nПетро;;abc;\r\n"
         .encode("cp1251")),
    ],
)  # fmt: skip
def test_each_format_plans_to_the_same_records_and_rejects(name: str, data: bytes) -> None:
    table = read_table(data, name)
    layout = detect_layout(table.head(50), CONTACT_FIELDS)
    out = list(plan_rows(table, layout, CONTACT_FIELDS))
    assert out == [
        Record(2, {"name": "Іван Петренко", "company": "ТОВ «Ромашка»", "number": KYIV,
                   "since": datetime(2024, 3, 1).date()}),
        Record(3, {"name": "Олена Коваль", "company": "ФОП Коваль", "number": "+380671234567",
                   "since": datetime(2024, 3, 2).date()}),
        Rejection(4, "Телефон", "not a phone number: 'abc'"),
    ]  # fmt: skip


def test_a_100k_row_workbook_with_1_percent_broken_rows(tmp_path: Path) -> None:
    """Every good row present, the exact rejection list (issue 5)."""
    rng = random.Random(7)
    rows: list[list[object]] = [["Контакти на 01.03.2024"], ["Ім'я", "Компанія", "Телефон"]]
    good: dict[int, str] = {}
    bad: list[Rejection] = []
    for i in range(100_000):
        row = i + 3
        n = f"{i:07d}"
        if i % 100 == 99:
            cell: object = rng.choice([f"{n[:4]}", "n/a", f"+380 67 {n}99"])
            bad.append(Rejection(row, "Телефон", f"not a phone number: {str(cell)!r}"))
        else:
            cell = rng.choice([f"+380 67 {n}", f"067{n}", float(f"38067{n}"), f"8 (067) {n}"])
            good[row] = f"+38067{n}"
        rows.append([f"Person {i}", "Co", cell])
    path = tmp_path / "contacts.xlsx"
    path.write_bytes(make_big_xlsx("Контакти", rows))

    table = read_table(path)
    fields = [
        FieldSpec("name", "text", aliases=("ім'я",)),
        FieldSpec("number", "phone", required=True, aliases=("телефон",)),
    ]
    layout = detect_layout(table.head(50), fields)
    out = list(plan_rows(table, layout, fields))
    assert [r for r in out if isinstance(r, Rejection)] == bad
    assert {r.row: r.values["number"] for r in out if isinstance(r, Record)} == good
