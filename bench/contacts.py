"""Contacts (issue 4): lookup by number and the popup with 1M contacts; a 100k-row import.

- lookup p99: ``runtime.lookup`` as the agent wires it (``ContactService.call_context``:
  index probe, ranking, last call, last note, nearest planned event, popup lines) for
  20k numbers of a 1M-contact SQLite database (10 % unknown: hint and "seen before").
  Baseline: a bare SELECT by primary key of ``contacts`` through the same
  ``Storage.read``, interleaved with the lookups. A third row gives the p99 of the
  lookups (and SELECTs) the OS did not switch out while they ran.
- live frame → popup p99 with those 1M contacts (and 200k journal rows, 100k events):
  an in-process agent fed dial/bridge/hangup frames one at a time through
  ``runtime.frame_received``. Baseline: the same agent and frames with the contact
  lookup off.
- 100k-row xlsx contact import, stored: ``import_contacts`` (read, plan, match, write
  contacts and the number index) into a new SQLite database, whose creation is not
  timed; and into one holding 20k of the file's people already (each row's number
  matched against them, those rows extending their contact). Baselines: python-calamine's
  bare read and openpyxl's read-only bare read of the same file (bench/imports.py makes
  it). The imports and the baselines each run in a fresh interpreter.

The 1M database is made once into ``bench/data/`` (git-ignored) with bulk inserts,
and copied for the agent so its journal writes never change it.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DATA_DIR = ROOT / "bench" / "data"
CONTACTS = 1_000_000
CALLS = 200_000
EVENTS = 100_000
VERSION = "contacts-bench-2"
LOOKUPS = 20_000
CALLS_FED = 1_000  # x3 frames

_FIRST = ["Іван", "Олена", "Петро", "Марія", "Андрій", "Оксана", "Сергій", "Наталія", "Юлія"]
_LAST = ["Петренко", "Коваль", "Шевченко", "Бондар", "Ткаченко", "Кравченко", "Мельник"]


def number_of(i: int) -> str:
    """Contact i's number; every 1000th shares the previous contact's (several matches)."""
    if i % 1000 == 999:
        i -= 1
    return f"+38067{i:07d}"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _row(
    name: str, value: float, unit: str, base_name: str, base: float, goal: str
) -> dict[str, Any]:
    return {
        "name": name,
        "value": round(value, 4),
        "unit": unit,
        "baseline_name": base_name,
        "baseline_value": round(base, 4),
        "ratio": round(value / base, 3) if base else None,
        "goal": goal,
    }


# ------------------------------------------------------------------ the 1M database


def build_database(path: Path) -> None:
    """1M contacts, their index keys, 200k finished calls and 100k events, by bulk insert."""
    from agent.storage import Storage
    from agent.storage.contacts_repo import raw_contact_values

    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    Storage.open_sync(f"sqlite:///{tmp}").close_sync()  # the schema, by the migrations
    rng = random.Random(1)
    stamp = "2024-01-01T00:00:00.000000+00:00"
    db = sqlite3.connect(tmp)
    db.execute("PRAGMA synchronous = OFF")
    columns = "id, name, company, phones, attributes, responsible_ext, search, last_contact_at, "
    columns += "created_at, updated_at"
    for start in range(0, CONTACTS, 50_000):
        contacts, keys = [], []
        for i in range(start, start + 50_000):
            number = number_of(i)
            name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)} {i}"
            values = raw_contact_values(
                name,
                f"ТОВ «Клієнт {i % 20_000}»",
                [(number, "mobile", None)],
                {"priority": i % 5},
                rng.choice(["001", "002", None]),
                None,
                stamp,
                stamp,
            )
            contacts.append((i + 1, *values))
            keys.append((number, i + 1, 0))
        db.executemany(f"INSERT INTO contacts ({columns}) VALUES ({', '.join('?' * 10)})", contacts)
        db.executemany("INSERT OR IGNORE INTO contact_numbers VALUES (?, ?, ?)", keys)
    calls = []
    for i in range(CALLS):
        end = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=i)
        at = end.isoformat(timespec="microseconds")
        calls.append(
            (
                f"{i:032x}",
                "out",
                number_of(rng.randrange(CONTACTS)),
                "001",
                at,
                at,
                at,
                30,
                "answered",
                "live",
                1,
            )
        )
    db.executemany(
        "INSERT INTO calls (uuid, direction, number, operator_ext, dial_at, answer_at, end_at, "
        "talk_s, outcome, source, final) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        calls,
    )
    events = []
    for i in range(EVENTS):
        contact = rng.randrange(CONTACTS) + 1
        planned = "2030-01-01T09:00:00.000000+00:00" if i % 3 == 0 else None
        events.append(
            (
                i + 1,
                contact,
                "001",
                "call",
                "normal",
                planned,
                f"нотатка {i}",
                "{}",
                "saved",
                "manual",
                stamp,
                stamp,
            )
        )
    db.executemany(
        "INSERT INTO events (id, contact_id, operator_ext, kind, importance, planned_at, "
        "notes, fields, state, source, created_at, updated_at) "
        f"VALUES ({', '.join('?' * 12)})",
        events,
    )
    db.execute("INSERT INTO kv VALUES ('contacts.search_fields', '[[\"phone\"]]', ?)", (stamp,))
    db.execute("INSERT INTO kv VALUES ('bench.version', ?, ?)", (f'"{VERSION}"', stamp))
    db.commit()
    db.execute("ANALYZE")
    db.close()
    tmp.replace(path)


def database(data_dir: Path = DATA_DIR) -> Path:
    path = data_dir / "contacts-1m.db"
    if path.exists():
        with sqlite3.connect(path) as db:
            row = db.execute("SELECT value FROM kv WHERE key = 'bench.version'").fetchone()
        if row and row[0] == f'"{VERSION}"':
            return path
    path.parent.mkdir(parents=True, exist_ok=True)
    build_database(path)
    return path


# ------------------------------------------------------------------ lookup


class _Switches:
    """Whether the OS took the CPU from this thread (or it slept: a page read from disk)
    during a measurement: getrusage's context switches, Linux only."""

    def __init__(self) -> None:
        import resource

        self._who = getattr(resource, "RUSAGE_THREAD", None)
        self._usage = resource.getrusage

    def count(self) -> int:
        if self._who is None:
            return 0
        usage = self._usage(self._who)
        return int(usage.ru_nvcsw + usage.ru_nivcsw)


