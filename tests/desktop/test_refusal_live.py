"""A refused start is shown to the tray user as a popup on the real notification server,
not only on stderr, which a tray user never sees: the licence's refusal (L1, U10:
exit 5), and those before the agent exists — no API key, no keyring (exit 3)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.paths import DataDir
from agent.simulator import SimulatorInfo
from agent.storage.database import Storage
from agent.storage.jobs_repository import Heartbeat, JobsRepository
from tests.desktop.conftest import BASE_OPERATOR, ROOT, save_settings
from tests.desktop.session import DesktopSession
from tests.desktop.test_popups_live import newest

pytestmark = pytest.mark.desktop


def another_operator_holds_the_only_seat(data_dir: DataDir, domain: str) -> None:
    """Without a licence key a database runs as one seat (contracts.md §2): a fresh
    heartbeat of another operator's agent takes it."""
    now = datetime.now(UTC)
    beat = Heartbeat("pc-2/002", domain, "002", "Петро", "pc-2", 4242, "", "online", now, now)
    with Storage.open_sync(data_dir.database_url) as storage:
        storage.call(JobsRepository(storage.db).beat, beat)


def test_a_refused_start_says_why_in_a_popup_and_exits_5(
    desktop: DesktopSession, simulator: SimulatorInfo, tmp_path: Path
) -> None:
    assert desktop.recorder is not None
    data_dir = DataDir(tmp_path / "data").ensure()
    save_settings(data_dir, simulator.domain, "001", BASE_OPERATOR)
    another_operator_holds_the_only_seat(data_dir, simulator.domain)
    mark = desktop.recorder.mark()

    args = [sys.executable, "-m", "agent", "run", "--data-dir", str(data_dir.root)]
    args += ["--base-url", simulator.base_url, "--domain", simulator.domain, "--ext", "001"]
    env = {**desktop.env, "PYTHONPATH": str(ROOT), "PHONET_API_KEY": simulator.api_key}
    done = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)

    assert done.returncode == 5, done.stdout + done.stderr
    assert "the licence refused the start" in done.stderr
    popup = newest(desktop, mark, "Phonet Agent did not start")
    assert popup.app_name == "Phonet Agent"
    assert popup.body.startswith("The licence refused the start:")
    assert "002" in popup.body  # who holds the seat
    desktop.screenshot("popup-start-refused")
    desktop.close_all_popups()


def start_without_a_key(
    desktop: DesktopSession, simulator: SimulatorInfo, data_dir: DataDir, **env: str
) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "agent", "run", "--data-dir", str(data_dir.root)]
    args += ["--base-url", simulator.base_url, "--domain", simulator.domain, "--ext", "001"]
    environ = {**desktop.env, "PYTHONPATH": str(ROOT), **env}
    environ.pop("PHONET_API_KEY", None)
    return subprocess.run(args, env=environ, cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_a_start_with_no_api_key_stored_says_why_in_a_popup_and_exits_3(
    desktop: DesktopSession, simulator: SimulatorInfo, tmp_path: Path
) -> None:
    """The session's keyring works but holds no key for this extension."""
    assert desktop.recorder is not None
    mark = desktop.recorder.mark()

    done = start_without_a_key(desktop, simulator, DataDir(tmp_path / "data"))

    assert done.returncode == 3, done.stdout + done.stderr
    assert "no API key for" in done.stderr
    popup = newest(desktop, mark, "Phonet Agent did not start")
    assert popup.body.startswith(f"No API key for {simulator.domain}/001"), popup.body
    assert "phonet-agent secret set api-key" in popup.body
    desktop.screenshot("popup-start-refused-no-key")
    desktop.close_all_popups()


def test_a_start_with_no_keyring_says_why_in_a_popup_and_exits_3(
    desktop: DesktopSession, simulator: SimulatorInfo, tmp_path: Path
) -> None:
    assert desktop.recorder is not None
    mark = desktop.recorder.mark()

    done = start_without_a_key(
        desktop,
        simulator,
        DataDir(tmp_path / "data"),
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
    )

    assert done.returncode == 3, done.stdout + done.stderr
    popup = newest(desktop, mark, "Phonet Agent did not start")
    assert popup.body.startswith("No OS keyring backend is available"), popup.body
    assert "PHONET_API_KEY" in popup.body
    desktop.close_all_popups()
