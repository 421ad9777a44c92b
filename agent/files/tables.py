"""Reading a table the operator gave: csv, xls, xlsx or ods (M6, U7, U9).

Workbooks are read by python-calamine (~12x faster than openpyxl's read-only
mode); CSV by :mod:`agent.files.csv_text`. Every cell comes back as one of
:data:`Cell`: numbers a spreadsheet stores as integral floats (380442249895.0)
become digit strings, so a phone column reads the same from csv and xlsx;
dates become datetimes; empty cells are None. Rows carry their 1-based
spreadsheet row number (contracts.md §4).

A file is recognised by its content first (a workbook saved as ".csv", or a
tab-separated export saved as ".xls", still reads); the name only decides
between text formats. What cannot be read raises :class:`InvalidInput` naming
the file; a file that ends early keeps the rows before the damage and says so
in :attr:`Table.problem`.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator, Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TypeAlias

from agent.core.errors import InvalidInput
from agent.files import csv_text

Cell: TypeAlias = str | float | bool | datetime | time | timedelta | None
Row: TypeAlias = tuple[int, list[Cell]]

TEXT_EXTENSIONS = frozenset({".csv", ".txt", ".tsv"})
WORKBOOK_EXTENSIONS = frozenset({".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"})

_ZIP_MAGIC = b"PK\x03\x04"  # xlsx, xlsm, xlsb, ods
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # xls (BIFF in a compound file)


class Table:
    """Rows of one sheet, streamed once; :meth:`head` peeks without losing them."""

    def __init__(
        self,
        filename: str,
        rows: Iterator[Row],
        *,
        sheet: str | None = None,
        sheet_names: tuple[str, ...] = (),
        encoding: str | None = None,
        delimiter: str | None = None,
        problem: str | None = None,
    ) -> None:
        self.filename = filename
        self.sheet = sheet
        self.sheet_names = sheet_names
        self.encoding = encoding
        self.delimiter = delimiter
        self.problem = problem
        self._rows = rows
        self._buffer: list[Row] = []

    def head(self, count: int) -> list[list[Cell]]:
        """The cells of rows 1..count (fewer if the sheet is shorter), for detect_layout.

        Readers number rows 1, 2, 3… without gaps, so the list index is the row - 1.
        """
        while len(self._buffer) < count:
            row = next(self._rows, None)
            if row is None:
                break
            self._buffer.append(row)
        return [cells for _, cells in self._buffer[:count]]

    def __iter__(self) -> Iterator[Row]:
        buffered, self._buffer = self._buffer, []
        yield from buffered
        yield from self._rows


def read_table(
    source: str | os.PathLike[str] | bytes,
    filename: str | None = None,
    *,
    sheet: str | None = None,
) -> Table:
    """Open a table from a path or from the bytes of an upload named ``filename``.

    ``sheet`` names the workbook sheet to read; the first one by default.
    """
    if isinstance(source, bytes):
        data = source
        name = filename or "upload"
    else:
        path = Path(source)
        name = filename or path.name
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InvalidInput(
                f"cannot read {name!r}: {exc.strerror or exc}", message_key="file.unreadable"
            ) from exc
    extension = Path(name).suffix.lower()
    if extension not in TEXT_EXTENSIONS | WORKBOOK_EXTENSIONS:
        known = ", ".join(sorted(TEXT_EXTENSIONS | WORKBOOK_EXTENSIONS))
        raise InvalidInput(
            f"cannot read {name!r}: unknown file type {extension or '(none)'!r} "
            f"(readable: {known})",
            message_key="file.unknown_type",
        )
    if not data:
        raise InvalidInput(f"cannot read {name!r}: the file is empty", message_key="file.empty")
    if data.startswith((_ZIP_MAGIC, _OLE_MAGIC)):
        return _read_workbook(data, name, sheet)
    if extension in WORKBOOK_EXTENSIONS and _looks_like_html(data):
        raise InvalidInput(
            f"cannot read {name!r}: it is a web page saved with a spreadsheet name; "
            "open it in a spreadsheet program and save it as .xlsx",
            message_key="file.html",
        )
    if extension in WORKBOOK_EXTENSIONS and _looks_binary(data):
        raise InvalidInput(
            f"cannot read {name!r}: the file is damaged or not a {extension} workbook",
            message_key="file.corrupt",
        )
    return _read_text(data, name)


# ------------------------------------------------------------------ text


def _looks_like_html(data: bytes) -> bool:
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html", b"<table", b"<?xml"))


def _looks_binary(data: bytes) -> bool:
    return not csv_text.looks_like_text(csv_text.decode(data[:4096]).text)


def _read_text(data: bytes, name: str) -> Table:
    decoded = csv_text.decode(data)
    if not csv_text.looks_like_text(decoded.text):
        raise InvalidInput(
            f"cannot read {name!r}: it is not a text file", message_key="file.corrupt"
        )
    delimiter = csv_text.sniff_delimiter(decoded.text)
    table = Table(
        name,
        iter([]),
        encoding=decoded.encoding,
        delimiter=delimiter,
        problem=decoded.problem,
    )
    table._rows = _csv_rows(table, decoded.text, delimiter)
    return table


def _csv_rows(table: Table, text: str, delimiter: str) -> Iterator[Row]:
    strays: list[int] = []

    def stray_quote(row: int) -> None:
        strays.append(row)
        rows = ", ".join(map(str, strays[:10])) + (" …" if len(strays) > 10 else "")
        table.problem = (
            f"{table.filename!r}: a quote is not closed in row(s) {rows}; "
            "each was read as plain text and the rows after it were read as usual"
        )

    records = csv_text.iter_records(text, delimiter, stray_quote)
    number = 0
    try:
        for number, cells in records:
            yield number, list(cells)
    except csv.Error as exc:
        # Rows before the damage were yielded and stay imported.
        table.problem = f"{table.filename!r} is damaged after row {number}: {exc}"


# ------------------------------------------------------------------ workbooks


def _read_workbook(data: bytes, name: str, sheet: str | None) -> Table:
    # Loaded on the first workbook read only, not by the idle agent (issue 2).
    import python_calamine

    try:
        book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except python_calamine.PasswordError as exc:
        raise InvalidInput(
            f"cannot read {name!r}: the workbook is password-protected",
            message_key="file.protected",
        ) from exc
    except (python_calamine.CalamineError, ValueError, OSError) as exc:
        raise _damaged(name, exc) from exc
    except BaseException as exc:
        if not _is_panic(exc):
            raise
        raise _damaged(name, exc) from exc
    names = tuple(book.sheet_names)
    if not names:
        raise InvalidInput(f"cannot read {name!r}: it has no sheets", message_key="file.empty")
    if sheet is not None and sheet not in names:
        raise InvalidInput(
            f"no sheet {sheet!r} in {name!r} (sheets: {', '.join(names)})",
            field="sheet",
            message_key="file.no_sheet",
        )
    chosen = sheet if sheet is not None else names[0]
    try:
        # skip_empty_area=False: row and column indexes stay the sheet's own (A1 = [0][0]).
        grid = book.get_sheet_by_name(chosen).to_python(skip_empty_area=False)
    except (python_calamine.CalamineError, ValueError, OSError) as exc:
        raise _damaged(name, exc) from exc
    except BaseException as exc:
        if not _is_panic(exc):
            raise
        raise _damaged(name, exc) from exc
    finally:
        book.close()
    return Table(name, _grid_rows(grid), sheet=chosen, sheet_names=names)


def _damaged(name: str, exc: BaseException) -> InvalidInput:
    return InvalidInput(
        f"cannot read {name!r}: the file is damaged or not a workbook ({exc})",
        message_key="file.corrupt",
    )


def _is_panic(exc: BaseException) -> bool:
    """calamine's Rust code panics on some damaged files (a cut .xls); pyo3 raises
    that as ``pyo3_runtime.PanicException``, a BaseException no module exports."""
    return type(exc).__name__ == "PanicException"


_TEXT_ONLY = frozenset({str}).issuperset


def _grid_rows(grid: Sequence[list[Any]]) -> Iterator[Row]:
    for number, cells in enumerate(grid, 1):
        # Most rows hold non-empty text only, which needs no conversion: two tests in C
        # instead of a Python step per cell (issue 5: 100k rows).
        if "" in cells or not _TEXT_ONLY(map(type, cells)):
            yield number, [v if type(v) is str and v else _cell(v) for v in cells]
        else:
            yield number, cells  # calamine's own list, of str only


def _cell(value: object) -> Cell:
    """calamine's value as a :data:`Cell`: integral numbers as digit strings."""
    if value == "" or value is None:
        return None
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else value
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str | time | timedelta):
        return value
    return str(value)