async def _lookups(path: Path) -> tuple[list[tuple[float, bool]], list[tuple[float, bool]]]:
    """(ms, switched out) of each lookup and of each bare SELECT, interleaved."""
    from agent.contacts.service import ContactService
    from agent.core.events import CallInfo, Direction
    from agent.core.settings import OperatorSettings, TeamSettings
    from agent.runtime import ContactLookup
    from agent.storage import Storage

    storage = Storage(f"sqlite:///{path}")
    await storage.start()
    settings = SimpleNamespace(team=TeamSettings(), operator=OperatorSettings())
    contacts = ContactService(storage, settings, own_ext="001")
    # What the runtime awaits once per call before its first popup (agent/contacts/wiring.py
    # sets ``runtime.lookup = contacts.call_context``).
    lookup: ContactLookup = contacts.call_context
    rng = random.Random(2)
    now = datetime.now(UTC)
    switches = _Switches()
    ours: list[tuple[float, bool]] = []
    bare: list[tuple[float, bool]] = []
    sql = "SELECT id, name, company, phones FROM contacts WHERE id = ?"
    rows = contacts.repo.sql.rows
    for i in range(LOOKUPS):
        unknown = i % 10 == 0
        number = (
            f"+38050{rng.randrange(10**7):07d}" if unknown else number_of(rng.randrange(CONTACTS))
        )
        call = CallInfo(f"{i:032x}", Direction.IN, "001", number, False, now)
        s0 = switches.count()
        t0 = time.perf_counter_ns()
        await lookup(call)
        t1 = time.perf_counter_ns()
        ours.append(((t1 - t0) / 1e6, switches.count() != s0))
        key = rng.randrange(CONTACTS) + 1
        s0 = switches.count()
        t0 = time.perf_counter_ns()
        await storage.read(rows, sql, (key,))  # the path the lookup's reads take
        t1 = time.perf_counter_ns()
        bare.append(((t1 - t0) / 1e6, switches.count() != s0))
    await storage.close()
    return ours, bare


