"""What the contact and sales imports share: reading a file into planned records in a
thread, and the report (contracts.md §4 "import").

The file is read by agent/files (calamine for workbooks; csv in any common encoding
and delimiter) and planned by agent/core/table_plan.py: with the operator's column
mapping, or with the header row and the number column found by themselves. Every
rejected row is reported (row, column, reason); good rows are kept.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from agent.core.table_plan import (
    SAMPLE_ROWS,
    FieldSpec,
    Layout,
    Record,
    Rejection,
    detect_layout,
    plan_rows,
)

BATCH: Final = 5000
PROGRESS_EVERY: Final = 5000
SAMPLE: Final = 10

Progress = Callable[[dict[str, Any]], None]
Planned = tuple[Record, dict[str, Any] | None]  # a good row and its attribute columns
OnBatch = Callable[[Layout, list[Planned]], None]


def no_progress(data: dict[str, Any]) -> None:
    pass


class Stopped(Exception):
    """The import was given up (its consumer failed): planning stops at the next row."""


@dataclass
class ImportReport:
    """contracts.md §4 "import", and what the preview shows."""

    accepted: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    problem: str | None = None
    layout: Layout | None = None
    fields: Sequence[FieldSpec] = ()
    sample: list[dict[str, Any]] = field(default_factory=list)
    preview: bool = False

    def json(self) -> dict[str, Any]:
        layout = self.layout
        columns = {}
        if layout is not None:
            columns = {
                spec.name: layout.label(layout.columns[spec.name])
                for spec in self.fields
                if spec.name in layout.columns
            }
        body: dict[str, Any] = {
            "accepted": self.accepted,
            "rejected": [
                {"row": r.row, "column": r.column, "reason": r.reason} for r in self.rejected
            ],
            "created": self.created,
            "updated": self.updated,
            "problem": self.problem,
            "preview": self.preview,
            "header_row": layout.header_row if layout else None,
            "columns": columns,
        }
        if self.preview:
            body["sample"] = self.sample
        return body


@dataclass
class PlannedFile:
    layout: Layout
    records: list[Planned]  # empty when they went to a batch callback
    rejected: list[Rejection]
    problem: str | None


def plan_file(
    data: bytes,
    filename: str,
    fields: Sequence[FieldSpec],
    *,
    mapping: Mapping[str, str] | None,
    region: str,
    progress: Progress = no_progress,
    with_attributes: bool = False,
    on_batch: OnBatch | None = None,
    stop: threading.Event | None = None,
) -> PlannedFile:
    """Read and plan a whole file (in a thread: it is CPU work). With ``on_batch`` the
    good rows go there :data:`BATCH` at a time as they are planned, so the caller can
    store the first while the rest is read; else they come back in ``records``.

    Raises :class:`InvalidInput` for a file that cannot be read at all, or a mapping
    that names no column (agent/files, detect_layout)."""
    from agent.files import read_table  # calamine: loaded when an import comes

    table = read_table(data, filename)
    layout = detect_layout(table.head(SAMPLE_ROWS), fields, dict(mapping or {}), region)
    used = set(layout.columns.values())
    extra = [
        (index, header)
        for index, header in enumerate(layout.headers)
        if with_attributes and header and index not in used
    ]
    current: list[Any] = [None]

    def rows() -> Iterator[tuple[int, list[Any]]]:
        for number, cells in table:
            current[0] = cells
            if number % PROGRESS_EVERY == 0:
                if stop is not None and stop.is_set():
                    raise Stopped
                progress({"stage": "reading", "done": number})
            yield number, cells

    records: list[Planned] = []
    rejected: list[Rejection] = []
    for item in plan_rows(rows(), layout, fields, region):
        if type(item) is Rejection:
            rejected.append(item)
            continue
        assert isinstance(item, Record)
        records.append((item, attributes_of(current[0], extra) if extra else None))
        if on_batch is not None and len(records) >= BATCH:
            on_batch(layout, records)
            records = []
    if on_batch is not None and records:
        on_batch(layout, records)
        records = []
    return PlannedFile(layout, records, rejected, table.problem)


def attributes_of(
    cells: Sequence[object], extra: Sequence[tuple[int, str]]
) -> dict[str, Any] | None:
    """Columns that are no field, by header: a contact's attributes."""
    attributes: dict[str, Any] = {}
    for index, header in extra:
        value = cells[index] if index < len(cells) else None
        if value is not None and value != "":
            attributes[header] = (
                value if isinstance(value, str | int | float | bool) else str(value)
            )
    return attributes or None
