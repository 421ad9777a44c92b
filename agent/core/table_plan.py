"""From spreadsheet rows to records, with a report of every reject (M6, U7, U9).

Pure and generic: the contact, sales and dial-list imports declare their fields
as :class:`FieldSpec`, :func:`detect_layout` finds the header row and the
columns (or takes the operator's mapping), and :func:`plan_rows` turns each row
into a :class:`Record` or one :class:`Rejection` per bad cell; the imports take the
same rows in batches, as plain tuples (:func:`plan_batches`). A broken row never
stops the rest (architecture.md, rule 6: a spreadsheet row is a value).

Rejection reasons are stable plain English, the value quoted and cut to 40
characters (docs/architecture/files.md lists them)::

    empty required field
    not a phone number: 'abc'
    not an integer: '12.5'
    not an amount: '12,3,4'
    not a date: '31.02.2024'
    not a date and time: '2024-13-01 10:00'

Rows and columns follow contracts.md §4: ``row`` is 1-based as a spreadsheet
shows it (header included); ``column`` is the header text when there is one,
else the column letter.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation
from itertools import islice, repeat
from typing import Literal

from agent.core.errors import InvalidInput
from agent.core.numbers import DEFAULT_REGION, FAST_REGIONS, fast_e164, to_e164

Kind = Literal["phone", "text", "int", "money", "date", "datetime"]
Mapping = dict[str, str]  # field name -> column letter ("B") or header text

# How many leading rows may hold titles before the header, and how many rows
# the number column is guessed from when there is no header.
HEADER_SCAN_ROWS = 20
SAMPLE_ROWS = 50


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field an import wants; ``aliases`` are header words (en/uk/ru), any case."""

    name: str
    kind: Kind
    required: bool = False
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Rejection:
    row: int
    column: str
    reason: str


@dataclass(frozen=True, slots=True)
class Record:
    """A good row: ``values`` has every field (None where the cell is empty or unmapped).

    Types by kind: phone → E.164 ``str``, text → ``str``, int → ``int``,
    money → ``Decimal``, date → ``date``, datetime → ``datetime`` (naive unless
    the cell said its offset).
    """

    row: int
    values: dict[str, object]


@dataclass(frozen=True, slots=True)
class Layout:
    """Where the fields are: ``columns`` maps field name to a 0-based column index."""

    header_row: int | None
    first_row: int
    columns: dict[str, int]
    headers: tuple[str, ...] = ()

    def label(self, index: int) -> str:
        """The column as contracts.md §4 names it: header text, else the letter."""
        if index < len(self.headers) and self.headers[index]:
            return self.headers[index]
        return column_letter(index)