def _lookup_rows(path: Path) -> list[dict[str, Any]]:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    ours, bare = asyncio.run(_lookups(path))
    ms, base = [t for t, _ in ours], [t for t, _ in bare]
    calm, calm_base = [t for t, out in ours if not out], [t for t, out in bare if not out]
    share = sum(out for _, out in ours) / len(ours)
    share_base = sum(out for _, out in bare) / len(bare)
    return [
        _row(
            f"lookup by number (runtime.lookup: popup context), 1M contacts, p99 of "
            f"{len(ms)} (load {load:.1f})",
            _pct(ms, 0.99),
            "ms",
            "bare SELECT by primary key, same Storage.read",
            _pct(base, 0.99),
            "p99 ≤ 1 ms",
        ),
        _row(
            "lookup by number, 1M contacts, p50",
            _pct(ms, 0.5),
            "ms",
            "bare SELECT by primary key, p50",
            _pct(base, 0.5),
            "—",
        ),
        _row(
            f"lookup p99 of those the OS did not switch out ({1 - share:.1%} of them)",
            _pct(calm, 0.99) if calm else float("nan"),
            "ms",
            f"the same of the bare SELECTs ({1 - share_base:.1%})",
            _pct(calm_base, 0.99) if calm_base else float("nan"),
            "—",
        ),
    ]


# ------------------------------------------------------------------ frame → popup


def _frames(i: int, number: str, domain: str) -> list[str]:
    import json

    now_ms = int(time.time() * 1000)
    base = {
        "accountDomain": domain,
        "uuid": f"{i + 1:032x}",
        "parentUuid": None,
        "dialAt": now_ms,
        "bridgeAt": None,
        "lgDirection": 4,
        "leg": {"id": 1, "ext": "001", "displayName": "Bench"},
        "leg2": None,
        "otherLegs": [{"id": i, "name": None, "num": number}],
        "trunkNum": "+380442246595",
        "trunkName": "bench",
    }
    return [
        json.dumps({**base, "event": "call.dial", "serverTime": now_ms}),
        json.dumps({**base, "event": "call.bridge", "bridgeAt": now_ms + 1000}),
        json.dumps(
            {**base, "event": "call.hangup", "bridgeAt": now_ms + 1000, "serverTime": now_ms + 5000}
        ),
    ]


class _NullPopups:
    def show(self, popup: object) -> None:
        pass


async def _popups(info: Any, db: Path, data: Path, lookup: bool) -> list[float]:
    from agent.app import Agent, AgentOptions
    from agent.paths import DataDir

    agent = Agent(
        AgentOptions(
            data_dir=DataDir(data).ensure(),
            domain=info.domain,
            ext="001",
            api_key=info.api_key,
            base_url=info.base_url,
            headless=True,
            db_url=f"sqlite:///{db}",
            banner=lambda line: None,
            operator_overrides={"auto_connect": False},
        )
    )
    await agent.start()
    runtime = agent.runtime
    assert runtime is not None
    if not lookup:
        runtime.lookup = None
    runtime.popups = _NullPopups()
    runtime.stats.keep_latencies = True
    shown = asyncio.Event()
    runtime.popup_listeners.append(lambda popup: shown.set())
    rng = random.Random(3)
    for i in range(CALLS_FED):
        for frame in _frames(i, number_of(rng.randrange(CONTACTS)), info.domain):
            shown.clear()
            runtime.frame_received(frame)
            await asyncio.wait_for(shown.wait(), 10)  # one popup per frame, one at a time
        await asyncio.sleep(0.001)  # let the journal writes go, as between real frames
    latencies = [ns / 1e6 for ns in runtime.stats.popup_latency_ns]
    await agent.stop()
    return latencies


