"""The composition root: builds the adapters, hands them to each other, starts the
threads (architecture.md, "Three rings"). The only importer of ``agent.desktop``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from agent.api import routes_phone
from agent.api.registry import Registry
from agent.api.server import ApiServer, build_app
from agent.core.errors import InvalidInput
from agent.core.numbers import DialTarget, InvalidNumber, parse_dial_target
from agent.core.phone import Phone, PhoneConfig
from agent.core.popups import Popup, console_line
from agent.core.settings import OperatorSettings, TeamSettings, parse_settings
from agent.hub import Hub
from agent.journal import Journal
from agent.paths import DataDir
from agent.phonet.live import LiveStream
from agent.phonet.rest import PhonetRest
from agent.phonet.wire import FrameRejected, parse_live_frame
from agent.runtime import Runtime
from agent.storage.database import Storage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AgentOptions:
    data_dir: DataDir
    domain: str
    ext: str
    api_key: str
    db_url: str | None = None
    base_url: str | None = None
    ca_file: str | None = None
    headless: bool = True
    # Settings given on top of the stored ones for this process (tests, the demo).
    team_overrides: dict[str, Any] = field(default_factory=dict)
    operator_overrides: dict[str, Any] = field(default_factory=dict)
    banner: Callable[[str], None] = field(default=lambda line: print(line, flush=True))

    @property
    def ws_base_url(self) -> str | None:
        if not self.base_url:
            return None
        return "ws" + self.base_url.removeprefix("http")


class ConsolePopups:
    """Headless popups: one line each on stdout (contracts.md §2)."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self.write = write

    def show(self, popup: Popup) -> None:
        self.write(console_line(popup))


def popup_json(popup: Popup) -> dict[str, Any]:
    return {
        "call_uuid": popup.call_uuid,
        "kind": str(popup.kind),
        "direction": str(popup.direction),
        "number": popup.number,
        "contact": popup.contact,
        "company": popup.company,
        "talk_s": popup.talk_s,
        "context": list(popup.context),
    }


def operator_scope(domain: str, ext: str) -> str:
    return f"operator:{domain}/{ext}"


