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
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from agent.api import routes_phone
from agent.api.registry import Registry
from agent.api.server import ApiServer, build_app
from agent.api.webui import attach_web_ui
from agent.contacts.wiring import attach_contacts
from agent.core.errors import AgentError, InvalidInput
from agent.core.numbers import DialTarget, InvalidNumber, parse_dial_target
from agent.core.phone import CHECKPOINT_LAG, Phone, PhoneConfig
from agent.core.popups import Popup, console_line
from agent.core.settings import OperatorSettings, TeamSettings, parse_settings
from agent.hub import Hub
from agent.journal import Journal
from agent.license.wiring import attach_license
from agent.paths import DataDir
from agent.phonet.live import LiveStream
from agent.phonet.rest import PhonetRest
from agent.phonet.wire import FrameRejected, parse_live_frame
from agent.runtime import Runtime
from agent.storage.database import Storage
from agent.storage.repositories import operator_scope

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
    # The desktop shell's wiring (run_desktop): awaited in start()'s feature block.
    desktop: Callable[[Agent], Awaitable[None]] | None = None
    # How far PBX history may trail the live stream (B4); tests shorten it.
    history_lag: timedelta = CHECKPOINT_LAG

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
        self._live_task: asyncio.Task[None] | None = None
        self.quit_requested = asyncio.Event()  # POST /api/quit, --quit, session end
        self.stopped = asyncio.Event()
        self.stopped_sync = threading.Event()  # for Windows' session-end thread

    async def start(self) -> None:
        """Build and start everything; on any failure (a licence refusal, an unreachable
        database) what had started is stopped again before the error is raised."""
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
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
                checkpoint_lag=opts.history_lag,
            )
        )
        journal = Journal(
            self.storage, own_ext=opts.ext, completed_talk_s=self.team.completed_talk_s
        )
        self.runtime = runtime = Runtime(
            phone=phone,
            rest=self.rest,
            journal=journal,
            popups=ConsolePopups(opts.banner),
            parse_frame=lambda text: _parse_frame(text, opts.ext),
            # the region as saved now (routes_settings.APPLIES: read at use)
            parse_dial=lambda text: _dial_number(text, self.team.default_region),
            dnd_code=self.operator.dnd_code,
        )
        now = datetime.now(UTC)
        phone.resume(await journal.open_calls(), await journal.load_checkpoint(), now)
        self.live = LiveStream(
            domain=opts.domain,
            api_key=opts.api_key,
            ext=opts.ext,
            ws_base_url=opts.ws_base_url,
            ca_file=opts.ca_file,
            reconnect_s=self.operator.reconnect_s,
            max_delay_s=max(self.operator.reconnect_max_s, self.operator.reconnect_s),
            on_frame=runtime.frame_received,
            on_link=lambda change: runtime.link_changed(
                change.up, change.reason or "", retrying=not change.gave_up
            ),
            check_key=self.rest.authorize,
        )
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
        # Nothing runs yet: the runtime and the PBX link start after the licence's word.
        # web UI (issue 7): settings, health, reports, live channel, i18n, the window
        attach_web_ui(self, registry, services)
        # contacts, events, statistics (issue 4): runtime.lookup, events on answer, /api/contacts
        attach_contacts(self)
        # jobs and team mode (G2, G6, J1, J2, B5): scheduler, presence, /api/jobs
        from agent.jobs.wiring import attach_jobs

        await attach_jobs(self)
        # dialer (issue 5: M6, M7, A1–A6, B3, B10, B11): the participant, /api/dialer, lists
        from agent.dialer.wiring import attach_dialer

        await attach_dialer(self)
        # desktop (issue 3): popups, tray state, hotkey, session lock — before the PBX
        # connects (licence part 2), so no popup of this run goes to the console
        if opts.desktop is not None:
            await opts.desktop(self)
        # licence (L1, U10), after jobs (its presence counts the seats): a seat, else
        # LicenseError (exit 5) before anything reached the PBX
        await attach_license(self)
        # team settings another agent saved on the shared database (B5): applied here too
        from agent.settings_sync import attach_settings_sync

        attach_settings_sync(self)
        # ---- end of feature wiring ----
        self.add_task(runtime.run(), name="runtime")
        if self.operator.auto_connect:  # U3
            self.connect()
        self.api = ApiServer(
            app_factory=lambda token, port: build_app(registry, services, token, port),
            api_file=opts.data_dir.api_file,
        )
        await self.api.start()
        if opts.headless:
            opts.banner(f"web-ui: {self.api.url}/#token={self.api.token}")
        # Once the start has settled (migrations run, modules loaded, the first connect
        # made), the memory it freed goes back to the OS: an agent idles for hours.
        asyncio.get_running_loop().call_later(START_SETTLED_S, give_back_freed_memory)

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

    # ---- Connect / Disconnect (U3, M3): the live link's task, started and stopped cleanly

    def connect(self) -> None:
        """Start the live link, or cut its wait short when it is already trying."""
        if self.live is None:
            return
        if self._live_task is not None and not self._live_task.done():
            self.live.reconnect_now()
            return
        if self.runtime is not None:
            self.runtime.link_connecting()  # contracts.md §4: "connecting" from now on
        # The licence's seat first (U10; agent/license/wiring.py SeatGate), held while it runs.
        gate = getattr(getattr(self, "services", None), "seat_gate", None)
        run = gate(self.live.run) if gate is not None else self.live.run()
        self._live_task = asyncio.create_task(run, name="live")
        self._live_task.add_done_callback(self._live_ended)

    def _live_ended(self, task: asyncio.Task[None]) -> None:
        """The live client returns after reporting that it gave up; a crash reports
        nothing, so say "offline" for it (the tray must not show "connecting" forever)."""
        if task.cancelled() or task.exception() is None or self.runtime is None:
            return
        log.error("the live link stopped on an error", exc_info=task.exception())
        self.runtime.link_changed(False, f"live link error: {type(task.exception()).__name__}")

    async def disconnect(self) -> None:
        """Stop the live link; the runtime marks the link down (B4 reconciles later)."""
        if await self._stop_live() and self.runtime is not None:
            self.runtime.link_changed(False, "disconnected by the operator")

    async def _stop_live(self) -> bool:
        task, self._live_task = self._live_task, None
        if task is None or task.done():
            return False
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return True

    def link_status(self) -> tuple[str, bool, str | None]:
        """(``offline``|``connecting``|``online``, the link is meant to run, why it is down)."""
        running = self._live_task is not None and not self._live_task.done()
        if self.runtime is None:
            return "offline", running, None
        link, reason = self.runtime.link_state()  # what /api/status says, at every moment
        return str(link), running, reason

    def add_task(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """A long-lived task of a feature: cancelled at stop, newest first, before the
        runtime drains and storage closes (so its last writes still land)."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.append(task)
        return task

    async def stop(self) -> None:
        window = getattr(getattr(self, "services", None), "window", None)
        if window is not None:
            with contextlib.suppress(Exception):
                window.close()
        await self._stop_live()
        if self.api is not None:
            await self.api.stop()
        for task in reversed(self._tasks):
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.runtime is not None:
            await self.runtime.drain()
        journal = getattr(getattr(self, "services", None), "journal", None)
        if journal is not None:
            await journal.flush()
        if self.rest is not None:
            await self.rest.aclose()
        await self.storage.close()


START_SETTLED_S = 2.0


def give_back_freed_memory() -> None:
    """glibc keeps what the start-up freed (the migrations' and the first queries'
    objects) in its heap rather than returning it: ``malloc_trim`` returns it (an idle
    agent's RSS ~1 MB lower; BENCHMARKS.md, foundation). Other C libraries: nothing."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (musl): no malloc_trim
        log.debug("malloc_trim is not available")


def _days(n: int) -> timedelta:
    return timedelta(days=n)


def _parse_frame(text: str, own_ext: str) -> list[Any] | str:
    parsed = parse_live_frame(text, own_ext=own_ext)
    if isinstance(parsed, FrameRejected):
        return f"{parsed.reason}: {parsed.excerpt}"
    return list(parsed)


def _dial_number(text: str, region: str) -> str:
    target = parse_dial_target(text, region)
    if isinstance(target, InvalidNumber):
        raise InvalidInput(
            f"not a number to dial: {target.reason}", field="number", message_key=target.code
        )
    assert isinstance(target, DialTarget)
    if target.extension:
        # makeCall takes the operator's extension and one number, nothing to send after
        # the answer (phonet-api.md §2.4; §8: no DTMF-send endpoint): the number alone
        # is dialled. POST /api/dial answers only {"uuid"}, so the log says it (the tray
        # and the CLI tell the operator: popup.extension_ignored).
        log.info("dial: extension %s not dialled: the PBX API cannot send it", target.extension)
    return target.number


async def serve_until_signalled(agent: Agent) -> int:
    """Run until SIGINT/SIGTERM (or Ctrl-C), then stop cleanly: exit 0."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await agent.start()
    hooks = PlatformHooks()
    try:
        hooks = platform_hooks(agent, loop)
        waiters = [
            asyncio.ensure_future(stop.wait()),
            asyncio.ensure_future(agent.quit_requested.wait()),
        ]
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()
    finally:
        await agent.stop()
        agent.stopped.set()
        agent.stopped_sync.set()
        hooks.close()
    return 0


class PlatformHooks:
    """What a running agent holds of the operating system — on Windows the installer's
    AppMutex, the ``--quit`` event and the session-end hook (issue 9) — released by
    :meth:`close` once the agent has stopped. Empty elsewhere."""

    def __init__(self, parts: list[Any] | None = None) -> None:
        self.parts = list(parts or ())

    def close(self) -> None:
        parts, self.parts = self.parts, []
        for part in parts:  # the mutex first: `--quit` waits for it to go
            try:
                (part.close if hasattr(part, "close") else part.release)()
            except Exception:
                log.exception("could not release %s", type(part).__name__)


def platform_hooks(agent: Agent, loop: asyncio.AbstractEventLoop) -> PlatformHooks:
    """The hooks of this platform, for the headless and the tray agent alike."""
    return _windows_hooks(agent, loop) if sys.platform == "win32" else PlatformHooks()


def _windows_hooks(
    agent: Agent, loop: asyncio.AbstractEventLoop, support: Any = None
) -> PlatformHooks:
    """The installer's AppMutex, ``--quit`` and session end (issue 9, agent/winsupport.py;
    ``support`` stands in for that module in tests off Windows).

    Windows may kill the process once the session-end callback returns, so it waits
    (a few seconds at most) for the agent to have stopped cleanly. A part that cannot
    be set up is logged and left out: the calls go on without it.
    """
    if support is None:
        from agent import winsupport as support

    def quit_now(reason: str) -> None:
        log.info("asked to quit (%s)", reason)
        loop.call_soon_threadsafe(agent.quit_requested.set)

    def end_session(reason: str) -> None:
        quit_now(reason)
        agent.stopped_sync.wait(timeout=5.0)

    parts: list[Any] = []
    for name, make in (
        ("the instance mutexes", support.hold_instance_mutexes),
        ("the quit listener", lambda: support.QuitListener(quit_now)),
        ("the session-end hook", lambda: support.SessionEndHook(end_session)),
    ):
        try:
            parts.append(make())
        except Exception:
            log.exception("%s could not be set up", name)
    with contextlib.suppress(OSError):
        support.set_app_user_model_id()
    return PlatformHooks(parts)


@contextlib.contextmanager
def _one_agent(options: AgentOptions) -> Iterator[bool]:
    """One agent per data dir (contracts.md §2): False when another one holds it."""
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
        yield False
        return
    try:
        yield True
    finally:
        lock.release()


def run_headless(options: AgentOptions) -> int:
    """No tray, popups on stdout (contracts.md §2); a second agent says so and leaves."""
    with _one_agent(options) as mine:
        if not mine:
            return 0
        agent = Agent(options)
        try:
            return asyncio.run(serve_until_signalled(agent))
        except KeyboardInterrupt:
            return 0


def run_desktop(options: AgentOptions, *, wait_for_tray_s: float = 2.0) -> int:
    """The tray agent (issue 3): the tray on the main thread, the agent's loop on a
    worker thread, desktop popups, hotkey, session lock. Headless when no tray loads.
    ``wait_for_tray_s``: how long a missing tray host may take to appear (logon)."""
    from agent.desktop.shell import DesktopShell, DesktopUnavailable

    with _one_agent(options) as mine:
        if not mine:
            return 0
        try:
            shell = DesktopShell(wait_for_tray_s=wait_for_tray_s)
        except DesktopUnavailable as exc:
            log.warning("no tray (%s): running headless", exc)
            try:
                return asyncio.run(serve_until_signalled(Agent(replace(options, headless=True))))
            except KeyboardInterrupt:
                return 0
        agent = Agent(replace(options, headless=False, desktop=shell.attach))
        return shell.run(agent, hooks=platform_hooks)


def tell_start_refused(exc: AgentError) -> bool:
    """A start refused before any agent exists (not configured, no keyring, no API key):
    a popup says why, as for a licence's refusal (agent/desktop/shell.py)."""
    from agent.desktop.shell import tell_refusal_now

    return tell_refusal_now(exc)


def show_notice(title: str, body: str) -> bool:
    """One popup from a process that runs no agent (a ``tel:`` click); True if shown."""
    from agent.desktop.popups import notify_once

    try:
        return asyncio.run(notify_once(title, body))
    except Exception:
        log.exception("the notice could not be shown")
        return False


def has_display() -> bool:
    if sys.platform == "win32" or sys.platform == "darwin":
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
