"""Writing xlsx: the journal and report exports (B8).

openpyxl's write-only mode streams rows to the file, so 100k rows take little
memory. Each sheet gets a bold, frozen header row and column widths (given, or
estimated from the header and the first rows); datetimes are real Excel dates.

Cells are data, never formulas: a contact named "=HYPERLINK(…)" stays text
(spreadsheet formula injection), and characters a worksheet cannot hold
(control characters) are dropped rather than failing the export.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from itertools import chain, islice
from pathlib import Path
from typing import Any, BinaryIO

from agent.core.errors import InvalidInput

MIN_WIDTH = 6.0
MAX_WIDTH = 60.0
_WIDTH_SAMPLE = 200
_TITLE_FORBIDDEN = str.maketrans(dict.fromkeys("[]:*?/\\", "_"))
_DATE_WIDTHS = {datetime: 19.0, date: 11.0, time: 9.0, timedelta: 10.0}
# openpyxl's own rules (openpyxl.cell.cell ILLEGAL_CHARACTERS_RE and ERROR_CODES), kept
# here so the per-cell code needs no openpyxl import (tests/test_idle_footprint.py
# checks they still match the installed openpyxl).
ILLEGAL_CHARACTERS_RE = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")
ERROR_CODES = ("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A")


@dataclass(frozen=True, slots=True)
class Sheet:
    """One worksheet: a header row, then ``rows`` (any iterable, read once)."""

    title: str
    header: Sequence[str]
    rows: Iterable[Sequence[object]]
    widths: Sequence[float] | None = None  # in Excel's character units, per column


def write_xlsx(
    target: str | os.PathLike[str] | BinaryIO,
    sheets: Sequence[Sheet],
    *,
    time_zone: tzinfo | None = None,
) -> None:
    """Write ``sheets`` as one xlsx workbook to a path or a binary stream.

    Excel has no time zones: an aware datetime is shown in ``time_zone`` when
    given (the team's, for reports), else in its own offset.
    """
    if isinstance(target, str | os.PathLike):
        # Open the file before any row is written: a bad path fails at once, clearly.
        try:
            with Path(target).open("wb") as stream:
                _write(stream, sheets, time_zone)
        except OSError as exc:
            raise InvalidInput(
                f"cannot write {os.fspath(target)!r}: {exc.strerror or exc}",
                message_key="file.unwritable",
            ) from exc
    else:
        _write(target, sheets, time_zone)


def _write(stream: BinaryIO, sheets: Sequence[Sheet], time_zone: tzinfo | None) -> None:
    # openpyxl (with lxml and PIL) costs ~12 MB and 0.1-0.3 s: loaded on the first export
    # only, not by the idle agent (issue 2, idle memory and start time).
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    bold = Font(bold=True)
    used: set[str] = set()
    for sheet in sheets or [Sheet("Sheet1", (), ())]:
        ws = book.create_sheet(_title(sheet.title, used))
        rows = iter(sheet.rows)
        first = list(islice(rows, _WIDTH_SAMPLE))
        widths = sheet.widths or _estimate_widths(sheet.header, first)
        for index, width in enumerate(widths, 1):
            ws.column_dimensions[get_column_letter(index)].width = width
        if sheet.header:
            ws.freeze_panes = "A2"
            header = []
            for text in sheet.header:
                cell = WriteOnlyCell(ws, value=_text(str(text)))
                cell.font = bold
                header.append(cell)
            ws.append(header)
        text_cell = _text_cell(WriteOnlyCell, ws)
        for row in chain(first, rows):
            ws.append([_value(value, time_zone, text_cell) for value in row])
    book.save(stream)


def _title(title: str, used: set[str]) -> str:
    """Excel's rules: at most 31 characters, none of []:*?/\\, unique in the book."""
    base = (title.translate(_TITLE_FORBIDDEN).strip("'") or "Sheet")[:31]
    candidate, n = base, 1
    while candidate.casefold() in used:
        n += 1
        suffix = f" ({n})"
        candidate = base[: 31 - len(suffix)] + suffix
    used.add(candidate.casefold())
    return candidate


def _text(value: str) -> str:
    return ILLEGAL_CHARACTERS_RE.sub("", value) if ILLEGAL_CHARACTERS_RE.search(value) else value


def _text_cell(cell_class: Callable[..., Any], ws: object) -> Callable[[str], object]:
    def text_cell(value: str) -> object:
        cell = cell_class(ws, value=value)
        cell.data_type = "s"  # text, not a formula or an error code
        return cell

    return text_cell


def _value(value: object, time_zone: tzinfo | None, text_cell: Callable[[str], object]) -> object:
    if value is None or isinstance(value, bool | int | float | Decimal):
        return value
    if isinstance(value, str):
        value = _text(value)
        if value.startswith("=") or value in ERROR_CODES:
            return text_cell(value)
        return value
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            local = value.astimezone(time_zone) if time_zone is not None else value
            return local.replace(tzinfo=None)
        return value
    if isinstance(value, date | time | timedelta):
        return value
    return _text(str(value))


def _estimate_widths(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[float]:
    count = max([len(header), *(len(r) for r in rows)], default=0)
    widths = [MIN_WIDTH] * count
    for index, text in enumerate(header):
        widths[index] = max(widths[index], len(str(text)) * 1.2 + 2)  # bold is wider
    for row in rows:
        for index, value in enumerate(row):
            widths[index] = max(widths[index], _shown_width(value))
    return [min(width, MAX_WIDTH) for width in widths]


def _shown_width(value: object) -> float:
    if value is None:
        return 0.0
    for kind, width in _DATE_WIDTHS.items():
        if isinstance(value, kind):
            return width
    longest = max((len(line) for line in str(value).splitlines()), default=0)
    return longest + 2.0
