"""Writing xlsx: journal and report exports (B8), read back by openpyxl and our reader."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from agent.core.errors import InvalidInput
from agent.files import Sheet, read_table, write_xlsx

KYIV_TZ = ZoneInfo("Europe/Kyiv")


def written(sheets: list[Sheet], **kw: object) -> openpyxl.Workbook:
    out = io.BytesIO()
    write_xlsx(out, sheets, **kw)  # type: ignore[arg-type]
    out.seek(0)
    return openpyxl.load_workbook(out)


def test_the_header_is_bold_and_frozen_and_columns_have_widths_b8() -> None:
    book = written(
        [Sheet("Journal", ["When", "Number"], [["x", "+380442249895"]], widths=[20, 16])]
    )
    ws = book["Journal"]
    assert ws.freeze_panes == "A2"
    assert [c.value for c in ws[1]] == ["When", "Number"]
    assert all(c.font.b for c in ws[1])
    assert not ws["A2"].font.b
    assert (ws.column_dimensions["A"].width, ws.column_dimensions["B"].width) == (20, 16)


def test_widths_are_estimated_from_the_header_and_the_first_rows() -> None:
    rows = [["short", "a much longer value than the header", datetime(2024, 3, 1, 9)]]
    ws = written([Sheet("S", ["Name", "Note", "When"], rows)])["S"]
    widths = [ws.column_dimensions[c].width for c in "ABC"]
    assert widths[0] < widths[1] <= 60
    assert widths[2] >= 19  # "2024-03-01 09:00:00" fits


def test_datetimes_are_real_excel_dates() -> None:
    rows = [[datetime(2024, 3, 1, 12, 30), date(2024, 3, 2), time(9, 5), timedelta(seconds=95)]]
    ws = written([Sheet("S", ["a", "b", "c", "d"], rows)])["S"]
    a, b, c, d = ws[2]
    assert (a.data_type, a.value) == ("d", datetime(2024, 3, 1, 12, 30))
    assert a.is_date and b.is_date
    assert b.value == datetime(2024, 3, 2)
    assert c.value == time(9, 5)
    assert d.value == timedelta(seconds=95)


def test_aware_datetimes_are_shown_in_the_given_time_zone_or_their_own() -> None:
    at = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    sheet = Sheet("S", ["at"], [[at]])
    assert written([sheet], time_zone=KYIV_TZ)["S"]["A2"].value == datetime(2024, 3, 1, 12, 0)
    assert written([Sheet("S", ["at"], [[at]])])["S"]["A2"].value == datetime(2024, 3, 1, 10, 0)


def test_numbers_stay_numbers_and_none_stays_empty() -> None:
    ws = written([Sheet("S", ["n"], [[12], [1.5], [Decimal("1234.56")], [True], [None]])])["S"]
    assert [ws.cell(r, 1).value for r in range(2, 7)] == [12, 1.5, 1234.56, True, None]


def test_text_that_looks_like_a_formula_or_an_error_stays_text() -> None:
    rows = [['=HYPERLINK("http://evil","x")'], ["=1+2"], ["#N/A"], ["+380442249895"]]
    ws = written([Sheet("S", ["name"], rows)])["S"]
    cells = [ws.cell(r, 1) for r in range(2, 6)]
    assert [c.value for c in cells] == [r[0] for r in rows]
    assert [c.data_type for c in cells] == ["s", "s", "s", "s"]


def test_characters_a_worksheet_cannot_hold_are_dropped() -> None:
    ws = written([Sheet("S", ["note\x07"], [["bad\x00\x01\x1fchar"]])])["S"]
    assert (ws["A1"].value, ws["A2"].value) == ("note", "badchar")


def test_sheet_titles_follow_excel_rules() -> None:
    titles = ["Journal", "journal", "a/b:c*d?[e]", "x" * 40, ""]
    book = written([Sheet(t, ["h"], []) for t in titles])
    assert book.sheetnames == ["Journal", "journal (2)", "a_b_c_d__e_", "x" * 31, "Sheet"]


def test_an_empty_export_is_still_a_workbook() -> None:
    assert written([])
    assert written([Sheet("Empty", [], [])])["Empty"].max_row == 1


def test_rows_may_be_a_generator_read_once(tmp_path: Path) -> None:
    path = tmp_path / "big.xlsx"
    rows = ([f"Person {i}", f"+38067{i:07d}", datetime(2024, 3, 1) + timedelta(minutes=i)]
            for i in range(5000))  # fmt: skip
    write_xlsx(path, [Sheet("Journal", ["Name", "Number", "At"], rows)])
    table = read_table(path)
    read = list(table)
    assert len(read) == 5001
    assert read[-1] == (5001, ["Person 4999", "+380670004999", datetime(2024, 3, 4, 11, 19)])


def test_an_unwritable_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"cannot write .*missing.*report\.xlsx"):
        write_xlsx(tmp_path / "missing" / "report.xlsx", [Sheet("S", ["h"], [])])
