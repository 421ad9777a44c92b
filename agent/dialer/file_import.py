"""A file into the dial list (M6 «Загрузить из файла»): csv, xls, xlsx (ods too), the
contact found by number, every rejected row reported (contracts.md §4), the work
published as it goes (hub topic ``import``, kind ``dial_list``).

The foundation's reader and table plan do the reading (agent/files,
agent/core/table_plan.py); the list's own checks, contact matching and writing are
:class:`agent.dialer.lists.Batches`.

The import's thread reads and plans the file and drops duplicate numbers; it hands
the good rows over as plain columns, :data:`IMPORT_CHUNK` at a time, and the agent's
loop matches and writes them while the thread plans on: the first chunk at once,
then every chunk planned meanwhile in one transaction (up to :data:`WRITE_MOST` rows),
so the window hears of the rows as they go. The storage worker writes a few hundred
rows per statement (DialerRepository.insert_many), each statement's work done
without the GIL; a write that at least doubles the entries makes the list's indexes
once, afterwards (agent/storage/bulk_load.py). Issue 5, measured on 100k rows,
2 cores: bench/dialer.py.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final, cast

from agent.core.table_plan import (
    SAMPLE_ROWS,
    FieldSpec,
    Layout,
    Rejection,
    detect_layout,
    plan_batches,
)
from agent.dialer.lists import AddResult, Batches, DialListService, Mode, NumberRows
from agent.files import read_table
from agent.files.gc_pause import gc_paused

Progress = Callable[[dict[str, Any]], None]

# Rows checked, matched and written together, one transaction each: Batches.feed_numbers
# builds a chunk's entries on the agent's loop (~1 µs each), so a chunk holds the loop
# up for ~10 ms at a time.
IMPORT_CHUNK: Final = 10_000

# Rows written in one transaction at most, of chunks that waited together: the
# storage worker is not held for long by one write (journal rows queue behind it).
WRITE_MOST: Final = 100_000

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


def no_progress(data: dict[str, Any]) -> None:
    """No one is told (tests, benches)."""


async def import_file(
    lists: DialListService,
    list_id: int,
    data: bytes,
    filename: str,
    *,
    mapping: dict[str, str] | None,
    mode: Mode,
    preview: bool,
    progress: Progress = no_progress,
) -> AddResult:
    """M6 «Загрузить из файла»: csv, xls, xlsx (ods too); the contact found by number.

    The file is read and planned on a thread, which hands the good rows over
    :data:`IMPORT_CHUNK` at a time; the list's checks, the contact matching and the
    writing take each chunk as it comes. A file whose columns cannot be found, or
    whose every row is refused, changes nothing, even in replace mode.

    ``progress`` hears ``{stage, done, total?}`` as the contact import says it (the
    route publishes it on hub topic ``import`` with ``kind: "dial_list"``), from the
    thread as well as the loop: ``reading`` (done: the row reached), ``storing``
    (done of total good rows, once the whole file is read), ``done`` (done: the rows
    accepted).
    """
    lst = await lists.get(list_id)
    loop = asyncio.get_running_loop()
    region = lists.region
    stop = threading.Event()
    layout_found: asyncio.Future[Layout] = loop.create_future()
    chunks: asyncio.Queue[NumberRows | None] = asyncio.Queue()
    rejected: list[Rejection] = []  # the thread's: bad rows and repeated numbers

    def found(layout: Layout) -> None:
        if not layout_found.done():
            layout_found.set_result(layout)

    def hand(chunk: NumberRows | None) -> None:
        loop.call_soon_threadsafe(chunks.put_nowait, chunk)

    def plan() -> int:
        """On the thread: every good row handed over once; returns how many."""
        try:
            table = read_table(data, filename)
            layout = detect_layout(table.head(SAMPLE_ROWS), IMPORT_FIELDS, mapping, region)
            loop.call_soon_threadsafe(found, layout)  # the list may be cleared meanwhile
            return _plan_rows(table, layout, region, stop, hand, rejected, progress)
        finally:
            hand(None)  # the end, also of a failed read: the loop stops waiting

    with gc_paused():
        # CPU work off the agent's loop: the runtime and the live stream share it.
        reader = asyncio.ensure_future(asyncio.to_thread(plan))
        try:
            first: list[asyncio.Future[Any]] = [reader, layout_found]
            await asyncio.wait(first, return_when=asyncio.FIRST_COMPLETED)
            if not layout_found.done():
                await reader  # it failed before the layout was known: its error
            batches = Batches(
                lists, lst, mode, AddResult(), preview=preview, keep_unless_written=True
            )
            await batches.begin()
            try:
                await _store(batches, chunks, reader, progress, preview=preview)
            except BaseException:
                batches.announce()
                raise
            batches.result.rejected += rejected
            result = batches.end()
            progress({"stage": "done", "done": result.accepted})
            return result
        finally:
            stop.set()
            await asyncio.wait([reader])
            if not reader.cancelled():
                reader.exception()  # retrieved: raised above, or of no interest now


async def _store(
    batches: Batches,
    chunks: asyncio.Queue[NumberRows | None],
    reader: asyncio.Future[int],
    progress: Progress,
    *,
    preview: bool,
) -> None:
    """Each chunk checked, matched and written as it comes, until the thread's end.

    One after the other: checking a chunk while the worker wrote the one before
    saved no time on this shared 2-core machine and cost ~0.2 s more CPU for 100k
    rows (three threads then contend for the GIL; issue 5, measured)."""
    taken = told = 0
    ended = False
    while not ended and (chunk := await chunks.get()) is not None:
        # The chunks the thread planned while the last one was written go in together,
        # in one transaction: the list's indexes are made once for them, not row by
        # row, when they at least double the entries (DialerRepository.add_entries).
        while len(chunk) < WRITE_MOST and not chunks.empty():
            more = chunks.get_nowait()
            if more is None:
                ended = True
                break
            chunk.extend(more.rows, more.column, more.numbers, more.names, more.details)
        await batches.feed_numbers(chunk)
        taken += len(chunk)
        # "Storing N of M" once M is known: the thread has read the whole file.
        if reader.done() and not preview:
            told = taken
            progress({"stage": "storing", "done": taken, "total": reader.result()})
    total = await reader  # the thread's error, if it failed after the layout
    if told < taken and not preview:
        progress({"stage": "storing", "done": taken, "total": total})


def _plan_rows(
    table: Iterable[tuple[int, Sequence[object]]],
    layout: Layout,
    region: str,
    stop: threading.Event,
    hand: Callable[[NumberRows], None],
    rejected: list[Rejection],
    progress: Progress,
) -> int:
    """The thread's loop: plan the rows, drop repeated numbers (the first row keeps
    its number; M6), hand the good rows over in chunks. Returns how many were good."""
    label = layout.label(layout.columns["number"])
    first: dict[str, int] = {}
    claim = first.setdefault
    rows = NumberRows()
    good = 0
    for batch in plan_batches(table, layout, IMPORT_FIELDS, region):
        if stop.is_set():
            raise _Stopped
        rejected += batch.rejected
        if batch.rows:
            # plan_batches gives E.164 for the number, stripped text or None for the rest.
            values = cast("list[tuple[str, str | None, str | None]]", batch.values)
            numbers, names, details = (list(column) for column in zip(*values, strict=True))
            row_numbers = batch.rows
            # Each number's first row, the whole file through; a column at a time (C
            # loops), row by row only when a number repeats.
            owners = list(map(claim, numbers, row_numbers))
            if owners != row_numbers:
                keep = [
                    i
                    for i, (owner, row) in enumerate(zip(owners, row_numbers, strict=True))
                    if owner == row
                ]
                rejected += [
                    Rejection(row, label, f"duplicate of row {owner}")
                    for owner, row in zip(owners, row_numbers, strict=True)
                    if owner != row
                ]
                row_numbers = [row_numbers[i] for i in keep]
                numbers = [numbers[i] for i in keep]
                names = [names[i] for i in keep]
                details = [details[i] for i in keep]
            rows.extend(row_numbers, label, numbers, names, details)
            good += len(numbers)
            while len(rows) >= IMPORT_CHUNK:
                hand(rows.take(IMPORT_CHUNK))
        progress({"stage": "reading", "done": batch.last_row})
    if len(rows):
        hand(rows.take(len(rows)))
    return good
