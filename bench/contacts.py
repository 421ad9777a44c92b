"""Contacts (issue 4): lookup by number and the popup with 1M contacts; a 100k-row import.

- lookup p99: ``runtime.lookup`` as the agent wires it (``ContactService.call_context``:
  index probe, ranking, last call, last note, nearest planned event, robot answer, the
  number's attempts in the operator's dial lists, popup lines) for 20k numbers of a
  1M-contact SQLite database (10 % unknown: hint and "seen before"), the database file
  in the OS's cache (read once first: a running agent's state). Baseline: a bare
  SELECT by primary key of ``contacts`` through the same ``Storage.read``, interleaved
  with the lookups. A third row gives the p99 of the lookups (and SELECTs) the OS did
  not switch out while they ran; two more the same with the file out of the OS's
  cache (Linux: ``posix_fadvise(DONTNEED)`` first), for information.
- contact search by name (M1's list, ``ContactService.page``) at 1M contacts: a text
  nobody has, a rare one, a common one, through the trigram index (m0015). Baseline:
  the list's first page unfiltered (a bare ``ORDER BY search LIMIT 50``).
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


def _cache_file(path: Path, keep: bool) -> None:
    """Read the database file into the OS's cache (``keep``), or drop it from there
    (Linux; elsewhere nothing): the lookups' figures then do not depend on what other
    work left in memory before the run."""
    if keep:
        with path.open("rb") as f:
            while f.read(1 << 20):
                pass
    elif hasattr(os, "posix_fadvise"):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


async def _lookups(
    path: Path, lookups: int = LOOKUPS, cached: bool = True
) -> tuple[list[tuple[float, bool]], list[tuple[float, bool]]]:
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
    # The dialer's part of the popup (B13: attempts, next try), read in the lookup's own
    # statement for the operator's lists, as agent/dialer/wiring.py asks for it.
    contacts.dial_owner = "001"
    # What the runtime awaits once per call before its first popup (agent/contacts/wiring.py
    # sets ``runtime.lookup = contacts.call_context``).
    lookup: ContactLookup = contacts.call_context
    _cache_file(path, cached)
    rng = random.Random(2)
    now = datetime.now(UTC)
    switches = _Switches()
    ours: list[tuple[float, bool]] = []
    bare: list[tuple[float, bool]] = []
    sql = "SELECT id, name, company, phones FROM contacts WHERE id = ?"
    rows = contacts.repo.sql.rows
    for i in range(lookups):
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
    rows = _lookup_figures(ours, bare, load, "")
    if hasattr(os, "posix_fadvise"):
        load = os.getloadavg()[0]
        ours, bare = asyncio.run(_lookups(path, LOOKUPS // 4, cached=False))
        rows += _lookup_figures(ours, bare, load, ", file not in the OS cache")[:2]
    return rows


def _lookup_figures(
    ours: list[tuple[float, bool]], bare: list[tuple[float, bool]], load: float, cache: str
) -> list[dict[str, Any]]:
    ms, base = [t for t, _ in ours], [t for t, _ in bare]
    calm, calm_base = [t for t, out in ours if not out], [t for t, out in bare if not out]
    share = sum(out for _, out in ours) / len(ours)
    share_base = sum(out for _, out in bare) / len(bare)
    return [
        _row(
            f"lookup by number (runtime.lookup: popup context), 1M contacts{cache}, p99 of "
            f"{len(ms)} (load {load:.1f})",
            _pct(ms, 0.99),
            "ms",
            "bare SELECT by primary key, same Storage.read",
            _pct(base, 0.99),
            "— (information)" if cache else "p99 ≤ 1 ms",
        ),
        _row(
            f"lookup by number, 1M contacts{cache}, p50",
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


# ------------------------------------------------------------------ search by name

SEARCHES = (
    ("a name nobody has", "Орест Шевчук"),
    ("a rare name (187 have it)", "Іван Петренко 77"),
    ("a common name (111k have it)", "Петро"),
)
SEARCH_RUNS = 5


async def _searches(path: Path) -> tuple[dict[str, list[float]], list[float], int]:
    """Seconds of each search (best first), of the bare first page, and the contacts the
    index took in first (a database from before m0015 is indexed once, in the background
    in the agent: here before the clock starts)."""
    from agent.contacts.service import ContactService
    from agent.core.settings import OperatorSettings, TeamSettings
    from agent.storage import Storage

    storage = Storage(f"sqlite:///{path}")
    await storage.start()
    settings = SimpleNamespace(team=TeamSettings(), operator=OperatorSettings())
    contacts = ContactService(storage, settings, own_ext="001")
    indexed = 0
    while taken := await storage.run(contacts.search.refresh):
        indexed += taken
    bare_sql = (
        "SELECT id, name, company, phones FROM contacts WHERE deleted_at IS NULL "
        "ORDER BY search, id LIMIT 50"
    )
    times: dict[str, list[float]] = {label: [] for label, _ in SEARCHES}
    bare: list[float] = []
    for _ in range(SEARCH_RUNS):  # interleaved
        for label, text in SEARCHES:
            t0 = time.perf_counter()
            await contacts.page(text, 50, 0)
            times[label].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        await storage.run(contacts.repo.sql.rows, bare_sql)
        bare.append(time.perf_counter() - t0)
    await contacts.drain()
    await storage.close()
    return {k: sorted(v) for k, v in times.items()}, sorted(bare), indexed


def _search_rows(path: Path) -> list[dict[str, Any]]:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    times, bare, _ = asyncio.run(_searches(path))
    base = "contact list's first page, unfiltered (bare SELECT … ORDER BY search LIMIT 50)"
    rows = []
    for label, _ in SEARCHES:
        name = f"search contacts by name, 1M contacts: {label}"
        if not rows:
            name += f", best of {SEARCH_RUNS} (load {load:.1f})"
        goal = "index, not a scan" if not rows else "—"
        rows.append(_row(name, times[label][0] * 1000, "ms", base, bare[0] * 1000, goal))
    return rows


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
        await service.drain()  # the search index's refresh the import started, untimed
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
    rows += _search_rows(path)
    rows += _frame_rows(path)
    rows += _import_rows(data_dir)
    return rows


_NOTES = """
The 1M-contact database is SQLite (the default). A lookup reads it inline on the caller's
own connection (``Storage.read``), like the bare SELECT beside it. The lookup rows are
measured with the database file in the OS's cache (read once first), as a running agent
has it; the "not in the OS cache" rows with it dropped first (posix_fadvise), where every
lookup and every bare SELECT reads pages from the disk (~0.1-0.2 ms each here): the
lookup touches five B-trees (the number index, the contact, the journal's number index,
two event indexes) to the SELECT's one. The earlier runs' figures (lookup p50 0.40 ms
against the SELECT's 0.22 ms) were of a file mostly out of the cache. On a shared machine
the p99 is also the scheduler's: a lookup the OS switches out waits a time slice; the
"not switched out" row shows the lookups' own tail. The load average is the one-minute
figure when the measurement began.

A lookup is one statement since 2026-11-26 (agent/storage/contact_lookup.py): the matches
with their last note, nearest planned event and robot answer, the number's last call and
its attempts in the operator's dial lists; they were 4-6 statements (the robot answer's
read every event of the contact: m0014 indexes the robot's events). Measured in one
process, the two paths interleaved key by key (30k keys, 10 % unknown, load ~4): the
lookup's database work (ContactService._find) 55-72 → 45-58 µs CPU, the SQL alone
33-41 → 27-32 µs, the same answers for all 30k. Of a whole lookup (~90-100 µs CPU) the
statement is about half; the rest is the number's normalisation (~5 µs), the popup lines
(~7 µs), and for an unknown number its hint (describe_number, ~60-80 µs: phonenumbers'
parse and validation). Garbage collection is not in the tail: ~20 young collections
(~0.1 ms) in 20k lookups.

Contact search by name (M1) at 1M contacts used to read every contact when the text is
rare. Before and after the trigram index of m0015, ContactService.page on the bench's
database, CPU time (load 5.4; wall time at load ~3 in brackets): a text nobody has
652 ms → 0.2 ms (1456 → 0.4-0.8 ms); "Ткаченко 123456" (none) 458 → 2.9 ms; a name 187
contacts have 502 → 5.7 ms; "Клієнт 1234»" (50, every contact has "клієнт") 1211 →
35 ms; 5550 have it 519 → 125 ms; "Петро" (111k) 263 → 274 ms; "ТОВ" (all) 7 → 37 ms
(the index is asked before the ordered scan that finds a page of so common a text at
once); two characters (no trigram: the scan, instr instead of LIKE) 13 → 14 ms. The
index on SQLite is FTS5's trigram tokenizer over ``contacts.search`` (72 MB at 1M);
triggers note which contacts changed (an import pays ~1.5 µs a contact: 84k contacts
inserted in 0.56 s CPU instead of 0.44), and the index takes them in after the writer,
in batches on the storage worker (~8-11 µs a contact; 1M in 11 s CPU). Searches are
exact meanwhile. On PostgreSQL (pg_trgm, 300k contacts, separate measurement) a rare
name went from 105-155 ms to 4-5 ms; a text nobody has stays a parallel scan (~130 ms)
where the planner finds its trigrams too common to use the index.

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

Since 2026-11-26 (wave 3) a stored contact whose rows add nothing to it is not written
(of the 16749 the bench's file joins, 2748 change: a later row of the same person adds
a number); the stored contacts are matched in one statement a chunk of 2000 keys,
their columns read raw, not as Contacts; new contacts are built in one loop
(imports._new_rows) and inserted with their two timestamps written once into the
statement, their number keys 1000 to a multi-row INSERT (Sql.insert_many; since the same day up to
256 a statement, through repositories.insert_rows, the one multi-row writer of all imports). Measured on
a machine shared with four other engineers (load 4-7: wall times unreliable), with the
search index's triggers (m0015) in both: instructions in the import (callgrind, the
bench's generator at 20k rows, 4k stored) new database 3.57 → 3.21 G (-10 %), stored
before 4.35 → 3.48 G (-20 %); CPU time, best of 5-6 fresh interpreters interleaved
(100k rows, 20k stored): new database 2.55-2.98 → 2.45-2.48 s, stored before
3.08-3.38 → 2.74-2.83 s; openpyxl's bare read 4.5-5.5 s CPU, 5.3-8.0 s wall. Tried and
dropped: matching a batch on the worker while the next is planned (its answer one row
of JSON, so the worker takes the GIL back once a statement): +0.5 s CPU, slower; keys
sorted before inserting (the PK in order, the contact_id index and the foreign-key
probe out of order): 2x slower; contacts as multi-row INSERTs (10 columns of text):
no gain; a JSON array through json_each: 1.7x the CPU. Where a new database's CPU goes
now (quiet moments, in-process): reading ~0.45 (calamine; 40 % of its sheet load is a
second pass over the XML for merged cells, which python-calamine 0.9.1 always makes),
planning ~0.45 (numbers.fast_e164 ~0.3), grouping ~0.22, building the rows ~0.14,
SQLite ~0.75 (contacts ~0.37 with the FTS trigger's ~0.1, keys ~0.23, commit ~0.1).

Wave 4 (2026-11-26, session 4), the goal met: an import that at least doubles the
contacts sets the name index (contacts_search) and the name search's insert trigger
aside and makes them again before its commit (agent/storage/bulk_load.py: the index
filled row by row in file order cost ~0.3 s, made afterwards ~0.05 s; the trigger's
notes one statement, ~0.03 s); numbers.fast_e164 takes cells of digits alone without
the shape regex, drops separators with bytes.translate and tests validity with one
regex per length (2.2 → ~1.4 µs a number); multi-row INSERTs of up to 2048 rows and
8192 values (each statement costs ~0.3 ms besides its rows: the keys 0.2-0.27 → 0.11-0.15
s). New database, fresh interpreters: 2.17 s → 1.68-1.9 s (openpyxl 4.35-5.0 s). The
second row (20k stored) is this bench's own, not the issue's goal: its extra ~0.5 s is
matching the stored contacts and rewriting the 2748 that change.
"""
NOTES = _NOTES


if __name__ == "__main__":
    for item in run():
        print(item)
