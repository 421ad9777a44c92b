"""``phonet-agent demo``: the simulator and the agent wired to it, with demo data and a
scripted stream of calls, so a newcomer sees popups within seconds (contracts.md §2).

Three parts, each the real thing: the Phonet simulator on its own thread, the agent as
operators run it (the tray and desktop popups where a display exists, console popups
and the web UI's URL where not), and a script on a thread of its own that plays calls
through the simulator's control API and dials through the agent's local API. A fresh
temporary data dir unless ``--data-dir``; never touches the keyring (the simulator's
API key is handed over in memory).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from agent.app import AgentOptions, has_display, run_desktop, run_headless
from agent.local_client import AgentEndpoint, find_running_agent
from agent.logs import setup_logging
from agent.paths import DataDir
from agent.simulator import SimControl, SimulatorInfo, SimulatorOptions, SimulatorThread

log = logging.getLogger(__name__)

OPERATOR = {"ext": "001", "display_name": "Оксана Мельник", "email": "oksana@demo.ua"}
COLLEAGUE = {"ext": "002", "display_name": "Петро Бондар", "email": "petro@demo.ua"}
DND_CODE = "*78"


@dataclass(frozen=True)
class DemoCall:
    """One scripted call of the demo."""

    title: str
    kind: str  # "in" | "out" | "internal"
    number: str
    answer: bool
    ring_s: float
    talk_s: float
    disposition: int | None = None


# Numbers the demo contacts hold (agent/contacts/demo.py); +380931234567 is unknown on
# purpose, to show the region/operator hint (B14).
SCRIPT = (
    DemoCall("incoming, answered", "in", "+380442249895", True, 1.5, 12.0),
    DemoCall("outgoing, answered", "out", "+380501234567", True, 1.5, 11.0),
    DemoCall("incoming, missed", "in", "+380671112233", False, 3.0, 0.0),
    DemoCall("outgoing, busy", "out", "+380931234567", False, 1.0, 0.0, disposition=4),
    DemoCall("internal", "internal", "002", True, 1.0, 4.0),
)


class DemoScript:
    """Plays SCRIPT: incoming and internal calls through the simulator, outgoing ones
    through the agent's own ``/api/dial`` (so they go the operator's way: makeCall)."""

    def __init__(
        self, info: SimulatorInfo, data_dir: DataDir, stop: threading.Event, speed: float = 1.0
    ) -> None:
        self.speed = speed  # >1 plays the script faster (tests); the pauses shrink too
        self.sim = SimControl(info.base_url, info.ca_file)
        self.data_dir = data_dir
        self.stop = stop

    def prepare(self) -> None:
        self.sim.add_user(OPERATOR["ext"], OPERATOR["display_name"], OPERATOR["email"], DND_CODE)
        self.sim.add_user(COLLEAGUE["ext"], COLLEAGUE["display_name"], COLLEAGUE["email"])
        for call in SCRIPT:
            if call.kind == "out":
                self.sim.script(
                    call.number,
                    answer=call.answer,
                    ring_s=call.ring_s / self.speed,
                    talk_s=call.talk_s / self.speed,
                    disposition=call.disposition,
                )

    def agent(self, timeout_s: float = 60.0) -> AgentEndpoint | None:
        deadline = time.monotonic() + timeout_s
        while not self.stop.is_set() and time.monotonic() < deadline:
            endpoint = find_running_agent(self.data_dir)
            if endpoint is not None:
                status = endpoint.request("GET", "/api/status").json()
                if status.get("connected"):
                    return endpoint
            self.stop.wait(0.2)
        return None

    def play_once(self, endpoint: AgentEndpoint) -> None:
        for call in SCRIPT:
            if self.stop.is_set():
                return
            log.info("demo: %s", call.title)
            if call.kind == "out":
                response = endpoint.request("POST", "/api/dial", {"number": call.number})
                if response.status_code != 202:
                    log.warning("demo: dial refused: %s", response.text)
                    continue
                uuid = str(response.json()["uuid"])
            else:
                uuid = self.sim.play_call(
                    call.kind,
                    OPERATOR["ext"],
                    call.number,
                    ring_s=call.ring_s / self.speed,
                    answer=call.answer,
                    talk_s=call.talk_s / self.speed,
                    disposition=call.disposition,
                )
            self._until_ended(uuid)
            self.stop.wait(1.5 / self.speed)  # a breath between calls, to read the popups

    def _until_ended(self, uuid: str, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not self.stop.is_set() and time.monotonic() < deadline:
            if self.sim.call(uuid).get("state") == "ended":
                return
            self.stop.wait(0.2)

    def close(self) -> None:
        self.sim.close()


def _fill_demo_database(data_dir: DataDir, domain: str) -> None:
    from agent.contacts.demo import fill_demo
    from agent.storage import Storage, operator_scope

    async def fill() -> None:
        async with Storage(data_dir.database_url) as storage:
            await fill_demo(storage)
            await storage.run(
                storage.settings.save,
                operator_scope(domain, OPERATOR["ext"]),
                {"dnd_code": DND_CODE},
            )

    asyncio.run(fill())


def _script_thread(
    info: SimulatorInfo,
    data_dir: DataDir,
    stop: threading.Event,
    cycle_s: float,
    once: bool,
    speed: float,
) -> None:
    script = DemoScript(info, data_dir, stop, speed)
    try:
        script.prepare()
        endpoint = script.agent()
        while endpoint is not None and not stop.is_set():
            began = time.monotonic()
            script.play_once(endpoint)
            if once:
                stop.wait(3.0 / speed + 1.0)  # let the journal take the PBX's figures
                print(json_summary(endpoint), flush=True)
                endpoint.request("POST", "/api/quit")
                return
            stop.wait(max(cycle_s - (time.monotonic() - began), 1.0))
    except Exception:
        log.exception("demo script stopped")
    finally:
        script.close()


def json_summary(endpoint: AgentEndpoint) -> str:
    rows = endpoint.request("GET", "/api/journal?limit=50").json()["items"]
    lines = ["journal:"]
    for row in reversed(rows):
        contact = (row.get("contact") or {}).get("name") or ""
        lines.append(
            f"  {row['direction']:<8} {row['number']:<14} {row['outcome']:<11} "
            f"talk={row['talk_s']}s {contact}".rstrip()
        )
    return "\n".join(lines)


def run_demo(
    *, data_dir: str | None, cycle_s: float, once: bool, verbose: bool, speed: float = 1.0
) -> int:
    with contextlib.ExitStack() as stack:
        root = data_dir or stack.enter_context(tempfile.TemporaryDirectory(prefix="phonet-demo-"))
        dirs = DataDir.resolve(Path(root)).ensure()
        setup_logging(dirs.log_file, verbose=verbose)
        print(f"demo data dir: {dirs.root}", flush=True)
        info = stack.enter_context(SimulatorThread(SimulatorOptions(operator_answer_s=0.5 / speed)))
        print(f"simulator: {info.base_url} (domain {info.domain})", flush=True)
        _fill_demo_database(dirs, info.domain)
        stop = threading.Event()
        thread = threading.Thread(
            target=_script_thread, args=(info, dirs, stop, cycle_s, once, speed), daemon=True
        )
        thread.start()
        options = AgentOptions(
            data_dir=dirs,
            domain=info.domain,
            ext=OPERATOR["ext"],
            api_key=info.api_key,
            base_url=info.base_url,
            ca_file=info.ca_file,
            headless=not has_display(),
        )
        try:
            code = run_headless(options) if options.headless else run_desktop(options)
        except KeyboardInterrupt:
            code = 0
        finally:
            stop.set()
            thread.join(timeout=5)
    return code
