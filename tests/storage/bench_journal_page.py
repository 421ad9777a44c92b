"""How fast the journal answers with a million calls (goal: a page at p50 <= 20 ms).

Not a test (pytest does not collect it): run it by hand or from ``dev.py bench``::

    .venv/bin/python -m tests.storage.bench_journal_page [--rows 1000000] [--db URL]

Without ``--db`` it uses a fresh SQLite file in a temporary directory. The rows are
made by SQL (a million JournalEntry objects would measure Python, not the query):
20 operators, 200 000 numbers, one call ending every 30 s, 20 calls still open.
Every query runs through ``Storage.call``, so the worker-thread hop is counted.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from agent.storage import Storage
from agent.storage.migrations.base import run_sql

START = datetime(2024, 1, 1, tzinfo=UTC)
STEP_S = 30

_SQLITE_FILL = """
WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {rows})
INSERT INTO calls (uuid, direction, number, operator_ext, dial_at, answer_at, end_at,
                   talk_s, duration_s, disposition, outcome, source, final)
SELECT printf('%032x', i),
       CASE i % 3 WHEN 0 THEN 'in' WHEN 1 THEN 'out' ELSE 'internal' END,
       printf('+38050%07d', i % 200000),
       printf('%03d', i % 20),
       strftime('%Y-%m-%dT%H:%M:%S', {start} + i * {step} - 60, 'unixepoch') || '.000000+00:00',
       strftime('%Y-%m-%dT%H:%M:%S', {start} + i * {step} - 40, 'unixepoch') || '.000000+00:00',
       strftime('%Y-%m-%dT%H:%M:%S', {start} + i * {step}, 'unixepoch') || '.000000+00:00',
       40, 60, 0, 'answered', 'import', 1
FROM seq
"""

_POSTGRES_FILL = """
INSERT INTO calls (uuid, direction, number, operator_ext, dial_at, answer_at, end_at,
                   talk_s, duration_s, disposition, outcome, source, final)
SELECT lpad(to_hex(i), 32, '0'),
       (ARRAY['in', 'out', 'internal'])[i % 3 + 1],
       '+38050' || lpad((i % 200000)::text, 7, '0'),
       lpad((i % 20)::text, 3, '0'),
       to_timestamp({start} + i * {step} - 60),
       to_timestamp({start} + i * {step} - 40),
       to_timestamp({start} + i * {step}),
       40, 60, 0, 'answered', 'import', TRUE
FROM generate_series(1, {rows}) AS i
"""


def fill(storage: Storage, rows: int) -> None:
    template = _POSTGRES_FILL if storage.dialect == "postgresql" else _SQLITE_FILL
    sql = template.format(rows=rows, start=int(START.timestamp()), step=STEP_S)

    def insert() -> None:
        with storage.atomic():
            run_sql(storage.db, sql)
            run_sql(
                storage.db,
                "UPDATE calls SET end_at = NULL, answer_at = NULL WHERE uuid IN "
                "(SELECT uuid FROM calls ORDER BY end_at DESC LIMIT 20)",
            )
        run_sql(storage.db, "ANALYZE")

    storage.call(insert)


def measure(storage: Storage, name: str, fn: Callable[[], Any], runs: int) -> str:
    storage.call(fn)  # warm the cache: the first query of a cold start is another question
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        storage.call(fn)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p95 = times[int(len(times) * 0.95) - 1]
    return f"| {name} | {statistics.median(times):.2f} | {p95:.2f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db", help="a database URL (default: a temporary SQLite file)")
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'bench.db'}"
        with Storage.open_sync(url) as storage:
            started = time.perf_counter()
            fill(storage, args.rows)
            fill_s = time.perf_counter() - started
            journal = storage.journal
            last = START + timedelta(seconds=args.rows * STEP_S)
            print(f"{storage.dialect}: {args.rows} calls made in {fill_s:.1f} s\n")
            print("| query | p50 ms | p95 ms |\n|---|---|---|")
            queries: list[tuple[str, Callable[[], Any]]] = [
                ("journal page: limit 50, offset 0", lambda: journal.list(limit=50)),
                (
                    "journal page: limit 50, offset 0, mine",
                    lambda: journal.list(50, 0, None, "007"),
                ),
                ("journal page: limit 500, offset 0", lambda: journal.list(limit=500)),
                ("journal page: limit 50, offset 10000", lambda: journal.list(50, 10_000)),
                (
                    "journal page: since a day ago",
                    lambda: journal.list(50, 0, last - timedelta(days=1)),
                ),
                ("last_seen(number)", lambda: journal.last_seen("+380500012345")),
                ("latest_end_at(ext)", lambda: journal.latest_end_at("007")),
                ("open_calls(ext)", lambda: journal.open_calls("007")),
                ("get(uuid)", lambda: journal.get(f"{args.rows // 2:032x}")),
                ("count()", journal.count),
            ]
            for name, fn in queries:
                print(measure(storage, name, fn, args.runs if "count" not in name else 10))


if __name__ == "__main__":
    main()
