"""The desktop shell: the tray on the main thread, the agent's loop on a worker thread
(architecture.md, "Processes and threads"; issue 3).

:class:`DesktopShell` starts the loop thread, which starts the agent and then
:func:`attach_desktop` (popups, the tray's state feed, the hotkey, the session-lock
watcher, autostart); the main thread runs the tray until the agent stops. Quit, from
the menu, ``POST /api/quit`` or a signal, always goes through the agent: it stops
cleanly (``api.json`` removed, the lock released), then the tray is stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from agent.core.errors import AgentError, InvalidInput
from agent.desktop import autostart
from agent.desktop.actions import DesktopActions
from agent.desktop.feed import TrayFeed
from agent.desktop.links import HotkeyListener, parse_hotkey, read_selection
from agent.desktop.menu import Command
from agent.desktop.popups import DesktopPopups, console_fallback
from agent.desktop.session_lock import LockDnd, LockWatcher
from agent.desktop.tray import Tray, choose_backend, probe_desktop

log = logging.getLogger(__name__)

TRAY_STOP_S = 5.0


class DesktopUnavailable(Exception):
    """No tray can be shown here (no display, no backend): run headless instead."""


class ShellAgent(Protocol):
    """What the shell needs of agent/app.py's Agent."""

    quit_requested: asyncio.Event
    runtime: Any
    services: Any
    team: Any
    operator: Any
    options: Any

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    def connect(self) -> None: ...
    async def disconnect(self) -> None: ...
    def link_status(self) -> tuple[str, bool, str | None]: ...


class DesktopShell:
    """Make it (the tray: may raise :class:`DesktopUnavailable`), then :meth:`run` an
    agent whose options carry :meth:`attach` as their desktop wiring."""

    def __init__(self, *, backend: str | None = None) -> None:
        self.agent: ShellAgent | None = None
        self.desktop: Desktop | None = None
        self.exit_code = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self.actions: DesktopActions | None = None
        self._quit_early = False
        env = dict(os.environ)
        try:
            chosen = backend or choose_backend(sys.platform, env, probe_desktop)
        except ValueError as exc:
            raise DesktopUnavailable(str(exc)) from exc
        if chosen == "dummy":
            raise DesktopUnavailable("no display")
        try:
            self.tray = Tray(chosen, run_command=self._command, tz=self._zone)
        except Exception as exc:  # an import or display error of the GUI toolkit
            raise DesktopUnavailable(f"{chosen} tray: {type(exc).__name__}: {exc}") from exc
        log.info("tray backend: %s", chosen)

    # ---------------------------------------------------------------- main thread

    def _zone(self) -> tzinfo:
        return team_zone(self.agent) if self.agent is not None else UTC

    def run(self, agent: ShellAgent) -> int:
        self.agent = agent
        if sys.platform == "win32":
            _windows_identity()
        thread = threading.Thread(target=self._agent_thread, name="agent-loop")
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self.request_quit())
        thread.start()
        try:
            self.tray.run(on_ready=self._tray_ready)
        finally:
            self.request_quit()
            thread.join()
        log.info("tray stopped")
        return self.exit_code

    def _tray_ready(self) -> None:
        if self.tray.backend in ("gtk", "appindicator"):
            # pystray's GTK loop resets SIGINT to "kill at once"; GLib's own handlers
            # run inside its main loop and lead to a clean stop instead.
            from gi.repository import GLib  # type: ignore[import-untyped]

            for sig in (signal.SIGINT, signal.SIGTERM):
                GLib.unix_signal_add(GLib.PRIORITY_HIGH, sig, self._glib_signal)

    def _glib_signal(self, *_: Any) -> bool:
        self.request_quit()
        return True

    def request_quit(self) -> None:
        """Any thread: ask the agent to stop (the tray follows)."""
        loop, agent = self.loop, self.agent
        if loop is None or loop.is_closed() or agent is None:
            self._quit_early = True
            return
        with contextlib.suppress(RuntimeError):  # the loop just closed
            loop.call_soon_threadsafe(agent.quit_requested.set)

    def _command(self, command: Command) -> None:
        """The tray thread's menu click: handed to the agent's loop."""
        if self.actions is None:
            log.info("tray: %s ignored, the agent is still starting", type(command).__name__)
            return
        self.actions.submit(command)

    # ---------------------------------------------------------------- the agent's thread

    def _agent_thread(self) -> None:
        try:
            self.exit_code = asyncio.run(self._serve())
        except AgentError as exc:
            print(f"phonet-agent: {exc}", file=sys.stderr)
            self.exit_code = exc.exit_code
        except BaseException:
            log.exception("the agent stopped on an error")
            self.exit_code = 1
        finally:
            self.tray.stop()
            threading.Thread(target=self._watchdog, name="tray-watchdog", daemon=True).start()

    def _watchdog(self) -> None:
        """The agent has stopped cleanly; a GUI toolkit that does not let its loop end
        must not keep the process alive (pystray's xorg backend sometimes does)."""
        if self.tray.wait_stopped(TRAY_STOP_S):
            return
        log.error("the tray did not stop within %s s; leaving anyway", TRAY_STOP_S)
        import faulthandler

        faulthandler.dump_traceback(all_threads=True)
        logging.shutdown()
        os._exit(self.exit_code)

    async def attach(self, agent: ShellAgent) -> None:
        """The agent's desktop wiring (AgentOptions.desktop), awaited inside its start."""
        self.desktop = await attach_desktop(agent, self.tray)
        self.actions = self.desktop.actions

    async def _serve(self) -> int:
        self.loop = asyncio.get_running_loop()
        agent = self.agent
        assert agent is not None
        try:
            await agent.start()
            if not self._quit_early:
                await agent.quit_requested.wait()
        finally:
            log.info("stopping")
            self.actions = None
            if self.desktop is not None:
                await self.desktop.close()
            await agent.stop()
            log.info("agent stopped")
        return 0


