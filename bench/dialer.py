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
  and by openpyxl's read-only mode. Goal: under 0.4× openpyxl.
"""

from __future__ import annotations

import asyncio
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

NOTES = """The pick runs on the storage worker thread exactly as the dialer asks for it
(`agent.dialer.participant.choose_next`). The first pair of figures is wall time through
the worker (the thread hop included), the second the worker thread's CPU time alone:
on a shared, loaded machine a preempted operation waits a whole time slice, which
then sets the wall-clock p99 of anything that short.
The import figure is wall time of `DialListService.import_file` (mode replace) on
SQLite, with the contacts area's real directory holding 20k of the file's numbers."""


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


async def _import(tmp: Path, path: Path) -> tuple[float, Any, int]:
    from agent.contacts.service import ContactService
    from agent.dialer.contacts_adapter import ContactsDirectory
    from agent.dialer.lists import DialListService
    from agent.storage import Storage
    from agent.storage.dialer_repository import DialerRepository

    data = path.read_bytes()
    async with Storage(f"sqlite:///{tmp / 'import.db'}") as storage:
        repo = DialerRepository(storage.db)
        contacts = ContactService(storage, _Settings(), own_ext="001")
        directory = ContactsDirectory(contacts)
        lists = DialListService(
            storage=storage, repo=repo, settings=_Settings(), own_ext="001",
            directory=lambda: directory, clock=lambda: NOW, changed=lambda _: None,
        )  # fmt: skip
        list_id = (await lists.create("bench", activate=True)).id
        preview = await lists.import_file(
            list_id, data, path.name, mapping=None, mode="replace", preview=True
        )
        numbers = [e.number for e in await storage.run(repo.all_entries, list_id)]
        assert not numbers
        # 20k of the file's numbers belong to contacts: read them the way the import does.
        sample = await _file_numbers(path)
        matched = await asyncio.to_thread(_seed_contacts, storage, sample[:CONTACTS_MATCHED])
        t = time.perf_counter()
        result = await lists.import_file(
            list_id, data, path.name, mapping=None, mode="replace", preview=False
        )
        elapsed = time.perf_counter() - t
        with_contact = await storage.run(
            repo.rows,
            "SELECT COUNT(*) FROM dial_entries WHERE list_id = ? AND contact_id IS NOT NULL",
            (list_id,),
        )
        assert result.accepted == preview.accepted
        return elapsed, result, int(with_contact[0][0]) if matched else 0


async def _file_numbers(path: Path) -> list[str]:
    from agent.core.table_plan import Record, detect_layout, plan_rows
    from agent.dialer.file_import import IMPORT_FIELDS
    from agent.files import read_table

    def read() -> list[str]:
        table = read_table(path)
        layout = detect_layout(table.head(50), IMPORT_FIELDS)
        out = []
        for item in plan_rows(table, layout, IMPORT_FIELDS):
            if isinstance(item, Record):
                out.append(str(item.values["number"]))
        return out[::4]

    return await asyncio.to_thread(read)


def bench_import(tmp: Path) -> list[dict[str, Any]]:
    from bench import imports

    path = imports.DATA_DIR / f"contacts-{imports.ROWS}.xlsx"
    if not path.exists():
        imports.generate(path)
    elapsed, result, with_contact = asyncio.run(_import(tmp, path))
    calamine = min(_timed(lambda: imports.read_calamine(path)) for _ in range(2))
    openpyxl = _timed(lambda: imports.read_openpyxl(path))
    print(
        f"bench: dialer: import accepted {result.accepted}, rejected {len(result.rejected)}, "
        f"{with_contact} matched to contacts",
        flush=True,
    )
    return [
        {
            "name": "100k-row xlsx into the dial list, contacts matched",
            "value": elapsed,
            "unit": "s",
            "baseline_name": "openpyxl read-only, bare read",
            "baseline_value": openpyxl,
            "ratio": elapsed / openpyxl,
            "goal": "< 0.4×",
        },
        {
            "name": "100k-row xlsx into the dial list, contacts matched",
            "value": elapsed,
            "unit": "s",
            "baseline_name": "calamine, bare read (the reader used)",
            "baseline_value": calamine,
            "ratio": elapsed / calamine,
            "goal": "—",
        },
    ]


def _timed(fn: Any) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def run() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="bench-dialer-") as tmp:
        return bench_next_entry(Path(tmp)) + bench_import(Path(tmp))


if __name__ == "__main__":
    import json

    for row in run():
        print(json.dumps(row, ensure_ascii=False))
