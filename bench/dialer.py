"""Dialer: the next entry in smart mode at 1M entries, and a 100k-row xlsx into the dial list (issue 5).

- **next entry, smart mode, 1M entries (p99)**: what the dialer does before every call
  (A4, B3): the zones of the pickable entries (a skip scan), their calling windows,
  one indexed probe per open zone, DNC excluded; run on the storage worker as the
  agent runs it. Between picks the picked entry is postponed like a finished call.
  Baseline, in the same loop on the same database: the bare indexed
  ``SELECT … ORDER BY next_dial_at LIMIT 1`` (one zone, the same partial index)
  through the same worker. Goal ≤ 2 ms.
- **100k-row xlsx into the dial list with contact matching**: the whole import of
  bench/imports.py's workbook (read, layout, every number normalised, duplicates
  and broken rows rejected, 20k numbers matched to contacts, zones, written to the
  list). Baselines: the bare read of the same file by calamine (the reader used)
  and by openpyxl's read-only mode. Goal: under 0.4× openpyxl. The import and the
  baselines each run in a fresh interpreter.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from agent.core.calling_hours import CallingWindow  # noqa: E402
from agent.core.settings import DEFAULT_CALLING_WINDOW, OperatorSettings, TeamSettings  # noqa: E402

ENTRIES = 1_000_000
PICKS = 2000
CONTACTS_MATCHED = 20_000
NOW = datetime(2024, 5, 6, 10, 0, tzinfo=UTC)  # a Monday, 13:00 in Kyiv: the window is open

_NOTES = """The pick runs on the storage worker thread exactly as the dialer asks for it
(`agent.dialer.participant.choose_next`). The first pair of figures is wall time through
the worker (the thread hop included), the second the worker thread's CPU time alone:
on a shared, loaded machine a preempted operation waits a whole time slice, which
then sets the wall-clock p99 of anything that short.
The import figure is wall time of `DialListService.import_file` (mode replace) on
SQLite, with the contacts area's real directory holding 20k of the file's numbers. The
import and both baselines run each in a fresh interpreter (bench/imports.py `fresh`),
three of each, interleaved; the figures are the best of three. The previous figure
(3.36 s against openpyxl's 5.67 s, 0.59×) had the baselines measured in the process
that had just imported.

Before and after the file is planned whole, in batches of tuples (table_plan.plan_batches),
before the first entry is written, measured on 2026-11-26 in fresh interpreters, 5 rounds
interleaved, load 1.8-4.8: 3.91 s best (median 4.34) → 3.21 s (3.63); openpyxl's bare
read 5.48 s (6.36): 0.71 → 0.58×, the goal of 0.4× not met. Writing a chunk while the
next was planned had made it slower: the storage worker's executemany takes the GIL back
for every row, and the planning thread holds it for 5 ms at a time (the inserts took
2.35 s beside the planning, 1.5 s after it). Where the ~3.2 s go (py-spy): the reading
~1.3 s (calamine ~0.5, planning ~0.45, the Candidates ~0.25), the list's side ~2 s:
inserting into dial_entries with its six indexes ~1.2-1.5 s (DialerRepository.add_entries),
building the entries on the loop ~0.6 s (DialListService._entries: a frozen NewEntry a
row, as the Candidate is: ~2.5 µs each, a plain slots class ~0.6 µs), matching the
numbers ~0.25 s, the DNC check ~0.1 s.

Then (wave 3): the storage worker writes 500 rows per INSERT on SQLite (since the same
day up to 256, through the one multi-row writer of all imports, repositories.insert_rows)
(DialerRepository.insert_many; executemany bound, stepped and took the GIL back row by
row: ~0.35 s more CPU for 100k rows, measured alone); the thread drops repeated numbers
and hands the good rows over as plain columns, 10k at a time, and the list builds each
chunk's entries from them (named tuples; no Candidate, no frozen NewEntry); the contact
match takes E.164 numbers as their own keys without a Python step each; the DNC check
reads a short list whole. The thread plans while the chunks are written (SQLite's work
of a 500-row statement runs without the GIL; planning the whole file first measured
3.14 s best, median 4.26, against 2.64 s and 3.85, 6 rounds at load 3.3-3.9); checking a chunk while the worker wrote the previous
one did not pay (no gain, ~0.2 s more CPU: three threads
contending for the GIL: median CPU 2.67 against 2.49 s, wall 4.84 against 4.46 s, 8 rounds
at load 4.3-4.6). Every column of every stored row, ids included, and every rejection
are the same as before (replace and append mode, checked by hash). Measured on
2026-11-26 in fresh interpreters, 6 rounds interleaved, on a machine loaded by other
work (load 3.8-4.9), best (median): before 3.04 s wall (4.96), 2.97 s CPU (3.11); after
2.01 s (3.24), 1.93 s CPU (2.24); openpyxl's bare read 5.03 s (8.36), 5.00 s CPU (5.80):
0.60 → 0.40× at best, CPU 0.59 → 0.39×. Left of ~2 s of CPU: calamine ~0.4, planning
~0.35 (numbers.fast_e164 ~0.3), inserting ~0.7 (the table ~0.45 with the Python side
of binding, its six indexes ~0.35 more, of which the number index, filled in random
order, ~0.2), matching ~0.2, building the entries ~0.15.

Wave 4 (2026-11-26, session 4), the goal met: the chunks the thread planned while one
was written go in together, in one transaction (the first chunk at once, then the
rest, at most 100k rows a write); a write that at least doubles the entries sets the
two indexes whose keys come in random order (number, contact) aside and makes them
afterwards (agent/storage/bulk_load.py: ~0.1 s for 99k entries, ~0.3 s row by row);
numbers.fast_e164 ~35 % cheaper (the contacts notes); statements of up to 512 entries
(8192 values). 2.01-2.07 s → 1.74-1.79 s against openpyxl's 4.5-5.2 s.
"""
NOTES = _NOTES


class _Settings:
    team = TeamSettings()
    operator = OperatorSettings()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ------------------------------------------------------------------ next entry


def _fill(storage: Any, repo: Any, list_id: int) -> None:
    from agent.core.dial_list import sort_key
    from agent.storage.dialer_repository import NewEntry

    rng = random.Random(5)
    batch = 100_000
    for start in range(0, ENTRIES, batch):
        rows = []
        for i in range(start, start + batch):
            zone = "America/New_York" if i % 50 == 0 else ""
            minutes = rng.randrange(-600, 600)
            rows.append(
                NewEntry(
                    number=f"+38067{i:07d}",
                    sort_key=sort_key(rng.randrange(1000)),
                    zone=zone,
                    next_dial_at=NOW + timedelta(minutes=minutes),
                )
            )
        storage.call(repo.add_entries, list_id, rows, NOW, replace=False)
    storage.call(repo.execute, "UPDATE dial_entries SET attempts = id % 4")
    storage.call(repo.execute, "ANALYZE")


def bench_next_entry(tmp: Path) -> list[dict[str, Any]]:
    from agent.dialer.participant import choose_next
    from agent.storage import Storage
    from agent.storage.dialer_repository import DialerRepository

    window = CallingWindow.from_setting(DEFAULT_CALLING_WINDOW)
    with Storage.open_sync(f"sqlite:///{tmp / 'pick.db'}") as storage:
        repo = DialerRepository(storage.db)
        list_id = storage.call(repo.create_list, "001", "bench", NOW)
        t0 = time.perf_counter()
        _fill(storage, repo, list_id)
        fill_s = time.perf_counter() - t0
        # The same partial index, one zone, no DNC check, no windows: the floor.
        bare_sql = repo.sql(
            "SELECT id FROM dial_entries WHERE list_id = ? AND zone = '' "
            "AND state IN ('pending', 'postponed') ORDER BY next_dial_at LIMIT 1"
        )

        def bare() -> Any:
            return repo.rows(bare_sql, (list_id,))

        ours: list[float] = []
        base: list[float] = []
        now = NOW

        def postpone(entry_id: int, at: datetime) -> None:
            repo.execute(
                "UPDATE dial_entries SET state = 'postponed', attempts = attempts + 1, "
                "next_dial_at = ? WHERE id = ?",
                ((at + timedelta(minutes=30)).isoformat(timespec="microseconds"), entry_id),
            )

        def pick(at: datetime) -> Any:
            found = choose_next(
                repo, list_id, smart=True, now=at, window=window, team_zone="Europe/Kyiv"
            )
            entry = getattr(found, "entry", None)
            if entry is None:
                raise RuntimeError(f"nothing to dial at {at}: {found}")
            return entry

        # As the dialer asks: one storage.run per pick (the worker thread's hop included).
        for _ in range(PICKS):
            now += timedelta(seconds=3)
            t = time.perf_counter()
            entry = storage.call(pick, now)
            ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            storage.call(bare)
            base.append(time.perf_counter() - t)
            storage.call(postpone, entry.id, now)

        # The query work alone, timed on the worker (no thread hop, no scheduling).
        # CPU time of the thread: a shared, loaded machine preempts a wall-clock measure
        # for whole time slices (~5 ms), which then is the p99 of anything.
        def on_worker(start: datetime) -> tuple[list[float], list[float]]:
            mine: list[float] = []
            floor: list[float] = []
            at = start
            for _ in range(PICKS):
                at += timedelta(seconds=3)
                t = time.thread_time()
                entry = pick(at)
                mine.append(time.thread_time() - t)
                t = time.thread_time()
                bare()
                floor.append(time.thread_time() - t)
                postpone(entry.id, at)
            return mine, floor

        inner, inner_base = storage.call(on_worker, now)
        plan = storage.call(
            repo.rows,
            "EXPLAIN QUERY PLAN SELECT id FROM dial_entries e WHERE e.list_id = ? AND e.zone = ? "
            "AND e.state IN ('pending', 'postponed') AND e.next_dial_at <= ? "
            "ORDER BY e.next_dial_at, e.attempts, e.sort_key, e.position LIMIT 1",
            (list_id, "", NOW.isoformat()),
        )
    p99, b99 = _pct(ours, 0.99) * 1000, _pct(base, 0.99) * 1000
    print(f"bench: dialer: filled {ENTRIES} entries in {fill_s:.0f} s; plan: {plan}", flush=True)
    return [
        {
            "name": "next entry, smart mode, 1M entries, p99 (as the dialer asks)",
            "value": p99,
            "unit": "ms",
            "baseline_name": "bare indexed SELECT … ORDER BY next_dial_at LIMIT 1, p99",
            "baseline_value": b99,
            "ratio": p99 / b99,
            "goal": "≤ 2 ms",
        },
        {
            "name": "next entry, smart mode, 1M entries, p99 CPU time on the worker",
            "value": _pct(inner, 0.99) * 1000,
            "unit": "ms",
            "baseline_name": "bare indexed SELECT, p99 CPU time on the worker",
            "baseline_value": _pct(inner_base, 0.99) * 1000,
            "ratio": _pct(inner, 0.99) / _pct(inner_base, 0.99),
            "goal": "≤ 2 ms",
        },
        {
            "name": "next entry, smart mode, 1M entries, median",
            "value": _pct(ours, 0.5) * 1000,
            "unit": "ms",
            "baseline_name": "bare indexed SELECT, median",
            "baseline_value": _pct(base, 0.5) * 1000,
            "ratio": _pct(ours, 0.5) / _pct(base, 0.5),
            "goal": "—",
        },
    ]


# ------------------------------------------------------------------ the xlsx import


def _seed_contacts(storage: Any, numbers: list[str]) -> int:
    from agent.core.contacts import Contact, Phone
    from agent.storage.contacts_repo import ContactsRepository

    repo = ContactsRepository(storage.db)
    contacts = [Contact(None, f"Client {i}", phones=(Phone(n),)) for i, n in enumerate(numbers)]
    keys = [[(n, 0)] for n in numbers]
    storage.call(repo.insert_many, contacts, keys, NOW)
    return len(numbers)


def fresh_import(path: str, seed: str) -> dict[str, Any]:
    """In a fresh interpreter (bench.imports.fresh): the file into an empty dial list
    (mode replace) of a new SQLite database where the numbers of the JSON file ``seed``
    belong to contacts; the database, the list and the contacts are made before the
    clock starts."""
    import python_calamine  # noqa: F401  # the import's modules, loaded before the clock

    from agent.contacts.service import ContactService
    from agent.dialer import file_import  # noqa: F401
    from agent.dialer.contacts_adapter import ContactsDirectory
    from agent.dialer.lists import DialListService
    from agent.storage import Storage
    from agent.storage.dialer_repository import DialerRepository

    async def main(db: Path) -> dict[str, Any]:
        data = Path(path).read_bytes()
        async with Storage(f"sqlite:///{db}") as storage:
            repo = DialerRepository(storage.db)
            contacts = ContactService(storage, _Settings(), own_ext="001")
            directory = ContactsDirectory(contacts)
            lists = DialListService(
                storage=storage, repo=repo, settings=_Settings(), own_ext="001",
                directory=lambda: directory, clock=lambda: NOW, changed=lambda _: None,
            )  # fmt: skip
            list_id = (await lists.create("bench", activate=True)).id
            numbers = json.loads(Path(seed).read_text(encoding="utf-8"))
            await asyncio.to_thread(_seed_contacts, storage, numbers)
            cpu, wall = time.process_time(), time.perf_counter()  # as bench.imports.clocked
            result = await lists.import_file(
                list_id, data, Path(path).name, mapping=None, mode="replace", preview=False
            )
            taken: dict[str, Any] = {"s": time.perf_counter() - wall}
            taken["cpu"] = time.process_time() - cpu
            with_contact = await storage.run(
                repo.rows,
                "SELECT COUNT(*) FROM dial_entries WHERE list_id = ? AND contact_id IS NOT NULL",
                (list_id,),
            )
            taken["result"] = {
                "accepted": result.accepted,
                "rejected": len(result.rejected),
                "with_contact": int(with_contact[0][0]),
            }
            return taken

    with tempfile.TemporaryDirectory(prefix="bench-dialer-") as tmp:
        return asyncio.run(main(Path(tmp) / "import.db"))


def _file_numbers(path: Path) -> list[str]:
    """Every fourth good number of the file, as the import reads it."""
    from agent.core.table_plan import detect_layout, plan_batches
    from agent.dialer.file_import import IMPORT_FIELDS
    from agent.files import read_table

    table = read_table(path)
    layout = detect_layout(table.head(50), IMPORT_FIELDS)
    numbers = [
        str(values[0])
        for batch in plan_batches(table, layout, IMPORT_FIELDS)
        for values in batch.values
    ]
    return numbers[::4]


def bench_import(tmp: Path) -> list[dict[str, Any]]:
    from bench import imports

    global NOTES
    path, _ = imports.workbook()
    seed = tmp / "numbers.json"
    seed.write_text(json.dumps(_file_numbers(path)[:CONTACTS_MATCHED]), encoding="utf-8")
    found = imports.interleaved(
        {
            "openpyxl": ("bench.imports:bare_openpyxl", str(path)),
            "calamine": ("bench.imports:bare_calamine", str(path)),
            "import": ("bench.dialer:fresh_import", str(path), str(seed)),
        }
    )
    counts = found["import"][0]["result"]
    if any(run_["result"] != counts for run_ in found["import"]):
        raise AssertionError(f"the imports differ: {[r['result'] for r in found['import']]}")
    if counts["accepted"] + counts["rejected"] != imports.ROWS:
        raise AssertionError(f"rows lost: {counts}")
    elapsed = imports.best(found["import"])
    openpyxl, calamine = imports.best(found["openpyxl"]), imports.best(found["calamine"])
    print(
        f"bench: dialer: import accepted {counts['accepted']}, rejected {counts['rejected']}, "
        f"{counts['with_contact']} matched to contacts",
        flush=True,
    )
    NOTES = _NOTES + (
        f"\nThis run ({imports.FRESH_RUNS} fresh interpreters each, interleaved): import "
        f"{imports.spread(found['import'])}; openpyxl {imports.spread(found['openpyxl'])}; "
        f"calamine {imports.spread(found['calamine'])}.\n"
    )
    return [
        {
            "name": "100k-row xlsx into the dial list, contacts matched (fresh process)",
            "value": elapsed,
            "unit": "s",
            "baseline_name": "openpyxl read-only, bare read (fresh process)",
            "baseline_value": openpyxl,
            "ratio": elapsed / openpyxl,
            "goal": "< 0.4×",
        },
        {
            "name": "100k-row xlsx into the dial list, contacts matched",
            "value": elapsed,
            "unit": "s",
            "baseline_name": "calamine, bare read (the reader used; fresh process)",
            "baseline_value": calamine,
            "ratio": elapsed / calamine,
            "goal": "—",
        },
        {
            "name": "100k-row xlsx into the dial list, CPU time (all threads)",
            "value": imports.best(found["import"], "cpu"),
            "unit": "s",
            "baseline_name": "openpyxl bare read, CPU time",
            "baseline_value": imports.best(found["openpyxl"], "cpu"),
            "ratio": imports.best(found["import"], "cpu") / imports.best(found["openpyxl"], "cpu"),
            "goal": "—",
        },
    ]


def run() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="bench-dialer-") as tmp:
        return bench_next_entry(Path(tmp)) + bench_import(Path(tmp))


if __name__ == "__main__":
    import json

    for row in run():
        print(json.dumps(row, ensure_ascii=False))