def _frame_rows(path: Path) -> list[dict[str, Any]]:
    from agent.simulator import SimulatorOptions, SimulatorThread

    with SimulatorThread(SimulatorOptions()) as info, tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "agent.db"
        shutil.copyfile(path, copy)
        with_contacts = asyncio.run(_popups(info, copy, Path(tmp) / "a", True))
        without = asyncio.run(_popups(info, copy, Path(tmp) / "b", False))
    return [
        _row(
            f"live frame → popup p99, 1M contacts ({len(with_contacts)} popups)",
            _pct(with_contacts, 0.99),
            "ms",
            "the same, contact lookup off",
            _pct(without, 0.99),
            "p99 ≤ 10 ms",
        ),
        _row(
            "live frame → popup p50, 1M contacts",
            _pct(with_contacts, 0.5),
            "ms",
            "the same, contact lookup off",
            _pct(without, 0.5),
            "—",
        ),
    ]


# ------------------------------------------------------------------ import

SEEDED = 20_000  # people of the file stored before the import, in the matching figure


def fresh_import(path: str, seed: str = "") -> dict[str, Any]:
    """In a fresh interpreter (bench.imports.fresh): ``import_contacts`` of the file's
    bytes into a new SQLite database (made and migrated before the clock starts), with
    the people of the JSON file ``seed`` stored first when given; the import timed."""
    import python_calamine  # noqa: F401  # the import's modules, loaded before the clock

    from agent.contacts.imports import import_contacts
    from agent.contacts.service import ContactService
    from agent.core.contacts import Contact, Phone
    from agent.core.settings import OperatorSettings, TeamSettings
    from agent.storage import Storage

    async def main(db: Path) -> dict[str, Any]:
        storage = Storage(f"sqlite:///{db}")
        await storage.start()
        settings = SimpleNamespace(team=TeamSettings(), operator=OperatorSettings())
        service = ContactService(storage, settings, own_ext="001")
        if seed:
            people = json.loads(Path(seed).read_text(encoding="utf-8"))
            stored = [Contact(None, n, c, phones=(Phone(p),)) for n, c, p in people]
            keys = [[(p, 0)] for _, _, p in people]
            await storage.run(service.repo.insert_many, stored, keys, datetime.now(UTC))
        data = Path(path).read_bytes()
        cpu, wall = time.process_time(), time.perf_counter()  # as bench.imports.clocked
        report = await import_contacts(service, data, Path(path).name)
        taken: dict[str, Any] = {"s": time.perf_counter() - wall}
        taken["cpu"] = time.process_time() - cpu
        taken["result"] = {
            "accepted": report.accepted,
            "rejected": len(report.rejected),
            "created": report.created,
            "updated": report.updated,
            "stored": await storage.run(service.repo.count),
        }
        await storage.close()
        return taken

    with tempfile.TemporaryDirectory() as tmp:
        return asyncio.run(main(Path(tmp) / "import.db"))


def _people(path: Path, out: Path) -> None:
    """Every fifth good row's person (name, company, E.164), :data:`SEEDED` of them:
    contacts a previous import left, which these rows find by number and extend."""
    from agent.contacts.imports import CONTACT_FIELDS
    from agent.core.table_plan import detect_layout, plan_batches
    from agent.files import read_table

    table = read_table(path)
    layout = detect_layout(table.head(50), CONTACT_FIELDS)
    people = [
        values[:3]
        for batch in plan_batches(table, layout, CONTACT_FIELDS)
        for values in batch.values
    ]
    out.write_text(json.dumps(people[::5][:SEEDED], ensure_ascii=False), encoding="utf-8")


