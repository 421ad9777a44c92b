"""Benchmark: importing a 100k-row contact workbook (issue 5).

The goal: reading and planning the whole file (normalise every number, validate
every row) takes under 0.4x the time openpyxl's read-only mode needs merely to
read it. The runner calls :func:`run`; ``python bench/imports.py`` prints the
results as JSON lines.

The workbook is generated once into ``bench/data/`` (git-ignored) by openpyxl,
like the files operators upload: shared strings, phone numbers in mixed forms
(typed text and numeric cells), 1% broken.
"""

from __future__ import annotations

import io
import json
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DATA_DIR = ROOT / "bench" / "data"
ROWS = 100_000
BROKEN_EVERY = 100  # 1%

_OPERATORS = ["67", "68", "96", "97", "98", "50", "66", "95", "99", "63", "73", "93"]
_AREAS = ["44", "32", "56", "57", "48", "62"]
_FIRST = ["Іван", "Олена", "Петро", "Марія", "Андрій", "Оксана", "Сергій", "Наталія"]
_LAST = ["Петренко", "Коваль", "Шевченко", "Бондар", "Ткаченко", "Кравченко", "Мельник"]
_BROKEN = ["n/a", "12345", "+380 67 123", "тел. уточнити", "0 800", "067-ХХХ-ХХ-ХХ"]


def _phone(rng: random.Random) -> tuple[object, str]:
    """A number as operators type it, and its E.164."""
    if rng.random() < 0.7:
        code, rest = rng.choice(_OPERATORS), f"{rng.randrange(10**7):07d}"
    else:
        code, rest = rng.choice(_AREAS), f"{rng.randrange(2 * 10**6, 10**7):07d}"
    e164 = f"+380{code}{rest}"
    forms: list[object] = [
        e164,
        f"+380 {code} {rest[:3]}-{rest[3:5]}-{rest[5:]}",
        f"0{code}{rest}",
        f"(0{code}) {rest[:3]} {rest[3:5]} {rest[5:]}",
        f"8 0{code} {rest}",
        float(f"380{code}{rest}"),  # a numeric cell: Excel stores 380671234567.0
    ]
    return rng.choice(forms), e164


def generate(path: Path, rows: int = ROWS, seed: int = 1) -> dict[str, int]:
    """Write the contact workbook; returns the expected counts."""
    import openpyxl

    rng = random.Random(seed)
    book = openpyxl.Workbook(write_only=True)
    ws = book.create_sheet("Контакти")
    ws.append(["Контакти на 01.03.2024"])
    ws.append(["ПІБ", "Компанія", "Телефон"])
    broken = 0
    for i in range(rows):
        name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
        company = f"ТОВ «Клієнт {i % 5000}»"
        if i % BROKEN_EVERY == BROKEN_EVERY - 1:
            phone: object = rng.choice(_BROKEN)
            broken += 1
        else:
            phone, _ = _phone(rng)
        ws.append([name, company, phone])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    book.save(tmp)
    tmp.replace(path)
    return {"rows": rows, "rejected": broken, "accepted": rows - broken}


def _timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def read_openpyxl(path: Path) -> int:
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True)
    count = sum(1 for _ in book.worksheets[0].iter_rows(values_only=True))
    book.close()
    return count


def read_calamine(path: Path) -> int:
    import python_calamine

    with python_calamine.CalamineWorkbook.from_path(path) as book:
        return len(book.get_sheet_by_index(0).to_python())


def import_contacts(path: Path) -> tuple[int, int]:
    """What the contact import does before storing: read, find the layout, plan."""
    from agent.core.numbers import clear_cache
    from agent.core.table_plan import FieldSpec, Record, detect_layout, plan_rows
    from agent.files import read_table

    clear_cache()  # every number is normalised, none comes from a warm cache
    fields = [
        FieldSpec("name", "text", aliases=("name", "піб", "фио")),
        FieldSpec("company", "text", aliases=("company", "компанія", "компания")),
        FieldSpec("number", "phone", required=True, aliases=("phone", "телефон", "номер")),
    ]
    table = read_table(path)
    layout = detect_layout(table.head(50), fields)
    accepted = rejected = 0
    for item in plan_rows(table, layout, fields):
        if isinstance(item, Record):
            accepted += 1
        else:
            rejected += 1
    return accepted, rejected


def _numbers_sample(count: int, seed: int = 2) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        value, _ = _phone(rng)
        out.append(str(int(value)) if isinstance(value, float) else str(value))
    return out


def per_call_e164(numbers: list[str]) -> float:
    from agent.core.numbers import clear_cache, to_e164

    clear_cache()
    start = time.perf_counter()
    for raw in numbers:
        to_e164(raw)
    return (time.perf_counter() - start) / len(numbers)


