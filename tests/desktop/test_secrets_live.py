"""Secrets live only in the OS keyring (issue 3 §3; U1, U2, G1, G6; contracts.md §2):
a real Secret Service (gnome-keyring) on the session's private bus.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.logs import RedactingFormatter
from agent.secrets import SERVICE, SecretName, Secrets, backend_name, backend_problem
from agent.simulator import SimulatorInfo
from tests.desktop.conftest import ROOT, RunningAgent, files_holding
from tests.desktop.session import DesktopSession

pytestmark = pytest.mark.desktop


def cli(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent", *args],
        input=stdin,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def secret_tool(desktop: DesktopSession, user: str) -> str | None:
    done = desktop.run(["secret-tool", "lookup", "service", SERVICE, "username", user])
    return done.stdout if done.returncode == 0 else None


@pytest.fixture
def session_keyring(desktop: DesktopSession, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process's keyring module on the session's Secret Service."""
    import keyring
    from keyring.backends import SecretService

    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", desktop.env["DBUS_SESSION_BUS_ADDRESS"])
    before = keyring.get_keyring()
    keyring.set_keyring(SecretService.Keyring())
    yield
    keyring.set_keyring(before)


def test_a_secret_round_trips_through_the_real_keyring_and_is_nowhere_on_disk(
    desktop: DesktopSession,
    desktop_agent: Callable[..., RunningAgent],
    simulator: SimulatorInfo,
    tmp_path: Path,
) -> None:
    """`secret set api-key` from stdin → the Secret Service; the agent starts from it
    (no PHONET_API_KEY), connects, and the key is in no file and no log line."""
    env = {**os.environ, **desktop.env}
    env.pop("PHONET_API_KEY", None)
    data = tmp_path / "agent-0"  # the data dir desktop_agent() uses next
    configured = cli(
        ["configure", "--domain", simulator.domain, "--ext", "001", "--data-dir", str(data)], env
    )
    assert configured.returncode == 0, configured.stderr
    stored = cli(
        ["secret", "set", "api-key", "--data-dir", str(data)], env, simulator.api_key + "\n"
    )
    assert stored.returncode == 0, stored.stderr
    assert simulator.api_key not in stored.stdout + stored.stderr
    user = f"{simulator.domain}/001"
    try:
        assert secret_tool(desktop, user) == simulator.api_key

        agent = desktop_agent(key_in_env=False)  # reads the key from the keyring
        assert agent.status()["connected"] is True
        assert agent.quit() == 0
        keyrings = Path(desktop.env["XDG_DATA_HOME"]) / "keyrings"
        assert files_holding(simulator.api_key, data, keyrings, agent.output) == []
    finally:
        desktop.run(["secret-tool", "clear", "service", SERVICE, "username", user])


def test_phonet_api_key_is_used_for_that_process_only_and_never_saved(
    desktop: DesktopSession, agent: RunningAgent, simulator: SimulatorInfo
) -> None:
    # The module's agent has PHONET_API_KEY in its environment and nothing in the keyring.
    assert agent.status()["connected"] is True
    assert secret_tool(desktop, f"{simulator.domain}/001") is None


def test_without_a_keyring_backend_the_agent_says_so(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    env.pop("PHONET_API_KEY", None)
    data = str(tmp_path / "data")
    cli(["configure", "--domain", "example.phonet.local", "--ext", "001", "--data-dir", data], env)

    stored = cli(["secret", "set", "api-key", "--data-dir", data], env, "k3y-for-nothing\n")
    assert stored.returncode == 3
    assert "no OS keyring backend is available" in stored.stderr

    run = cli(["run", "--headless", "--data-dir", data], env)
    assert run.returncode == 3
    assert "no OS keyring backend is available" in run.stderr and "PHONET_API_KEY" in run.stderr


def test_secrets_are_masked_in_every_log_line_once_read(session_keyring: None) -> None:
    """The redacting formatter proves it: a secret read from the keyring never reaches
    a log line, in the message or in an exception's text."""
    assert backend_problem() is None, backend_name()
    secrets = Secrets()
    name = SecretName.robot_password("sql.example", "robot")
    secrets.set(name, "Pa55-word-of-the-robot")
    try:
        assert Secrets().get(name) == "Pa55-word-of-the-robot"
        record = logging.LogRecord(
            "agent.test",
            logging.ERROR,
            __file__,
            1,
            "connecting with %s",
            ("Pa55-word-of-the-robot",),
            None,
        )
        line = RedactingFormatter("%(message)s").format(record)
        assert "Pa55-word-of-the-robot" not in line and "***" in line
    finally:
        secrets.delete(name)
    assert Secrets().get(name) is None
