"""Secrets live only in the OS keyring (issue 3 §3; U1, U2, G1, G6; contracts.md §2):
a real Secret Service (gnome-keyring) on the session's private bus.
"""

from __future__ import annotations

import logging
import os
import select
import subprocess
import sys
import time
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


def typed_at_a_terminal(args: list[str], env: dict[str, str], typed: str) -> tuple[int, str]:
    """Run the CLI on a pseudo-terminal of its own, as an operator at a console would:
    wait for the prompt, type the line, and return the exit code and everything the
    terminal showed (an echo included)."""
    import pty

    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "agent", *args],
        stdin=slave, stdout=slave, stderr=slave, env={**env, "PYTHONPATH": str(ROOT)},
        cwd=ROOT, start_new_session=True,  # no controlling terminal: getpass uses stdin's
    )  # fmt: skip
    os.close(slave)
    shown = b""

    def read_until(done: Callable[[bytes], bool]) -> None:
        nonlocal shown
        deadline = time.monotonic() + 30
        while not done(shown) and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # the child closed the terminal
                    return
                if not chunk:
                    return
                shown += chunk

    try:
        read_until(lambda text: b"api-key: " in text)  # echo is off once the prompt shows
        assert b"api-key: " in shown, shown
        os.write(master, typed.encode() + b"\n")
        read_until(lambda _text: process.poll() is not None)
        code = process.wait(30)
        read_until(lambda _text: False)
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
    return code, shown.decode(errors="replace")


def test_secret_set_at_a_terminal_asks_without_showing_what_is_typed(
    desktop: DesktopSession, simulator: SimulatorInfo, tmp_path: Path
) -> None:
    env = {**os.environ, **desktop.env}
    env.pop("PHONET_API_KEY", None)
    data = str(tmp_path / "data")
    args = ["--domain", simulator.domain, "--ext", "001", "--data-dir", data]
    assert cli(["configure", *args], env).returncode == 0
    user = f"{simulator.domain}/001"
    try:
        code, shown = typed_at_a_terminal(["secret", "set", "api-key", *args], env, "Typed-k3y-42")
        assert code == 0, shown
        assert "stored api-key" in shown
        assert "Typed-k3y-42" not in shown  # never echoed
        assert secret_tool(desktop, user) == "Typed-k3y-42"
    finally:
        desktop.run(["secret-tool", "clear", "service", SERVICE, "username", user])


def test_secret_set_refuses_an_empty_secret_with_exit_2(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    done = cli(["secret", "set", "api-key", "--domain", "d", "--ext", "001"], env, "\n")
    assert done.returncode == 2
    assert "no secret given" in done.stderr


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
