"""CSV as operators' spreadsheets save it: the encoding and the delimiter are guessed.

Excel in a Ukrainian or Russian locale saves "CSV" in cp1251 with ``;`` (the
comma is the decimal separator there), "CSV UTF-8" with a BOM, and "Unicode
text" as UTF-16 with a BOM and tabs; other tools write UTF-8 without a BOM and
``,``. Rows are numbered as a spreadsheet shows them: one per record, so a
quoted field spanning lines stays one row.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

# The order breaks ties: ";" is what Excel writes in UA/RU locales.
DELIMITERS = (";", ",", "\t", "|")
_SNIFF_CHARS = 64 * 1024
_SNIFF_LINES = 50

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: it starts with the same bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass(frozen=True, slots=True)
class DecodedText:
    text: str
    encoding: str
    problem: str | None = None  # e.g. the file ends in the middle of a character


def decode(data: bytes) -> DecodedText:
    """The text of a CSV file: BOM first, then UTF-16 by its NULs, UTF-8, else cp1251."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return _decode_tolerant(data, encoding)
    sixteen = _utf16_without_bom(data[:4096])
    if sixteen:
        return _decode_tolerant(data, sixteen)
    try:
        return DecodedText(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError as exc:
        # A file cut inside a multi-byte character is still UTF-8 before the cut.
        if exc.reason == "unexpected end of data" and exc.start >= len(data) - 3:
            return DecodedText(
                data[: exc.start].decode("utf-8"),
                "utf-8",
                "the file ends in the middle of a character: it may be truncated",
            )
    # cp1251 maps every byte but 0x98; a stray one becomes U+FFFD, not an error.
    return DecodedText(data.decode("cp1251", errors="replace"), "cp1251")


def _decode_tolerant(data: bytes, encoding: str) -> DecodedText:
    try:
        return DecodedText(data.decode(encoding), encoding)
    except UnicodeDecodeError:
        return DecodedText(
            data.decode(encoding, errors="replace"),
            encoding,
            f"the file is not valid {encoding} everywhere: unreadable characters were replaced",
        )


def _utf16_without_bom(head: bytes) -> str | None:
    """Mostly-ASCII text in UTF-16 has a NUL in every other byte."""
    pairs = len(head) // 2
    if pairs < 4:
        return None
    even = head[0 : pairs * 2 : 2].count(0)
    odd = head[1 : pairs * 2 : 2].count(0)
    if odd >= pairs * 0.3 and even == 0:
        return "utf-16-le"
    if even >= pairs * 0.3 and odd == 0:
        return "utf-16-be"
    return None


def looks_like_text(text: str, sample: int = 4096) -> bool:
    """Text has few control characters; binary junk decoded as text has many."""
    head = text[:sample]
    controls = sum(1 for ch in head if (ch < " " and ch not in "\t\r\n") or "\x7f" <= ch <= "\x9f")
    return controls <= len(head) * 0.05


def sniff_delimiter(text: str) -> str:
    """The delimiter among ``; , \\t |`` that splits the first lines most consistently.

    Each candidate parses the sample with the csv module (quotes respected); the
    winner has the most rows with the modal field count, that count above one.
    A single-column file gets ",".
    """
    sample = text[:_SNIFF_CHARS]
    if len(text) > _SNIFF_CHARS and "\n" in sample:
        sample = sample[: sample.rindex("\n")]
    lines = sample.splitlines()[:_SNIFF_LINES]
    best: tuple[float, int, str] | None = None
    for priority, delimiter in enumerate(DELIMITERS):
        counts = [len(row) for row in csv.reader(lines, delimiter=delimiter) if row]
        if not counts:
            continue
        modal, hits = Counter(counts).most_common(1)[0]
        if modal < 2:
            continue
        score = (hits / len(counts), -priority, delimiter)
        if best is None or score > best:
            best = score
    return best[2] if best else ","


def iter_records(
    text: str, delimiter: str, stray_quote: Callable[[int], None] | None = None
) -> Iterator[tuple[int, list[str | None]]]:
    """Records numbered from 1; empty fields as None.

    A quote that is never closed (``"Acme;0501000001`` typed by hand) makes the csv
    module read the rest of the file as one cell, silently: every row after it would
    be lost. That record is read again as the line it stands on, quotes as plain
    characters, ``stray_quote(row)`` is told, and reading goes on from the next line."""
    yield from _records(text, delimiter, 0, stray_quote)


def _records(
    text: str, delimiter: str, before: int, stray_quote: Callable[[int], None] | None
) -> Iterator[tuple[int, list[str | None]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    number = before
    held: tuple[int, list[str], int] | None = None  # the newest record, its first line
    start = 1
    try:
        for row in reader:
            if held is not None:
                yield held[0], _cells(held[1])
            number += 1
            held = (number, row, start)
            start = reader.line_num + 1
    except csv.Error:
        if held is not None:  # the rows before the damage stay read
            yield held[0], _cells(held[1])
        raise
    if held is None:
        return
    number, row, first = held
    if reader.line_num == first:  # the last record is one line: nothing can be open
        yield number, _cells(row)
        return
    lines = io.StringIO(text, newline="").readlines()
    if sum(line.count('"') for line in lines[first - 1 :]) % 2 == 0:
        yield number, _cells(row)  # a quoted cell spanning lines, closed
        return
    if stray_quote is not None:
        stray_quote(number)
    plain = next(csv.reader([lines[first - 1]], delimiter=delimiter, quoting=csv.QUOTE_NONE))
    yield number, _cells([cell.strip('"') for cell in plain])
    yield from _records("".join(lines[first:]), delimiter, number, stray_quote)


def _cells(row: list[str]) -> list[str | None]:
    return [cell if cell != "" else None for cell in row]
