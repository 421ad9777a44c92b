"""A file into the dial list (M6 «Загрузить из файла»): csv, xls, xlsx (ods too), the
contact found by number, every rejected row reported (contracts.md §4).

The foundation's reader and table plan do the reading (agent/files,
agent/core/table_plan.py); the list's own checks, contact matching and writing are
:class:`agent.dialer.lists.Batches`.

Why the whole file is planned before the first entry is written (issue 5, measured on
100k rows, 2 cores): writing a chunk while the thread plans the next overlaps nothing.
The storage worker's ``executemany`` lets go of the GIL for every row's insert and must
take it back from the planning thread each time, which holds it for up to the switch
interval (5 ms): the writer crawls (the 100k rows' inserts took 2.35 s beside the
planning, 1.5 s after it) and the import took longer than one step after the other.
What does overlap is the list's clearing in replace mode: one DELETE statement, which
SQLite runs without the GIL while the file is read.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any, Final, cast

from agent.core.table_plan import (
    SAMPLE_ROWS,
    FieldSpec,
    Layout,
    Rejection,
    detect_layout,
    plan_batches,
)
from agent.dialer.lists import AddResult, Batches, Candidate, DialListService, Mode
from agent.files import read_table
from agent.files.gc_pause import gc_paused

# Entries checked, matched and written together, one transaction each: Batches.feed
# builds a chunk's entries on the agent's loop (~5 µs each), so a chunk stays small
# enough not to hold the loop up for long (~50 ms).
IMPORT_CHUNK: Final = 10_000

# The dial-list file (M6 «Загрузить из файла»): the number, and optionally a name and a
# detail for numbers no contact has. Header words in en/uk/ru.
IMPORT_FIELDS: Final = (
    FieldSpec(
        "number",
        "phone",
        required=True,
        aliases=(
            "phone", "phone number", "tel", "telephone", "mobile", "msisdn",
            "номер", "телефон", "номер телефону", "номер телефона", "тел",
            "мобільний", "мобильный",
        ),
    ),
    FieldSpec(
        "name",
        "text",
        aliases=(
            "contact", "client", "customer", "company", "full name",
            "контакт", "клієнт", "клиент", "ім'я", "имя", "піб", "фио", "назва",
            "название", "контрагент",
        ),
    ),
    FieldSpec(
        "detail",
        "text",
        aliases=(
            "detail", "details", "note", "comment", "person", "contact person",
            "дополнение", "доповнення", "примітка", "примечание", "коментар",
            "комментарий", "контактна особа", "контактное лицо",
        ),
    ),
)  # fmt: skip


class _Stopped(Exception):
    """The import was given up (cancelled): the thread stops planning."""


@dataclass(slots=True)
class _Planned:
    """The whole file: what to add, in file order, and what was rejected."""

    candidates: list[Candidate] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


async def import_file(
    lists: DialListService,
    list_id: int,
    data: bytes,
    filename: str,
    *,
    mapping: dict[str, str] | None,
    mode: Mode,
    preview: bool,
) -> AddResult:
    """M6 «Загрузить из файла»: csv, xls, xlsx (ods too); the contact found by number.

    The file is read and planned on a thread; then the list's checks, the contact
    matching and the writing take it :data:`IMPORT_CHUNK` rows at a time. A file
    whose columns cannot be found changes nothing, even in replace mode.
    """
    lst = await lists.get(list_id)
    loop = asyncio.get_running_loop()
    region = lists.region
    stop = threading.Event()
    layout_found: asyncio.Future[Layout] = loop.create_future()

    def found(layout: Layout) -> None:
        if not layout_found.done():
            layout_found.set_result(layout)

    def plan() -> _Planned:
        table = read_table(data, filename)
        layout = detect_layout(table.head(SAMPLE_ROWS), IMPORT_FIELDS, mapping, region)
        loop.call_soon_threadsafe(found, layout)  # the list may be cleared meanwhile
        label = layout.label(layout.columns["number"])
        planned = _Planned()
        for batch in plan_batches(table, layout, IMPORT_FIELDS, region):
            if stop.is_set():
                raise _Stopped
            planned.rejected += batch.rejected
            # plan_batches gives E.164 for the number, stripped text or None for the rest.
            values = cast("list[tuple[str, str | None, str | None]]", batch.values)
            # Positional (row, column, number, contact_id, name, detail): a frozen
            # dataclass's keywords cost ~1 µs more each, on every row.
            planned.candidates += [
                Candidate(row, label, number, None, name, detail)
                for row, (number, name, detail) in zip(batch.rows, values, strict=True)
            ]
        return planned

    with gc_paused():
        # CPU work off the agent's loop: the runtime and the live stream share it.
        reader = asyncio.ensure_future(asyncio.to_thread(plan))
        try:
            first: list[asyncio.Future[Any]] = [reader, layout_found]
            await asyncio.wait(first, return_when=asyncio.FIRST_COMPLETED)
            if not layout_found.done():
                await reader  # it failed before the layout was known: its error
            batches = Batches(lists, lst, mode, AddResult(), preview=preview)
            await batches.begin()
            planned = await reader
            batches.result.rejected += planned.rejected
            candidates = planned.candidates
            for start in range(0, len(candidates), IMPORT_CHUNK):
                await batches.feed(candidates[start : start + IMPORT_CHUNK])
            return batches.end()
        finally:
            stop.set()
            await asyncio.wait([reader])
            if not reader.cancelled():
                reader.exception()  # retrieved: raised above, or of no interest now