def team_zone(agent: ShellAgent) -> tzinfo:
    name = getattr(getattr(agent, "team", None), "time_zone", "")
    try:
        return ZoneInfo(name) if name else UTC
    except (ValueError, OSError):
        return UTC


def _windows_identity() -> None:
    from agent import winsupport

    try:
        winsupport.set_app_user_model_id()
    except OSError as exc:
        log.info("AppUserModelID not set: %s", exc)


# ------------------------------------------------------------------ wiring on the loop


@dataclass
class Desktop:
    """The desktop adapters of one running agent; :meth:`close` undoes the wiring."""

    actions: DesktopActions
    popups: DesktopPopups
    feed: TrayFeed
    hotkey: HotkeyListener | None = None
    lock: LockWatcher | None = None
    undo: list[Callable[[], None]] = field(default_factory=list)

    async def close(self) -> None:
        for fn in reversed(self.undo):
            with contextlib.suppress(Exception):
                fn()
        await self.feed.close()
        if self.hotkey is not None:
            await asyncio.to_thread(self.hotkey.stop)
        if self.lock is not None:
            await self.lock.close()
        await self.popups.close()


async def attach_desktop(agent: ShellAgent, tray: Tray) -> Desktop:
    """Wire the desktop adapters to a started agent (on the agent's loop)."""
    runtime, services = agent.runtime, agent.services
    own_ext = agent.options.ext
    actions = DesktopActions(
        runtime=runtime,
        agent=agent,
        services=services,
        own_ext=own_ext,
        region=lambda: str(agent.team.default_region),
        tz=lambda: team_zone(agent),
    )
    fallback = (
        tray.balloon
        if tray.backend == "win32" and tray.has_balloon
        else console_fallback(_stdout_line)
    )
    popups = DesktopPopups(
        actions=actions,
        dnd=lambda: bool(runtime.phone.dnd),
        timeout_s=lambda: int(agent.operator.popup_seconds),
        fallback=fallback,
        console=None if tray.backend == "win32" else _stdout_line,
    )
    await popups.start()
    actions.notices = popups
    console_popups, runtime.popups = runtime.popups, popups
    feed = TrayFeed(
        runtime=runtime,
        journal=services.journal,
        own_ext=own_ext,
        link=agent.link_status,
        has_dialer=lambda: getattr(services, "dialer", None) is not None,
        completed_talk_s=lambda: int(agent.team.completed_talk_s),
        tz=lambda: team_zone(agent),
        show=tray.show,
        missed=lambda since: _unhandled_missed(services, since),
    )
    runtime.state_listeners.append(feed.changed)
    runtime.outcome_listeners.append(feed.journal_changed)
    feed.start()
    desktop = Desktop(actions, popups, feed)
    desktop.undo += [
        lambda: runtime.state_listeners.remove(feed.changed),
        lambda: runtime.outcome_listeners.remove(feed.journal_changed),
        lambda: setattr(runtime, "popups", console_popups),
    ]
    await apply_settings(desktop, agent)
    listeners = getattr(services, "settings_listeners", None)
    if isinstance(listeners, list):

        def on_settings(*_: Any) -> None:
            asyncio.get_running_loop().create_task(apply_settings(desktop, agent))

        listeners.append(on_settings)
        desktop.undo.append(lambda: listeners.remove(on_settings))
    return desktop


