"""``phonet-agent import-history`` and ``import-robot`` as an admin runs them
(contracts.md §2): progress and counts on stdout, exit codes, beside a running agent."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.simulator import SimControl, SimulatorInfo
from agent.storage.database import Storage
from agent.storage.jobs_repository import JobsRepository
from tests.jobs.support import raw_record

ROOT = Path(__file__).resolve().parents[2]


def run_cli(
    *args: str, info: SimulatorInfo, api_key: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PHONET_API_KEY": api_key or info.api_key}
    return subprocess.run(
        [sys.executable, "-m", "agent", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def pbx_args(info: SimulatorInfo, tmp_path: Path, db: str | None = None) -> list[str]:
    args = ["--data-dir", str(tmp_path / "data"), "--base-url", info.base_url]
    args += ["--domain", info.domain, "--ext", "001"]
    return args + (["--db", db] if db else [])


def counts_line(stdout: str) -> dict[str, str]:
    last = stdout.strip().splitlines()[-1]
    return dict(part.split("=", 1) for part in last.split())


def test_import_history_prints_progress_and_counts_and_a_rerun_adds_nothing(
    db_url: str, simulator: SimulatorInfo, sim: SimControl, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    sim.add_history([raw_record(i, end_at=now - timedelta(minutes=i)) for i in range(1, 151)])

    first = run_cli("import-history", *pbx_args(simulator, tmp_path, db_url), info=simulator)
    again = run_cli("import-history", *pbx_args(simulator, tmp_path, db_url), info=simulator)

    assert first.returncode == 0, first.stderr
    assert "history: ok: 4 pages, 150 calls, 150 imported" in first.stdout
    assert counts_line(first.stdout)["imported"] == "150"
    assert again.returncode == 0, again.stderr
    assert counts_line(again.stdout)["imported"] == "0"
    with Storage.open_sync(db_url) as storage:
        runs = storage.call(JobsRepository(storage.db).runs, "history")
    assert [(r.trigger, r.state) for r in runs] == [("cli", "ok"), ("cli", "ok")]


def test_a_malformed_history_record_is_counted_and_the_next_run_goes_past_it(
    simulator: SimulatorInfo, sim: SimControl, tmp_path: Path
) -> None:
    # The audit's probe: one record with a uuid that is no call id used to fail every
    # run at its page, for good.
    now = datetime.now(UTC)
    bad = {**raw_record(500, end_at=now - timedelta(minutes=60, seconds=30)), "uuid": "call-42"}
    sim.add_history(
        [*(raw_record(i, end_at=now - timedelta(minutes=i)) for i in range(1, 121)), bad]
    )

    first = run_cli("import-history", *pbx_args(simulator, tmp_path), info=simulator)
    again = run_cli("import-history", *pbx_args(simulator, tmp_path), info=simulator)

    assert first.returncode == 0, first.stderr
    assert "1 unreadable records skipped (see the log)" in first.stdout
    assert (
        counts_line(first.stdout)["imported"],
        counts_line(first.stdout)["skipped_unreadable"],
    ) == (
        "120",
        "1",
    )
    assert again.returncode == 0, again.stderr
    assert counts_line(again.stdout)["skipped_unreadable"] == "0"  # the checkpoint moved on


def test_since_reaches_back_past_the_look_back_and_naive_means_utc(
    simulator: SimulatorInfo, sim: SimControl, tmp_path: Path
) -> None:
    old = datetime(2024, 1, 10, 12, 0, tzinfo=UTC)
    sim.add_history([raw_record(1, end_at=old)])

    result = run_cli(
        "import-history",
        "--since",
        "2024-01-10T11:00:00",
        *pbx_args(simulator, tmp_path),
        info=simulator,
    )

    assert result.returncode == 0, result.stderr
    assert counts_line(result.stdout)["imported"] == "1"


def test_a_bad_since_is_exit_2(simulator: SimulatorInfo, tmp_path: Path) -> None:
    result = run_cli(
        "import-history", "--since", "last tuesday", *pbx_args(simulator, tmp_path), info=simulator
    )
    assert result.returncode == 2
    assert "--since" in result.stderr


def test_a_refused_api_key_is_exit_4_and_the_key_is_never_printed(
    simulator: SimulatorInfo, tmp_path: Path
) -> None:
    wrong = "WrongKey0123456789abcdef"
    result = run_cli(
        "import-history", *pbx_args(simulator, tmp_path), info=simulator, api_key=wrong
    )
    assert result.returncode == 4, result.stdout + result.stderr
    assert wrong not in result.stdout + result.stderr
    log = (tmp_path / "data" / "logs" / "agent.log").read_text()
    assert wrong not in log


def test_an_unreachable_pbx_is_exit_3(simulator: SimulatorInfo, tmp_path: Path) -> None:
    args = pbx_args(simulator, tmp_path)
    args[args.index("--base-url") + 1] = "http://127.0.0.1:1"
    result = run_cli("import-history", *args, info=simulator)
    assert result.returncode == 3, result.stdout + result.stderr


def test_the_command_waits_while_another_agent_runs_the_job(
    simulator: SimulatorInfo, sim: SimControl, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'team.db'}"
    with Storage.open_sync(db) as storage:
        now = datetime.now(UTC)
        storage.call(
            JobsRepository(storage.db).claim,
            "history",
            holder="busy-agent",
            host="desk-3",
            period=now,
            now=now,
            ttl=timedelta(seconds=1),
            trigger="schedule",
        )  # …and that agent died: its lease runs out in a second

    result = run_cli("import-history", *pbx_args(simulator, tmp_path, db), info=simulator)

    assert result.returncode == 0, result.stderr
    assert "history: running on desk-3 now; waiting for it to finish" in result.stdout
    with Storage.open_sync(db) as storage:
        runs = storage.call(JobsRepository(storage.db).runs, "history")
    assert [r.state for r in runs] == ["ok", "lost"]


def test_import_robot_runs_the_query_and_reports_mapped_unmapped_and_repeated(
    simulator: SimulatorInfo, tmp_path: Path
) -> None:
    robot_db = tmp_path / "sprobot.db"
    with sqlite3.connect(robot_db) as connection:
        connection.execute("CREATE TABLE robot_results (call_id, phone, dtmf, called_at)")
        at = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
        connection.executemany(
            "INSERT INTO robot_results VALUES (?, ?, ?, ?)",
            [(1, "0671111111", "1", at), (2, "0672222222", "7", at), (3, "0673333333", "2", at)],
        )
    db = f"sqlite:///{tmp_path / 'agent.db'}"
    with Storage.open_sync(db) as storage:
        storage.call(
            storage.settings.save,
            "team",
            {
                "robot_dtmf": {"1": "high", "2": "normal"},
                "robot_query": "SELECT call_id, phone, dtmf, called_at FROM robot_results "
                "WHERE called_at >= :since",
                "time_zone": "UTC",
            },
        )
    args = [
        "import-robot",
        "--robot-url",
        f"sqlite:///{robot_db}",
        *pbx_args(simulator, tmp_path, db),
    ]

    first = run_cli(*args, info=simulator)
    again = run_cli(*args, info=simulator)

    assert first.returncode == 0, first.stderr
    assert "robot: ok: 3 rows, 2 planned events, 1 unmapped, 0 already imported" in first.stdout
    assert again.returncode == 0, again.stderr
    assert "robot: ok: 3 rows, 0 planned events, 1 unmapped, 2 already imported" in again.stdout


@pytest.mark.parametrize("command", ["import-history", "import-robot"])
def test_without_a_domain_the_command_says_it_is_not_configured(
    command: str, simulator: SimulatorInfo, tmp_path: Path
) -> None:
    result = run_cli(command, "--data-dir", str(tmp_path / "empty"), info=simulator)
    assert result.returncode == 3
    assert "not configured" in result.stderr
