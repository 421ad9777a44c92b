"""A file into the dial list (M6 «Загрузить из файла»): csv, xls, xlsx (ods too), the
contact found by number, every rejected row reported (contracts.md §4).

The foundation's reader and table plan do the reading (agent/files,
agent/core/table_plan.py); this streams their records to the list in chunks.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Final

from agent.core.table_plan import SAMPLE_ROWS, FieldSpec, Rejection, detect_layout, plan_rows
from agent.dialer.lists import AddResult, Batches, Candidate, DialListService, Mode, text_of
from agent.files import read_table

IMPORT_CHUNK: Final = 10_000  # rows read ahead of the writer

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


@dataclass(slots=True)
class _Chunk:
    """Rows of a file read so far: what to add, what was rejected."""

    candidates: list[Candidate] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    last: bool = False
    error: BaseException | None = None


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

    The file is read and planned on a thread, in chunks; each chunk is checked,
    matched and written while the next is read (SQLite works without the GIL, so
    the two overlap on two cores). A file whose columns cannot be found changes
    nothing, even in replace mode.
    """
    lst = await lists.get(list_id)
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue[_Chunk] = asyncio.Queue()
    stop = threading.Event()
    region = lists.region

    def put(item: _Chunk) -> None:
        loop.call_soon_threadsafe(chunks.put_nowait, item)

    def produce() -> None:
        try:
            table = read_table(data, filename)
            layout = detect_layout(table.head(SAMPLE_ROWS), IMPORT_FIELDS, mapping, region)
            label = layout.label(layout.columns["number"])
            put(_Chunk())  # the layout is known: writing may begin
            batch = _Chunk()
            for item in plan_rows(table, layout, IMPORT_FIELDS, region):
                if isinstance(item, Rejection):
                    batch.rejected.append(item)
                    continue
                values = item.values
                batch.candidates.append(
                    Candidate(
                        item.row,
                        label,
                        str(values["number"]),
                        name=text_of(values.get("name")),
                        detail=text_of(values.get("detail")),
                    )
                )
                if len(batch.candidates) >= IMPORT_CHUNK:
                    if stop.is_set():
                        return
                    put(batch)
                    batch = _Chunk()
            batch.last = True
            put(batch)
        except BaseException as exc:
            put(_Chunk(error=exc, last=True))

    # CPU work off the agent's loop: the runtime and the live stream share it.
    reader = asyncio.ensure_future(asyncio.to_thread(produce))
    try:
        first = await chunks.get()
        if first.error is not None:
            raise first.error
        batches = Batches(lists, lst, mode, AddResult(), preview=preview)
        await batches.begin()
        while True:
            chunk = await chunks.get()
            if chunk.error is not None:
                raise chunk.error
            batches.result.rejected += chunk.rejected
            await batches.feed(chunk.candidates)
            if chunk.last:
                break
        return batches.end()
    finally:
        stop.set()
        await reader