def _import_rows(data_dir: Path) -> list[dict[str, Any]]:
    from bench import imports

    global NOTES
    path, expected = imports.workbook(data_dir)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    with tempfile.TemporaryDirectory() as tmp:
        seed = Path(tmp) / "people.json"
        _people(path, seed)
        found = imports.interleaved(
            {
                "openpyxl": ("bench.imports:bare_openpyxl", str(path)),
                "calamine": ("bench.imports:bare_calamine", str(path)),
                "new": ("bench.contacts:fresh_import", str(path)),
                "matched": ("bench.contacts:fresh_import", str(path), str(seed)),
            }
        )
    for run_ in found["new"] + found["matched"]:
        counts = run_["result"]
        if counts["accepted"] != expected["accepted"] or counts["created"] > counts["accepted"]:
            raise AssertionError(f"import kept {counts}, expected {expected}")
    new, matched = found["new"][0]["result"], found["matched"][0]["result"]
    t_openpyxl, t_calamine = imports.best(found["openpyxl"]), imports.best(found["calamine"])
    rows = imports.ROWS // 1000
    NOTES = _NOTES + (
        f"\nThis run ({imports.FRESH_RUNS} fresh interpreters each, interleaved): import into a "
        f"new database {imports.spread(found['new'])}; with {SEEDED // 1000}k stored "
        f"{imports.spread(found['matched'])}; openpyxl {imports.spread(found['openpyxl'])}; "
        f"calamine {imports.spread(found['calamine'])}.\n"
    )
    bare = "openpyxl read-only, bare read (fresh process)"
    return [
        _row(
            f"import {rows}k-row xlsx contacts, stored, new database ({new['stored']} contacts; "
            f"fresh process; load {load:.1f})",
            imports.best(found["new"]), "s", bare, t_openpyxl, "< 0.4",
        ),
        _row(
            f"import {rows}k-row xlsx contacts, {SEEDED // 1000}k of its people stored before "
            f"(matched by number: {matched['updated']} extended, {matched['created']} new)",
            imports.best(found["matched"]), "s", bare, t_openpyxl, "< 0.4",
        ),
        _row(
            f"import {rows}k-row xlsx contacts, stored, new database",
            imports.best(found["new"]), "s",
            "python-calamine, bare read (fresh process)", t_calamine, "—",
        ),
        _row(
            f"import {rows}k-row xlsx contacts, new database, CPU time (all threads)",
            imports.best(found["new"], "cpu"), "s",
            "openpyxl bare read, CPU time", imports.best(found["openpyxl"], "cpu"), "—",
        ),
    ]  # fmt: skip


def run(data_dir: Path = DATA_DIR) -> list[dict[str, Any]]:
    path = database(data_dir)
    rows = _lookup_rows(path)
    rows += _frame_rows(path)
    rows += _import_rows(data_dir)
    return rows


_NOTES = """
The 1M-contact database is SQLite (the default). A lookup reads it inline on the caller's
own connection (``Storage.read``), like the bare SELECT beside it. On a shared machine a
lookup's p99 is the OS's: a lookup the scheduler preempts, or one that reads a page the
host has paged out, waits milliseconds; the "not switched out" row shows the lookups'
own tail. The load average is the one-minute figure when the measurement began.

The import and both of its baselines run each in a fresh interpreter (bench/imports.py
``fresh``), three of each, interleaved; the figures are the best of three. Measured in
the process that had just imported, openpyxl's read took ~2x as long (11.5-15.5 s against
6.2-6.5 s), which made the ratio look like 0.28-0.37 where it was ~0.5.

Before and after the import planned in batches of tuples (table_plan.plan_batches) and
grouped them without a Record per row, measured on 2026-11-26 in fresh interpreters, 5
rounds interleaved, load 1.8-4.8, best (median) wall: new database 3.47 (3.97) → 2.68
(3.19) s; 20k of its people stored before 4.20 (4.29) → 3.23 (4.23) s; openpyxl's bare
read 5.48 (6.36) s. So 0.63 → 0.49× and 0.76 → 0.59×: the goal of 0.4× is not met.
Where the 2.7 s go (new database): reading ~0.5 (calamine), planning ~0.3, grouping ~0.25,
building the rows ~0.35, and SQLite ~1.1 (inserting 84k contacts and their keys ~0.9,
the commit ~0.15). The inserts (ContactsRepository.insert_rows, executemany) take the
GIL back for every row, so nothing can run beside them (a thread planning alongside
slows them to a crawl): with nothing left to cut in the reading, the rest is the
storage's. With stored contacts the import also reads them (~0.5 s for 20k: ids_by_keys,
get_many) and rewrites those it extends (~0.6 s: update_values, replace_keys), even
when a row adds nothing to them.
"""
NOTES = _NOTES


if __name__ == "__main__":
    for item in run():
        print(item)