async def _unhandled_missed(services: Any, since: Any) -> int | None:
    """Today's unhandled missed calls (B10) from the dialer's service; None without it."""
    missed = getattr(getattr(services, "dialer", None), "missed", None)
    unhandled = getattr(missed, "unhandled", None)
    if unhandled is None:
        return None
    items = await unhandled(from_pbx=False)
    return sum(1 for item in items if item.at >= since)


async def apply_settings(desktop: Desktop, agent: ShellAgent) -> None:
    """The operator settings of the desktop (B1 hotkey and autostart, B12 lock DND),
    applied at start and again after every saved change."""
    operator = agent.operator
    await _apply_hotkey(desktop, str(operator.hotkey))
    await _apply_lock(desktop, agent, bool(operator.dnd_when_locked))
    await asyncio.to_thread(_apply_autostart, bool(operator.autostart), agent.options.data_dir)


async def _apply_hotkey(desktop: Desktop, text: str) -> None:
    current = desktop.hotkey
    if current is not None and str(current.hotkey) == _normal(text):
        return
    if current is not None:
        await asyncio.to_thread(current.stop)
        desktop.hotkey = None
    if not text.strip():
        return
    try:
        hotkey = parse_hotkey(text)
    except InvalidInput as exc:
        log.warning("hotkey not set: %s", exc)
        return
    actions = desktop.actions

    def pressed() -> None:  # on the hotkey's thread: reading the selection may block
        actions.submit_text(read_selection("primary"))

    listener = HotkeyListener(hotkey, pressed)
    if await asyncio.to_thread(listener.start):
        log.info("hotkey %s dials the selected text", hotkey)
        desktop.hotkey = listener
    else:
        log.warning("hotkey %s is not available: %s", hotkey, listener.error)
        await asyncio.to_thread(listener.stop)


def _normal(text: str) -> str:
    try:
        return str(parse_hotkey(text))
    except InvalidInput:
        return text


async def _apply_lock(desktop: Desktop, agent: ShellAgent, wanted: bool) -> None:
    if not wanted:
        if desktop.lock is not None:
            await desktop.lock.close()
            desktop.lock = None
        return
    if desktop.lock is not None:
        return
    decide = LockDnd()
    runtime = agent.runtime

    def changed(locked: bool) -> None:
        change = decide.changed(locked, bool(runtime.phone.dnd))
        if change is not None and runtime.dnd_code:
            log.info("session %s: DND %s", "locked" if locked else "unlocked", change)
            desktop.actions.spawn(runtime.set_dnd(change), "DND while locked")

    watcher = LockWatcher(changed)
    if await watcher.start():
        desktop.lock = watcher


def _apply_autostart(wanted: bool, data_dir: Any) -> None:
    try:
        if autostart.is_enabled() != wanted:
            root = getattr(data_dir, "root", None)
            default = _default_data_dir()
            autostart.set_enabled(wanted, data_dir=None if root == default else root)
            log.info("autostart at logon %s", "on" if wanted else "off")
    except OSError as exc:
        log.warning("autostart could not be changed: %s", exc)


def _default_data_dir() -> Path | None:
    from agent.paths import DataDir

    saved = os.environ.pop("PHONET_AGENT_DATA_DIR", None)
    try:
        return DataDir.resolve(None).root
    finally:
        if saved is not None:
            os.environ["PHONET_AGENT_DATA_DIR"] = saved


def _stdout_line(line: str) -> None:
    stream = sys.stdout
    if stream is None:  # a windowed build has no console
        return
    with contextlib.suppress(OSError, ValueError):
        print(line, file=stream, flush=True)
