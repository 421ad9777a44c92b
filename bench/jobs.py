"""History import (J1) of 100k records from the simulator (issue 6).

- first import: 100 000 company calls of the last 6 days in a simulator process of
  its own (as a remote PBX would be), imported into a fresh SQLite database through
  the real job (the shared pager, the journal merge, the contacts area's events for
  the calls longer than G4). Baseline: fetching the same pages alone with the same
  client, storing nothing. Goal ≤ 1.5×.
- rerun with nothing new: the next scheduled run (the checkpoint makes it page only
  the overlap since the last run). Baseline: the first import. Goal ≤ 5 %.
- forced rerun over the whole window (``import-history --since``), for information:
  every page is fetched again and every call found already imported.
"""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from agent.jobs.history_import import HistoryImport, HistoryImportConfig
from agent.journal import Journal
from agent.phonet.rest import PhonetRest
from agent.simulator import SimControl, SimulatorInfo
from agent.storage.database import Storage

ROOT = Path(__file__).resolve().parent.parent
RECORDS = 100_000
SPAN = timedelta(days=6)
REMOTE_RECORDS = 20_000
REMOTE_DELAY_MS = 10  # a PBX on the internet answers a page in tens of ms, not 3 ms
ROUNDS = 3  # the first import and fetching alone, interleaved: the best of each
_NOTES = """Mix of the 100k calls: 60 % answered for 30 s (an event each), 30 % unanswered,
10 % internal; 20 extensions; numbers mostly distinct. Pages are fetched ahead (up to
200) while earlier ones are stored; the first page is stored at once, then batches grow
to 10000 records (or what arrived in 1 s) (agent/jobs/history_sync.py), each stored in
a few transactions, so database work overlaps the network wait. The simulator runs in
its own process, on the same 2 cores.

Against a local simulator a page costs ~3-4 ms to fetch (~50 µs a call of the agent's
CPU: HTTP, JSON, the wire's records), and that fetching is most of the agent's CPU in
the first import too. The rest is the journal rows and the events made on the event
loop (~25 µs a call) and what the storage worker does with the GIL held (~6 µs a call:
binding values, the rows of the events); SQLite's own work (~25 µs a call: the `calls`
table with its 4 indexes, `events` with 3 touched) lets go of the GIL and overlaps.
What made it faster (2026-11-26): multi-row INSERTs instead of executemany (the worker
took the GIL back once a row, and waited for it each time the loop held it), the three
columns every imported row holds the same written as literals (binding None and True
costs ~0.4 µs each), batches of up to 10000 records instead of what arrived (SQLite logs
a changed index page once a transaction: a quarter less written), an 8 MB page cache
while the import writes (the 2 MB default spilled and re-read index pages: ~30 % less
written, ~60 % less read), one worker trip for the declined/has-event questions. With
the PBX a realistic 10 ms away the same work hides behind the network (last row). The
rerun pages only the overlap since the checkpoint (15 min).

Wave 4 (2026-11-26, session 4), the goal met: a third less loop work a record
(import_row builds its three times from one second count and cached minute texts, not
three datetime subtractions and isoformat(); a call event's draft reads the record
instead of copying seven fields; enum values read without the .value property); J1's
events go in as ImportedCallEvent tuples with their shared columns as SQL literals,
not EventDrafts (a 12-field frozen dataclass: ~2.5 µs each); sqlite3 binds None
through an adapter (a failed __conform__ lookup cost ~0.3 µs a None); batches of up to
10000 records (~1 s less CPU than 2000); the figures are now the best of three
interleaved rounds, as the file imports'. Loop CPU in the import (replay, no network)
~2.3 → ~1.3 s; first import 1.54-1.60× → 1.27-1.46×."""
NOTES = _NOTES


class _Simulator:
    def __enter__(self) -> SimulatorInfo:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agent", "simulator", "--log-level", "warning"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=ROOT,
        )
        assert self.proc.stdout is not None
        return SimulatorInfo(**json.loads(self.proc.stdout.readline()))

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def _records(now: datetime) -> list[dict[str, Any]]:
    rng = random.Random(6)
    step = SPAN / RECORDS
    out = []
    for i in range(RECORDS):
        kind = rng.random()
        direction = 1 if kind < 0.1 else (2 if kind < 0.55 else 4)
        answered = direction == 1 or kind < 0.7
        talk = 30 if answered else 0
        ext = f"{rng.randrange(1, 21):03d}"
        out.append(
            {
                "uuid": f"{i + 1:032x}",
                "endAt": int((now - step * (i + 1)).timestamp() * 1000),
                "lgDirection": direction,
                "otherLegNum": None if direction == 1 else f"+38067{rng.randrange(10**7):07d}",
                "otherLegName": None,
                "leg": {"id": 1, "type": 1, "displayName": f"Op {ext}", "ext": ext},
                "leg2": {"id": 2, "type": 1, "displayName": "Op 099", "ext": "099"}
                if direction == 1
                else None,
                "billSecs": talk,
                "duration": talk + 7,
                "disposition": 0 if answered else 1,
                "transferHistory": None,
                "audioRecUrl": None,
                "trunk": None,
            }
        )
    return out


async def _fetch_alone(
    info: SimulatorInfo, start: datetime, end: datetime
) -> tuple[float, float, int]:
    async with PhonetRest(domain=info.domain, api_key=info.api_key, base_url=info.base_url) as rest:
        t0, cpu0 = time.perf_counter(), time.process_time()
        count = 0
        async for _, records in rest.history_pages("company", time_from=start, time_to=end):
            count += len(records)
        return time.perf_counter() - t0, time.process_time() - cpu0, count


