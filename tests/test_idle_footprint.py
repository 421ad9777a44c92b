"""Issue 2, the idle agent's footprint: a connected headless agent holds only what its
idle features use. Heavy libraries load when a feature is used (an export, an import,
a licence key, a hint, the desktop), so they must not be in ``sys.modules`` of an idle
agent. Nothing here is timed: ``bench/foundation.py`` measures the memory and the start.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from agent.simulator import SimulatorInfo

ROOT = Path(__file__).resolve().parents[1]

# Top-level package (or module) → who may load it, and when.
NOT_AT_IDLE = {
    "openpyxl": "xlsx exports (agent/files/xlsx.py), on the first export",
    "lxml": "openpyxl's fast writer, with it",
    "PIL": "openpyxl's images, and the desktop's tray icons",
    "python_calamine": "workbook imports (agent/files/tables.py), on the first import",
    "cryptography": "licence keys (agent/core/license.py), when a key is judged",
    "keyring": "agent/secrets.py, when a secret is read where a keyring can be",
    "secretstorage": "keyring's Secret Service backend",
    "gi": "keyring's libsecret backend, and the desktop's tray",
    "rich": "httpx's command-line client (agent/__init__.py keeps it out)",
    "pygments": "httpx's command-line client",
    "psycopg2": "PostgreSQL only (agent/pg_driver.py)",
    "pymssql": "the robot import (J2), when it runs",
    "hypothesis": "tests only",
    "schemathesis": "tests only",
    "pytest": "tests only",
}
NOT_AT_IDLE_MODULES = {
    "agent.contacts.hint_table": "B14 hints, on the first hint",
    "agent.desktop": "the tray agent only (run_desktop)",
    "phonenumbers.geocoder": "never: agent/contacts/hint_table.py is its compact copy",
    "phonenumbers.carrier": "never: as above",
}

# `python -m agent`, plus a SIGUSR1 handler that writes sys.modules to $MODULES_FILE
# (the agent's loop wakes for any signal: it set a wakeup fd for SIGINT/SIGTERM).
AGENT_WITH_MODULE_DUMP = (
    "import json, os, runpy, signal, sys\n"
    "def _modules(signum, frame):\n"
    "    path = os.environ['MODULES_FILE']\n"
    "    with open(path + '.tmp', 'w') as f:\n"
    "        json.dump(sorted(sys.modules), f)\n"
    "    os.replace(path + '.tmp', path)\n"
    "signal.signal(signal.SIGUSR1, _modules)\n"
    "runpy.run_module('agent', run_name='__main__', alter_sys=True)\n"
)


def headless_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A headless machine's environment: no display, no session D-Bus, no keyring
    configuration of the user's (an empty config dir)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {
            "DISPLAY",
            "WAYLAND_DISPLAY",
            "DBUS_SESSION_BUS_ADDRESS",
            "XDG_RUNTIME_DIR",
            "PYTHON_KEYRING_BACKEND",
        }
    }
    config = tmp_path / "config"
    config.mkdir(exist_ok=True)
    env["XDG_CONFIG_HOME"] = str(config)
    env.update(extra)
    return env


def wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {condition.__name__}")


@pytest.fixture
def idle_agent_modules(simulator: SimulatorInfo, tmp_path: Path) -> Iterator[list[str]]:
    """``sys.modules`` of a `phonet-agent run --headless` process once it is connected."""
    data = tmp_path / "data"
    modules_file = tmp_path / "modules.json"
    env = headless_env(tmp_path, PHONET_API_KEY=simulator.api_key, MODULES_FILE=str(modules_file))
    log = (tmp_path / "agent.out").open("w")
    agent = subprocess.Popen(
        [sys.executable, "-c", AGENT_WITH_MODULE_DUMP, "run", "--headless",
         "--data-dir", str(data), "--base-url", simulator.base_url,
         "--domain", simulator.domain, "--ext", "001"],
        stdout=log, stderr=subprocess.STDOUT, text=True, cwd=ROOT, env=env,
    )  # fmt: skip

    def connected() -> bool:
        try:
            api = json.loads((data / "api.json").read_text())
            status = httpx.get(
                api["url"] + "/api/status", headers={"Authorization": f"Bearer {api['token']}"}
            ).json()
            return bool(status["connected"])
        except (OSError, ValueError, KeyError, httpx.HTTPError):
            return False

    try:
        wait_for(connected)
        agent.send_signal(signal.SIGUSR1)
        wait_for(modules_file.exists, timeout=30.0)
        yield json.loads(modules_file.read_text())
    finally:
        agent.kill()
        agent.wait()
        log.close()


def test_a_connected_headless_agent_has_not_loaded_what_only_unused_features_need(
    idle_agent_modules: list[str],
) -> None:
    loaded = set(idle_agent_modules)
    tops = {name.split(".")[0] for name in loaded}
    wrong = {name: why for name, why in NOT_AT_IDLE.items() if name in tops}
    wrong |= {
        name: why
        for name, why in NOT_AT_IDLE_MODULES.items()
        if any(m == name or m.startswith(name + ".") for m in loaded)
    }
    assert not wrong, f"loaded by the idle agent, but only for: {wrong}"


def test_the_idle_agent_is_the_agent_itself_not_a_stand_in(
    idle_agent_modules: list[str],
) -> None:
    # The check above means something only if the process ran the real start path.
    assert {"agent.app", "agent.runtime", "agent.phonet.live", "uvicorn"} <= set(idle_agent_modules)


def _secrets_probe(env: dict[str, str]) -> tuple[str | None, bool]:
    code = (
        "import json, sys\n"
        "from agent.secrets import backend_problem\n"
        "problem = backend_problem()\n"
        "print(json.dumps([problem, 'keyring' in sys.modules]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True, text=True, check=True, cwd=ROOT, env=env, timeout=120,
    )  # fmt: skip
    problem, imported = json.loads(done.stdout)
    return problem, imported


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the D-Bus rule is Linux's")
def test_without_a_session_bus_there_is_no_os_keyring_and_keyring_is_not_imported(
    tmp_path: Path,
) -> None:
    problem, imported = _secrets_probe(headless_env(tmp_path))
    assert problem is not None and "no OS keyring backend is available" in problem
    assert "D-Bus" in problem
    assert not imported


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the D-Bus rule is Linux's")
@pytest.mark.parametrize(
    "setting", ["session bus address", "keyring backend variable", "keyring config file"]
)
def test_where_a_keyring_may_be_reached_or_is_chosen_keyring_itself_decides(
    tmp_path: Path, setting: str
) -> None:
    env = headless_env(tmp_path)
    if setting == "session bus address":
        env["DBUS_SESSION_BUS_ADDRESS"] = f"unix:path={tmp_path / 'no-bus-here'}"
    elif setting == "keyring backend variable":
        env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    else:
        config = Path(env["XDG_CONFIG_HOME"], "python_keyring")
        config.mkdir(parents=True)
        (config / "keyringrc.cfg").write_text(
            "[backend]\ndefault-keyring=keyring.backends.fail.Keyring\n"
        )
    problem, imported = _secrets_probe(env)
    assert imported
    assert problem is not None and "keyring.backends.fail" in problem


def test_the_xlsx_writers_cell_rules_are_still_openpyxls() -> None:
    # agent/files/xlsx.py keeps copies so its per-cell code needs no openpyxl import.
    from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE

    from agent.files import xlsx

    assert tuple(ERROR_CODES) == xlsx.ERROR_CODES
    assert ILLEGAL_CHARACTERS_RE.pattern == xlsx.ILLEGAL_CHARACTERS_RE.pattern
    sample = "".join(map(chr, range(0x40)))
    assert re.sub(ILLEGAL_CHARACTERS_RE, "", sample) == xlsx.ILLEGAL_CHARACTERS_RE.sub("", sample)


def test_the_memory_the_start_freed_is_given_back_where_the_c_library_can() -> None:
    """glibc's malloc_trim returns freed heap pages to the OS (the idle RSS, issue 2);
    elsewhere, or without glibc, giving back is a no-op, never an error."""
    import resource

    from agent.app import give_back_freed_memory

    garbage = [bytes(1000) for _ in range(20_000)]  # ~20 MB, freed below
    del garbage
    give_back_freed_memory()
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss > 0  # still alive and well