def column_letter(index: int) -> str:
    """0 → "A", 25 → "Z", 26 → "AA"."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def column_index(letter: str) -> int:
    """ "A" → 0, "AA" → 26; the inverse of :func:`column_letter`."""
    index = 0
    for ch in letter.upper():
        index = index * 26 + ord(ch) - ord("A") + 1
    return index - 1


# ------------------------------------------------------------------ layout

_LETTER = re.compile(r"[A-Za-z]{1,3}")
_PUNCT = re.compile(r"[\s*:№#.,;()\[\]_\"'/\\-]+")


def _words(value: object) -> tuple[str, ...]:
    if not isinstance(value, str):
        return ()
    return tuple(w for w in _PUNCT.split(value.casefold().replace("ё", "е")) if w)


@dataclass(slots=True)
class _Candidate:
    row: int  # 0-based index into first_rows
    columns: dict[str, int] = field(default_factory=dict)
    score: int = 0


def _match_header(
    row_index: int, cells: Sequence[object], fields: Sequence[FieldSpec], mapping: Mapping
) -> _Candidate:
    """Fields whose aliases (or mapped header text) name a cell of this row."""
    scored: list[tuple[int, int, int, str]] = []  # (-score, column, field order, name)
    for col, cell in enumerate(cells):
        words = _words(cell)
        if not words:
            continue
        for order, spec in enumerate(fields):
            score = _alias_score(words, spec, mapping.get(spec.name))
            if score:
                scored.append((-score, col, order, spec.name))
    candidate = _Candidate(row_index)
    used: set[int] = set()
    for neg_score, col, _, name in sorted(scored):
        if name not in candidate.columns and col not in used:
            candidate.columns[name] = col
            candidate.score -= neg_score
            used.add(col)
    return candidate


def _alias_score(words: tuple[str, ...], spec: FieldSpec, mapped: str | None) -> int:
    if mapped is not None:
        return 3 if words == _words(mapped) else 0
    best = 0
    for alias in (spec.name.replace("_", " "), *spec.aliases):
        alias_words = _words(alias)
        if not alias_words:
            continue
        if words == alias_words:
            return 2
        n = len(alias_words)
        if any(words[i : i + n] == alias_words for i in range(len(words) - n + 1)):
            best = 1
    return best


def detect_layout(
    first_rows: Sequence[Sequence[object]],
    fields: Sequence[FieldSpec],
    mapping: Mapping | None = None,
    region: str = DEFAULT_REGION,
) -> Layout:
    """Find the header row (title rows may precede it) and each field's column.

    ``first_rows`` are the sheet's first rows starting at row 1 (pass at least
    :data:`SAMPLE_ROWS`). ``mapping`` pins fields to a letter or a header text;
    the other fields are found by their aliases. A phone field no header names
    is the column where most cells are phone numbers.

    Raises :class:`InvalidInput` when a mapping names an unknown field or column,
    or a required field has no column: the whole file cannot be read then.
    """
    mapping = dict(mapping or {})
    names = {spec.name for spec in fields}
    for name in mapping:
        if name not in names:
            raise InvalidInput(
                f"unknown field {name!r} in the mapping (known: {', '.join(sorted(names))})",
                field=name,
                message_key="import.unknown_field",
            )
    header_mapping = {k: v for k, v in mapping.items() if not _LETTER.fullmatch(v.strip())}
    # A row holding a phone number is data, whatever words it has ("Phone Company").
    candidates = [
        _match_header(i, row, fields, header_mapping)
        for i, row in enumerate(first_rows[:HEADER_SCAN_ROWS])
        if not any(_phone(cell, region) is not None for cell in row)
    ]
    best = max(candidates, key=lambda c: (len(c.columns), c.score, -c.row), default=None)
    header = best if best is not None and best.columns else None

    columns: dict[str, int] = dict(header.columns) if header else {}
    header_index = header.row if header else None
    _apply_mapping(columns, mapping, first_rows, header_index)
    data_from = header_index + 1 if header_index is not None else 0
    sample = first_rows[data_from : data_from + SAMPLE_ROWS]
    _find_phone_columns(columns, sample, fields, region)

    if header_index is None:
        header_index = _leading_header(first_rows, fields, columns, region)
    for spec in fields:
        if spec.required and spec.name not in columns:
            raise InvalidInput(
                f"no column found for the required field {spec.name!r}",
                field=spec.name,
                message_key="import.column_missing",
            )
    headers: tuple[str, ...] = ()
    if header_index is not None:
        headers = tuple(_header_text(c) for c in first_rows[header_index])
    return Layout(
        header_row=None if header_index is None else header_index + 1,
        first_row=1 if header_index is None else header_index + 2,
        columns=columns,
        headers=headers,
    )


def _header_text(cell: object) -> str:
    return cell.strip() if isinstance(cell, str) else ("" if cell is None else str(cell))


def _apply_mapping(
    columns: dict[str, int],
    mapping: Mapping,
    first_rows: Sequence[Sequence[object]],
    header_index: int | None,
) -> None:
    header = first_rows[header_index] if header_index is not None else ()
    width = max((len(row) for row in first_rows), default=0)
    for name, target in mapping.items():
        wanted = _words(target)
        by_text = [i for i, cell in enumerate(header) if wanted and _words(cell) == wanted]
        if by_text:
            columns[name] = by_text[0]
        elif _LETTER.fullmatch(target.strip()) and column_index(target.strip()) < width:
            columns[name] = column_index(target.strip())
        else:
            raise InvalidInput(
                f"no column {target!r} for the field {name!r}",
                field=name,
                message_key="import.column_not_found",
            )
    # The mapping wins over aliases: a field the mapping moved frees its column.
    taken: dict[int, str] = {}
    for name in [*mapping, *[n for n in columns if n not in mapping]]:
        col = columns[name]
        if col in taken:
            if name in mapping:
                raise InvalidInput(
                    f"column {column_letter(col)} is mapped to both {taken[col]!r} and {name!r}",
                    field=name,
                    message_key="import.column_twice",
                )
            del columns[name]
        else:
            taken[col] = name


def _find_phone_columns(
    columns: dict[str, int],
    sample: Sequence[Sequence[object]],
    fields: Sequence[FieldSpec],
    region: str,
) -> None:
    """A phone field no header names: the free column where most cells are numbers."""
    for spec in fields:
        if spec.kind != "phone" or spec.name in columns:
            continue
        taken = set(columns.values())
        width = max((len(row) for row in sample), default=0)
        best: tuple[int, int] | None = None  # (valid count, -column)
        for col in range(width):
            if col in taken:
                continue
            cells = [row[col] for row in sample if col < len(row) and not _is_empty(row[col])]
            found = [_phone(cell, region) is not None for cell in cells]
            # Counted from the first number on: titles and a header may sit above.
            rest = found[found.index(True) :] if True in found else []
            valid = sum(rest)
            if valid and valid * 2 >= len(rest) and (best is None or (valid, -col) > best):
                best = (valid, -col)
        if best is not None:
            columns[spec.name] = -best[1]


def _leading_header(
    first_rows: Sequence[Sequence[object]],
    fields: Sequence[FieldSpec],
    columns: dict[str, int],
    region: str,
) -> int | None:
    """Without a recognised header: rows before the first real number whose number
    cell holds no digit at all are titles and a header (not data, not rejects);
    the last non-empty one labels the columns."""
    phone_cols = [columns[s.name] for s in fields if s.kind == "phone" and s.name in columns]
    if not phone_cols:
        return None
    col = phone_cols[0]
    header: int | None = None
    for index, row in enumerate(first_rows[:HEADER_SCAN_ROWS]):
        cell = row[col] if col < len(row) else None
        if _phone(cell, region) is not None or any(ch.isdigit() for ch in _header_text(cell)):
            return header
        if any(not _is_empty(c) for c in row):
            header = index
    return None


# ------------------------------------------------------------------ rows

# Rows planned together by plan_batches: large enough that the per-batch work vanishes,
# small enough that an import reports progress and matches numbers batch by batch.
BATCH_ROWS = 5000


@dataclass(frozen=True, slots=True)
class _Bad:
    reason: str


Parser = Callable[[object, str], object]


@dataclass(slots=True)
class PlannedBatch:
    """Consecutive rows planned together (:func:`plan_batches`).

    The good rows come as parallel lists, not as a :class:`Record` each (an import's
    100k rows, issue 5): ``rows[i]`` is the row number, ``values[i]`` its values in
    the order of the fields (types as in :class:`Record`, None where empty or
    unmapped), ``cells[i]`` the row's cells as read (for columns that are no field).
    ``rejected`` holds the bad rows' rejections in row order; ``last_row`` is the
    number of the last row read into the batch, good, bad or empty.
    """

    rows: list[int]
    values: list[tuple[object, ...]]
    cells: list[Sequence[object]]
    rejected: list[Rejection]
    last_row: int


@dataclass(frozen=True, slots=True)
class _Column:
    """How one field is planned: its place among the fields, its column, its parser."""

    index: int
    column: int | None  # None: a required field no column holds (every cell empty)
    plan: Callable[[list[object], str], list[object]]
    required: bool
    label: str
    may_fail: bool  # whether its parser can answer _Bad


def plan_batches(
    rows: Iterable[tuple[int, Sequence[object]]],
    layout: Layout,
    fields: Sequence[FieldSpec],
    region: str = DEFAULT_REGION,
    size: int = BATCH_ROWS,
) -> Iterator[PlannedBatch]:
    """The rows from ``layout.first_row`` on, ``size`` at a time, as :class:`PlannedBatch`.

    The same rules as :func:`plan_rows`, which is made of it. The hot path of every
    import (issue 5: 100k rows): each field is parsed a column at a time, so the
    per-cell work is one list comprehension; only rows with a bad or missing value
    are looked at one by one.
    """
    for batch, _, _ in _plan(rows, layout, fields, region, size):
        yield batch


def plan_rows(
    rows: Iterable[tuple[int, Sequence[object]]],
    layout: Layout,
    fields: Sequence[FieldSpec],
    region: str = DEFAULT_REGION,
) -> Iterator[Record | Rejection]:
    """Each row from ``layout.first_row`` on as a Record, or its Rejections.

    Rows wholly empty are skipped silently (spreadsheets keep formatted blanks).
    A row with several bad cells yields one Rejection per bad cell, in field order.
    """
    names = [spec.name for spec in fields]
    for batch, kept, rejected_at in _plan(rows, layout, fields, region, BATCH_ROWS):
        records = [
            Record(number, dict(zip(names, values, strict=True)))
            for number, values in zip(batch.rows, batch.values, strict=True)
        ]
        if not batch.rejected:
            yield from records
            continue
        # Back into the order the rows came in: by their places in the batch.
        out: list[tuple[int, Record | Rejection]] = [
            *zip(kept, records, strict=True),
            *zip(rejected_at, batch.rejected, strict=True),
        ]
        out.sort(key=lambda item: item[0])  # stable: a row's rejections stay in field order
        for _, item in out:
            yield item


def _plan(
    rows: Iterable[tuple[int, Sequence[object]]],
    layout: Layout,
    fields: Sequence[FieldSpec],
    region: str,
    size: int,
) -> Iterator[tuple[PlannedBatch, Sequence[int], list[int]]]:
    """Batches, each with the places (in the batch's input) of its good rows and of
    its rejections, for :func:`plan_rows` to interleave them."""
    columns = [
        _Column(
            index,
            layout.columns.get(spec.name),
            _COLUMN_PLANS[spec.kind],
            spec.required,
            layout.label(layout.columns[spec.name]) if spec.name in layout.columns else spec.name,
            spec.kind != "text",
        )
        for index, spec in enumerate(fields)
        if spec.name in layout.columns or spec.required
    ]
    first = layout.first_row
    source = iter(rows)
    while True:
        chunk = list(islice(source, size))
        if not chunk:
            return
        numbers = [number for number, _ in chunk]
        if min(numbers) < first:
            chunk = [row for row in chunk if row[0] >= first]
            if not chunk:
                continue
            numbers = [number for number, _ in chunk]
        cells = [row for _, row in chunk]
        yield _plan_chunk(numbers, cells, columns, len(fields), region)


def _plan_chunk(
    numbers: list[int],
    rows: list[Sequence[object]],
    columns: Sequence[_Column],
    width: int,
    region: str,
) -> tuple[PlannedBatch, Sequence[int], list[int]]:
    count = len(rows)
    shortest = min(map(len, rows))
    planned: list[Iterable[object]] = [repeat(None, count) for _ in range(width)]
    problems: set[int] = set()
    for column in columns:
        col = column.column
        if col is None:
            raw: list[object] = [None] * count
        elif col < shortest:
            raw = [row[col] for row in rows]
        else:
            raw = [row[col] if col < len(row) else None for row in rows]
        out = column.plan(raw, region)
        planned[column.index] = out
        if column.may_fail:
            problems.update([i for i, value in enumerate(out) if type(value) is _Bad])
        if column.required:
            problems.update([i for i, value in enumerate(out) if value is None])
    values = list(zip(*planned, strict=True))
    if not any(column.required for column in columns):
        # A row with no field filled may be wholly empty: looked at one by one below.
        problems.update([i for i, v in enumerate(values) if v.count(None) == width])
    if not problems:
        return PlannedBatch(numbers, values, rows, [], numbers[-1]), range(count), []
    rejected, rejected_at, dropped = _sort_out(sorted(problems), numbers, rows, values, columns)
    kept = [i for i in range(count) if i not in dropped]
    batch = PlannedBatch(
        [numbers[i] for i in kept],
        [values[i] for i in kept],
        [rows[i] for i in kept],
        rejected,
        numbers[-1],
    )
    return batch, kept, rejected_at


def _sort_out(
    problems: list[int],
    numbers: list[int],
    rows: list[Sequence[object]],
    values: list[tuple[object, ...]],
    columns: Sequence[_Column],
) -> tuple[list[Rejection], list[int], set[int]]:
    """The rows (by place) with a bad or missing value, or with none at all: their
    rejections, in row then field order, each rejection's place, and the places of
    the rows that are out (rejected, or wholly empty and skipped silently)."""
    rejected: list[Rejection] = []
    rejected_at: list[int] = []
    dropped: set[int] = set()
    for i in problems:
        row_values = values[i]
        if row_values.count(None) == len(row_values) and all(_is_empty(c) for c in rows[i]):
            dropped.add(i)
            continue
        for column in columns:
            value = row_values[column.index]
            if type(value) is _Bad:
                reason = value.reason
            elif value is None and column.required:
                reason = "empty required field"
            else:
                continue
            rejected.append(Rejection(numbers[i], column.label, reason))
            rejected_at.append(i)
            dropped.add(i)
    return rejected, rejected_at, dropped


def _is_empty(cell: object) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _quote(cell: object, limit: int = 40) -> str:
    text = cell if isinstance(cell, str) else str(cell)
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _plain(cell: object) -> str:
    """A cell as the text it shows; integral floats lose their ".0"."""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, datetime):
        return cell.isoformat(sep=" ") if cell.time() != time() else cell.date().isoformat()
    return cell.strip() if isinstance(cell, str) else str(cell)


def _phone(cell: object, region: str) -> str | None:
    if type(cell) is str:
        return to_e164(cell, region)  # the hot path of every import
    if isinstance(cell, bool) or cell is None:
        return None
    return to_e164(_plain(cell), region)


def _parse_phone(cell: object, region: str) -> object:
    e164 = _phone(cell, region)
    return _Bad(f"not a phone number: {_quote(_plain(cell))}") if e164 is None else e164


def _parse_text(cell: object, region: str) -> object:
    return cell.strip() if type(cell) is str else _plain(cell)


_INT = re.compile(r"[+-]?[0-9]+")
_GROUP_SPACES = str.maketrans("", "", " \u00a0\u202f'")


def _parse_int(cell: object, region: str) -> object:
    if isinstance(cell, int) and not isinstance(cell, bool):
        return cell
    if isinstance(cell, float) and cell.is_integer():
        return int(cell)
    text = _plain(cell).translate(_GROUP_SPACES)
    if isinstance(cell, str) and _INT.fullmatch(text):
        return int(text)
    return _Bad(f"not an integer: {_quote(_plain(cell))}")


# Currency words and signs around an amount ("1234.56 грн", "₴ 1 234", "$12").
_CURRENCY = re.compile(r"^[^\d+-]*|[^\d]*$")
_AMOUNT = re.compile(r"[+-]?(?:\d+|\d{1,3}(?:[,.]\d{3})+)(?:[,.]\d+)?")


def _parse_money(cell: object, region: str) -> object:
    if isinstance(cell, bool):
        return _Bad(f"not an amount: {_quote(cell)}")
    if isinstance(cell, int | float):
        return Decimal(repr(cell))
    raw = _plain(cell)
    text = _CURRENCY.sub("", raw.translate(_GROUP_SPACES))
    amount = _amount(text) if _AMOUNT.fullmatch(text) else None
    return _Bad(f"not an amount: {_quote(raw)}") if amount is None else amount


def _amount(text: str) -> Decimal | None:
    """One decimal separator, the last of "," or "."; the other groups thousands.

    A single separator followed by exactly three digits groups thousands
    ("1,234" is 1234, as accountants write it); otherwise it is the decimal point.
    """
    seps = [ch for ch in text if ch in ",."]
    if not seps:
        return Decimal(text)
    last = seps[-1]
    head, _, tail = text.rpartition(last)
    if len(set(seps)) == 1 and (
        len(seps) > 1 or (len(tail) == 3 and head.lstrip("+-") not in ("", "0"))
    ):
        head, tail = text, ""  # "1,234,567" and "1,234": every separator groups
    elif last in seps[:-1] or len(set(seps[:-1])) > 1:
        return None  # "1.234,567.8": no one decimal separator
    groups = re.split(r"[,.]", head.lstrip("+-"))
    if len(groups) > 1 and (not 1 <= len(groups[0]) <= 3 or any(len(g) != 3 for g in groups[1:])):
        return None
    try:
        return Decimal(head.replace(",", "").replace(".", "") + ("." + tail if tail else ""))
    except InvalidOperation:
        return None


# Excel's day 0 is 1899-12-30 for serials from 61 on (serial 60 is Lotus' 1900-02-29).
_EXCEL_EPOCH = datetime(1899, 12, 30)
_SERIAL = re.compile(r"\d{1,7}(?:\.\d+)?")
_DATE = re.compile(
    r"(?:(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})"
    r"|(?P<d2>\d{1,2})[./](?P<m2>\d{1,2})[./](?P<y2>\d{4}|\d{2})"
    r"|(?P<y3>\d{4})(?P<m3>\d{2})(?P<d3>\d{2}))"
    r"(?:[ T]+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<f>\d{1,6}))?)?)?"
    r"\s*(?P<tz>Z|[+-]\d{2}:?\d{2})?"
)


def _datetime_of(cell: object) -> datetime | None:
    if isinstance(cell, datetime):
        return cell
    if isinstance(cell, date):
        return datetime(cell.year, cell.month, cell.day)
    if isinstance(cell, bool):
        return None
    if isinstance(cell, int | float):
        return _from_serial(float(cell))
    text = _plain(cell)
    # A typed serial must have five digits (1927–2173): "2024" is not a date.
    if _SERIAL.fullmatch(text) and len(text.partition(".")[0]) == 5:
        return _from_serial(float(text))
    match = _DATE.fullmatch(text)
    return _from_match(match) if match else None


def _from_serial(serial: float) -> datetime | None:
    if not 0 < serial < 2958466 or 60 <= serial < 61:
        return None
    epoch = _EXCEL_EPOCH if serial >= 61 else _EXCEL_EPOCH + timedelta(days=1)
    return epoch + timedelta(days=serial)


def _from_match(match: re.Match[str]) -> datetime | None:
    g = match.groupdict()
    year = g["y"] or g["y2"] or g["y3"]
    month = g["m"] or g["m2"] or g["m3"]
    day = g["d"] or g["d2"] or g["d3"]
    full_year = int(year) + (2000 if len(year) == 2 else 0)
    micro = int((g["f"] or "0").ljust(6, "0"))
    tz = _offset(g["tz"]) if g["tz"] else None
    try:
        return datetime(
            full_year, int(month), int(day), int(g["H"] or 0), int(g["M"] or 0),
            int(g["S"] or 0), micro, tzinfo=tz,
        )  # fmt: skip
    except ValueError:
        return None


def _offset(text: str) -> timezone:
    if text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def _parse_date(cell: object, region: str) -> object:
    value = _datetime_of(cell)
    return _Bad(f"not a date: {_quote(_plain(cell))}") if value is None else value.date()


def _parse_datetime(cell: object, region: str) -> object:
    value = _datetime_of(cell)
    return _Bad(f"not a date and time: {_quote(_plain(cell))}") if value is None else value


# ------------------------------------------------------------------ a column at a time
# Each takes a column's cells and gives, per cell, its value, None for an empty cell,
# or _Bad: what the parsers above give one cell at a time.


def _plan_text(cells: list[object], region: str) -> list[object]:
    return [
        (cell.strip() or None) if type(cell) is str else None if cell is None else _plain(cell)
        for cell in cells
    ]


def _plan_phone(cells: list[object], region: str) -> list[object]:
    # numbers.fast_e164 first, the shapes most cells have (to_e164 tries it first too,
    # behind its cache, which a file of distinct numbers only ever misses); the rest
    # (empty, other shapes, bad) one by one, as to_e164 and _parse_phone answer.
    out: list[object]
    if region in FAST_REGIONS:
        out = [fast_e164(cell, region) if type(cell) is str else None for cell in cells]
    else:
        out = [None] * len(cells)
    for i in [i for i, value in enumerate(out) if value is None]:
        out[i] = _phone_cell(cells[i], region)
    return out


def _phone_cell(cell: object, region: str) -> object:
    if cell is None or (type(cell) is str and not cell.strip()):
        return None
    return _parse_phone(cell, region)


def _plan_with(parse: Parser) -> Callable[[list[object], str], list[object]]:
    def plan(cells: list[object], region: str) -> list[object]:
        return [
            None
            if cell is None or (type(cell) is str and not cell.strip())
            else parse(cell, region)
            for cell in cells
        ]

    return plan


_COLUMN_PLANS: dict[str, Callable[[list[object], str], list[object]]] = {
    "text": _plan_text,
    "phone": _plan_phone,
    "int": _plan_with(_parse_int),
    "money": _plan_with(_parse_money),
    "date": _plan_with(_parse_date),
    "datetime": _plan_with(_parse_datetime),
}