async def _import(
    info: SimulatorInfo, storage: Storage, now: datetime, since: datetime | None = None
) -> tuple[float, dict[str, Any]]:
    from tests.jobs.support import contacts_area  # the contacts area's real services

    area = contacts_area(storage)
    async with PhonetRest(domain=info.domain, api_key=info.api_key, base_url=info.base_url) as rest:
        job = HistoryImport(
            storage=storage,
            journal=Journal(storage, own_ext="001", completed_talk_s=10),
            source=rest,
            events=area.port,
            config=HistoryImportConfig(completed_talk_s=10, lookback=timedelta(days=7)),
            clock=lambda: now,
        )
        t0, cpu0 = time.perf_counter(), time.process_time()
        counts = await job.run(since=since)
        counts["cpu_s"] = time.process_time() - cpu0
        return time.perf_counter() - t0, counts


async def _measure(info: SimulatorInfo, data: Path, now: datetime) -> list[dict[str, Any]]:
    """The first import and fetching alone, :data:`ROUNDS` times each, interleaved, each
    import into a new database: the best of each (as the file imports, bench/imports.py),
    the rounds in the notes. Then the reruns, into the last database."""
    global NOTES
    start = now - timedelta(days=7)
    fetches: list[tuple[float, float, int]] = []
    imports: list[tuple[float, dict[str, Any]]] = []
    for round_ in range(ROUNDS):
        fetches.append(await _fetch_alone(info, start, now))
        storage = Storage(f"sqlite:///{data / f'agent{round_}.db'}")
        await storage.start()
        try:
            imports.append(await _import(info, storage, now))
            rows_in_journal = await storage.run(storage.journal.count)
            if round_ < ROUNDS - 1:
                continue
            rerun_s, rerun = await _import(info, storage, now + timedelta(minutes=15))
            forced_s, forced = await _import(info, storage, now, since=start)
        finally:
            await storage.close()
    fetch_s, fetch_cpu_s, fetched = min(fetches)
    first_s, first = min(imports, key=lambda taken: taken[0])
    NOTES = _NOTES + (
        f"\n\nThis run ({ROUNDS} rounds, interleaved, each import into a new database): "
        f"first import {', '.join(f'{s:.2f}' for s, _ in imports)} s; fetching alone "
        f"{', '.join(f'{s:.2f}' for s, _, _ in fetches)} s."
    )
    assert fetched == RECORDS == first["records"] == rows_in_journal, (fetched, first)
    assert all(taken["imported"] == RECORDS for _, taken in imports), imports
    assert rerun["imported"] == forced["imported"] == 0
    assert forced["events"] == 0 and first["events"] > 0
    return [
        {
            "name": f"first import, {RECORDS // 1000}k calls ({first['events']} events)",
            "value": first_s,
            "unit": "s",
            "baseline_name": "fetching the same pages alone",
            "baseline_value": fetch_s,
            "ratio": first_s / fetch_s,
            "goal": "≤ 1.5×",
        },
        {
            "name": f"rerun, nothing new ({rerun['pages']} page of overlap)",
            "value": rerun_s,
            "unit": "s",
            "baseline_name": "first import",
            "baseline_value": first_s,
            "ratio": rerun_s / first_s,
            "goal": "≤ 0.05×",
        },
        {
            "name": "the agent's CPU time in the first import (both threads)",
            "value": first["cpu_s"],
            "unit": "s",
            "baseline_name": "the agent's CPU time fetching alone",
            "baseline_value": fetch_cpu_s,
            "ratio": first["cpu_s"] / fetch_cpu_s,
            "goal": "— (information)",
        },
        {
            "name": "forced rerun of the whole window (--since), nothing new",
            "value": forced_s,
            "unit": "s",
            "baseline_name": "fetching the same pages alone",
            "baseline_value": fetch_s,
            "ratio": forced_s / fetch_s,
            "goal": "— (information)",
        },
    ]


async def _measure_remote(info: SimulatorInfo, data: Path, now: datetime) -> dict[str, Any]:
    """The same work with the PBX 10 ms away (the simulator delays every request)."""
    start = now - SPAN * REMOTE_RECORDS / RECORDS
    with SimControl(info.base_url) as control:
        control.faults(rest_delay_ms=REMOTE_DELAY_MS)
        try:
            fetch_s, _, fetched = await _fetch_alone(info, start, now)
            storage = Storage(f"sqlite:///{data / 'remote.db'}")
            await storage.start()
            try:
                import_s, counts = await _import(info, storage, now, since=start)
            finally:
                await storage.close()
        finally:
            control.faults(rest_delay_ms=0)
    assert fetched == counts["imported"], (fetched, counts)
    return {
        "name": f"first import, {fetched // 1000}k calls, PBX {REMOTE_DELAY_MS} ms away",
        "value": import_s,
        "unit": "s",
        "baseline_name": "fetching the same pages alone, 10 ms away",
        "baseline_value": fetch_s,
        "ratio": import_s / fetch_s,
        "goal": "— (information)",
    }


def run() -> list[dict[str, Any]]:
    sys.path.insert(0, str(ROOT))
    now = datetime.now(UTC).replace(microsecond=0)
    records = _records(now)
    with _Simulator() as info, tempfile.TemporaryDirectory() as tmp:
        with SimControl(info.base_url) as control:
            for i in range(0, len(records), 10_000):
                control.add_history(records[i : i + 10_000])
        rows = asyncio.run(_measure(info, Path(tmp), now))
        rows.append(asyncio.run(_measure_remote(info, Path(tmp), now)))
        return rows


if __name__ == "__main__":
    for row in run():
        print(row)
