"""Imports write many calls at once (J1, B4): 100k rows in one ``upsert_many``.

Timings are printed (``pytest -s``), never asserted: machines differ.
"""

from __future__ import annotations

import time
from dataclasses import replace

from agent.core.journal import Source
from agent.storage import Storage
from tests.storage.calls import finished, uuid_of

ROWS = 100_000


def test_an_import_of_100k_calls_is_one_upsert_many_and_a_second_import_changes_them(
    storage: Storage,
) -> None:
    entries = [finished(i, ext=f"{i % 20:03d}", source=Source.IMPORT) for i in range(1, ROWS + 1)]

    started = time.perf_counter()
    written = storage.call(storage.journal.upsert_many, entries)
    inserted_s = time.perf_counter() - started

    again = [replace(entry, talk_s=31) for entry in entries[:10_000]]
    started = time.perf_counter()
    storage.call(storage.journal.upsert_many, again)
    updated_s = time.perf_counter() - started

    started = time.perf_counter()
    page, _ = storage.call(storage.journal.list, limit=50)
    page_ms = (time.perf_counter() - started) * 1000

    print(
        f"\n[{storage.dialect}] upsert_many: {ROWS} new rows in {inserted_s:.2f} s "
        f"({ROWS / inserted_s:,.0f}/s); 10000 updated in {updated_s:.2f} s; "
        f"first page of {ROWS} in {page_ms:.1f} ms"
    )
    assert written == ROWS
    assert storage.call(storage.journal.count) == ROWS
    assert page[0] == entries[-1]
    assert storage.call(storage.journal.get, uuid_of(1)) == again[0]