def per_call_phonenumbers(numbers: list[str]) -> float:
    import phonenumbers

    start = time.perf_counter()
    for raw in numbers:
        try:
            number = phonenumbers.parse(raw, "UA")
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return (time.perf_counter() - start) / len(numbers)


def export_journal(rows: int) -> float:
    """write_xlsx of a journal-like sheet, to memory."""
    from datetime import datetime, timedelta

    from agent.files import Sheet, write_xlsx

    at = datetime(2024, 3, 1, 9)
    data = (
        [f"{i:032x}", "out", f"+38067{i:07d}", "Іван Петренко", "001",
         at + timedelta(minutes=i), 35, "answered"]
        for i in range(rows)
    )  # fmt: skip
    header = ["uuid", "direction", "number", "contact", "ext", "dial_at", "talk_s", "outcome"]
    start = time.perf_counter()
    write_xlsx(io.BytesIO(), [Sheet("Journal", header, data)])
    return time.perf_counter() - start


def export_openpyxl_plain(rows: int) -> float:
    """The same rows appended to openpyxl's write-only mode with no styling: the floor."""
    from datetime import datetime, timedelta

    import openpyxl

    at = datetime(2024, 3, 1, 9)
    start = time.perf_counter()
    book = openpyxl.Workbook(write_only=True)
    ws = book.create_sheet("Journal")
    ws.append(["uuid", "direction", "number", "contact", "ext", "dial_at", "talk_s", "outcome"])
    for i in range(rows):
        ws.append([f"{i:032x}", "out", f"+38067{i:07d}", "Іван Петренко", "001",
                   at + timedelta(minutes=i), 35, "answered"])  # fmt: skip
    book.save(io.BytesIO())
    return time.perf_counter() - start


def _result(
    name: str, value: float, unit: str, baseline_name: str | None, baseline: float | None, goal: str
) -> dict[str, Any]:
    return {
        "name": name,
        "value": round(value, 6),
        "unit": unit,
        "baseline_name": baseline_name,
        "baseline_value": None if baseline is None else round(baseline, 6),
        "ratio": None if not baseline else round(value / baseline, 3),
        "goal": goal,
    }


def run(data_dir: Path = DATA_DIR, rows: int = ROWS, repeat: int = 2) -> list[dict[str, Any]]:
    """Generate (once) and measure; returns the runner's result dicts."""
    path = data_dir / f"contacts-{rows}.xlsx"
    expected_path = path.with_suffix(".json")
    if not path.exists() or not expected_path.exists():
        counts = generate(path, rows)
        expected_path.write_text(json.dumps(counts), encoding="utf-8")
    expected = json.loads(expected_path.read_text(encoding="utf-8"))

    t_openpyxl, n_openpyxl = _timed(lambda: read_openpyxl(path), repeat)
    t_calamine, n_calamine = _timed(lambda: read_calamine(path), repeat)
    t_import, (accepted, rejected) = _timed(lambda: import_contacts(path), repeat)
    if (accepted, rejected) != (expected["accepted"], expected["rejected"]):
        raise AssertionError(f"import counted {accepted}/{rejected}, expected {expected}")
    if not n_openpyxl == n_calamine == rows + 2:
        raise AssertionError(f"row counts differ: openpyxl {n_openpyxl}, calamine {n_calamine}")

    sample = _numbers_sample(20_000)
    t_ours = min(per_call_e164(sample) for _ in range(max(repeat, 3)))
    t_pn = min(per_call_phonenumbers(sample) for _ in range(max(repeat, 3)))

    export_rows = rows // 2
    t_export = min(export_journal(export_rows) for _ in range(repeat))
    t_export_floor = min(export_openpyxl_plain(export_rows) for _ in range(repeat))

    bare = "openpyxl read-only, bare read"
    return [
        _result(
            f"import {rows // 1000}k-row xlsx: read + plan (normalise, validate)",
            t_import, "s", bare, t_openpyxl, "< 0.4",
        ),
        _result(
            f"read {rows // 1000}k-row xlsx: python-calamine, bare read",
            t_calamine, "s", bare, t_openpyxl, "~0.08 (12x faster)",
        ),
        _result(
            "to_e164 per call, mixed UA forms, cold cache",
            t_ours * 1e6, "us", "phonenumbers parse + is_valid + format", t_pn * 1e6, "< 0.25",
        ),
        _result(
            f"export {export_rows // 1000}k-row journal: write_xlsx",
            t_export, "s", "openpyxl write-only, plain append", t_export_floor, "< 1.2",
        ),
    ]  # fmt: skip


if __name__ == "__main__":
    for item in run():
        print(json.dumps(item, ensure_ascii=False))