class Agent:
    """One running agent: storage, PBX clients, the core's runtime, the local API."""

    def __init__(self, options: AgentOptions) -> None:
        self.options = options
        self.storage = Storage(options.db_url or options.data_dir.database_url)
        self.team = TeamSettings()
        self.operator = OperatorSettings()
        self.rest: PhonetRest | None = None
        self.live: LiveStream | None = None
        self.runtime: Runtime | None = None
        self.api: ApiServer | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self.quit_requested = asyncio.Event()  # POST /api/quit, --quit, session end

    async def start(self) -> None:
        opts = self.options
        await self.storage.start()
        self.team, self.operator = await self._load_settings()
        self.rest = PhonetRest(
            domain=opts.domain, api_key=opts.api_key, base_url=opts.base_url, ca_file=opts.ca_file
        )
        phone = Phone(
            PhoneConfig(
                own_ext=opts.ext,
                completed_talk_s=self.team.completed_talk_s,
                outcome_wait_s=float(self.team.outcome_wait_s),
                max_reconcile=_days(self.team.history_lookback_days),
            )
        )
        journal = Journal(
            self.storage, own_ext=opts.ext, completed_talk_s=self.team.completed_talk_s
        )
        region = self.team.default_region
        self.runtime = runtime = Runtime(
            phone=phone,
            rest=self.rest,
            journal=journal,
            popups=ConsolePopups(opts.banner),
            parse_frame=lambda text: _parse_frame(text, opts.ext),
            parse_dial=lambda text: _dial_number(text, region),
            dnd_code=self.operator.dnd_code,
        )
        now = datetime.now(UTC)
        phone.resume(await journal.open_calls(), await journal.load_checkpoint(), now)
        self._tasks.append(asyncio.create_task(runtime.run(), name="runtime"))
        self.live = LiveStream(
            domain=opts.domain,
            api_key=opts.api_key,
            ext=opts.ext,
            ws_base_url=opts.ws_base_url,
            ca_file=opts.ca_file,
            reconnect_s=self.operator.reconnect_s,
            max_delay_s=max(self.operator.reconnect_max_s, self.operator.reconnect_s),
            on_frame=runtime.frame_received,
            on_link=lambda change: runtime.link_changed(change.up, change.reason or ""),
            check_key=self.rest.authorize,
        )
        if self.operator.auto_connect:
            self._tasks.append(asyncio.create_task(self.live.run(), name="live"))
        self.hub = hub = Hub()
        runtime.state_listeners.append(lambda: hub.publish("status", runtime.status()))
        runtime.popup_listeners.append(lambda popup: hub.publish("popup", popup_json(popup)))
        # Everything the API handlers and the features reach, by name. Each feature
        # area adds its own attributes in its wiring block below.
        self.services = services = SimpleNamespace(
            runtime=runtime, journal=journal, agent=self, hub=hub, storage=self.storage
        )
        self.registry = registry = Registry()
        routes_phone.register(registry)
        # ---- feature wiring: one block per area, each small (keep them apart) ----
        # ---- end of feature wiring ----
        self.api = ApiServer(
            app_factory=lambda token, port: build_app(registry, services, token, port),
            api_file=opts.data_dir.api_file,
        )
        await self.api.start()
        if opts.headless:
            opts.banner(f"web-ui: {self.api.url}/#token={self.api.token}")

    async def _load_settings(self) -> tuple[TeamSettings, OperatorSettings]:
        scope = operator_scope(self.options.domain, self.options.ext)
        team_raw = await self.storage.run(lambda: self.storage.settings.load("team"))
        op_raw = await self.storage.run(lambda: self.storage.settings.load(scope))
        team, team_errors = parse_settings(
            TeamSettings, {**team_raw, **self.options.team_overrides}
        )
        operator, op_errors = parse_settings(
            OperatorSettings, {**op_raw, **self.options.operator_overrides}
        )
        for problem in team_errors + op_errors:
            log.warning("setting %s ignored: %s", problem.field, problem.message)
        return team, operator

    async def stop(self) -> None:
        if self.api is not None:
            await self.api.stop()
        for task in reversed(self._tasks):
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.runtime is not None:
            await self.runtime.drain()
        if self.rest is not None:
            await self.rest.aclose()
        await self.storage.close()


def _days(n: int) -> Any:
    from datetime import timedelta

    return timedelta(days=n)


def _parse_frame(text: str, own_ext: str) -> list[Any] | str:
    parsed = parse_live_frame(text, own_ext=own_ext)
    if isinstance(parsed, FrameRejected):
        return f"{parsed.reason}: {parsed.excerpt}"
    return list(parsed)


def _dial_number(text: str, region: str) -> str:
    target = parse_dial_target(text, region)
    if isinstance(target, InvalidNumber):
        raise InvalidInput(f"not a number to dial: {target.reason}", field="number")
    assert isinstance(target, DialTarget)
    return target.number


async def serve_until_signalled(agent: Agent) -> int:
    """Run until SIGINT/SIGTERM (or Ctrl-C), then stop cleanly: exit 0."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await agent.start()
    try:
        waiters = [
            asyncio.ensure_future(stop.wait()),
            asyncio.ensure_future(agent.quit_requested.wait()),
        ]
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()
    finally:
        await agent.stop()
    return 0


def run_headless(options: AgentOptions) -> int:
    """One agent per data dir (contracts.md §2): a second one says so and leaves."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(options.data_dir.lock_file))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        print(
            f"phonet-agent: an agent already runs for {options.data_dir.root}; "
            "use `phonet-agent dial` or `phonet-agent --quit`",
            file=sys.stderr,
        )
        return 0
    agent = Agent(options)
    try:
        return asyncio.run(serve_until_signalled(agent))
    except KeyboardInterrupt:
        return 0
    finally:
        lock.release()


def has_display() -> bool:
    if sys.platform == "win32" or sys.platform == "darwin":
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
