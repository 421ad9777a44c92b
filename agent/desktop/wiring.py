"""Wiring the desktop adapters to a started agent, on the agent's loop (issue 3).

:func:`attach_desktop` is the agent's desktop hook (``AgentOptions.desktop``, run in
``Agent.start``'s feature block): the popups replace the console's, the tray's feed
listens to the runtime, and the operator's desktop settings (hotkey, autostart, DND
while locked) are applied — again after every saved change (architecture.md rule 5:
a settings change rebuilds the affected adapter).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, tzinfo
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from agent.core.errors import InvalidInput
from agent.core.hotkeys import parse_hotkey
from agent.desktop import autostart
from agent.desktop.actions import DesktopActions
from agent.desktop.feed import TrayFeed
from agent.desktop.links import HotkeyListener, read_selection
from agent.desktop.popups import DesktopPopups, console_fallback
from agent.desktop.session_lock import LockDnd, LockWatcher
from agent.desktop.tray import Tray
from agent.desktop.view import JobView
from agent.i18n import resolve_language

log = logging.getLogger(__name__)


class ShellAgent(Protocol):
    """What the shell needs of agent/app.py's Agent."""

    quit_requested: asyncio.Event
    stopped: asyncio.Event
    stopped_sync: threading.Event  # Windows' session-end callback waits on it
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


def operator_language(agent: Any) -> Callable[[], str]:
    """The tray's and popups' language now: ``operator.language``, else the OS's (B7).
    Read at each use, so a saved setting applies at once (routes_settings: read when
    used); the settings listener redraws the tray."""
    return lambda: resolve_language(str(getattr(agent.operator, "language", "") or ""))


def team_zone(agent: ShellAgent) -> tzinfo:
    name = getattr(getattr(agent, "team", None), "time_zone", "")
    try:
        return ZoneInfo(name) if name else UTC
    except (ValueError, OSError):
        return UTC


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
    language = operator_language(agent)
    actions = DesktopActions(
        runtime=runtime,
        agent=agent,
        services=services,
        own_ext=own_ext,
        region=lambda: str(agent.team.default_region),
        tz=lambda: team_zone(agent),
        language=language,
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
        language=language,
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
        language=language,
        jobs=lambda: tray_jobs(services),
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
            feed.changed()  # the language (B7) and the figures' threshold: redraw now
            asyncio.get_running_loop().create_task(apply_settings(desktop, agent))

        listeners.append(on_settings)
        desktop.undo.append(lambda: listeners.remove(on_settings))
    return desktop


def tray_jobs(services: Any) -> tuple[JobView, ...]:
    """The tray's "Run now" entries (issue 6): the PBX history import (J1) wherever the
    jobs area is wired, the robot import (J2) once its server and user are set (G6)."""
    service = getattr(services, "jobs", None)
    if service is None:
        return ()
    team = service.team
    names = ["history", *(["robot"] if team.robot_server and team.robot_user else [])]
    views = []
    for name in names:
        try:
            running = bool(service.scheduler.view(name)["running_here"])
        except (KeyError, AttributeError):
            running = False
        views.append(JobView(name, running))
    return tuple(views)


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
    await _apply_autostart(agent)


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


async def _apply_autostart(agent: ShellAgent) -> None:
    """The ``autostart`` setting and the logon entry made to agree (autostart.plan): a
    setting changed in the window is written to the entry; an entry the installer wrote
    (or the user removed) becomes the setting, so the two never disagree."""
    wanted = bool(agent.operator.autostart)
    adopt = await asyncio.to_thread(_sync_autostart, wanted, agent.options.data_dir)
    if adopt is None:
        return
    from agent.storage.repositories import operator_scope

    storage = agent.services.storage
    scope = operator_scope(agent.options.domain, agent.options.ext)
    await storage.run(lambda: storage.settings.save(scope, {"autostart": adopt}))
    agent.operator = replace(agent.operator, autostart=adopt)
    hub = getattr(agent.services, "hub", None)
    if hub is not None:  # an open settings page shows the new value
        hub.publish("settings", {"changed": ["operator.autostart"]})


def _sync_autostart(wanted: bool, data_dir: Any) -> bool | None:
    """Blocking part (the registry, files): the value to save as the setting, if any."""
    root = getattr(data_dir, "root", None)
    try:
        entry = autostart.is_enabled()
        record = Path(root) / autostart.APPLIED_FILE if root is not None else None
        step = autostart.plan(
            wanted, entry, autostart.read_applied(record) if record is not None else None
        )
        if step.write is not None:
            default = _default_data_dir()
            autostart.set_enabled(step.write, data_dir=None if root == default else root)
            log.info("autostart at logon %s", "on" if step.write else "off")
        if step.adopt is not None:
            log.info(
                "autostart at logon is %s outside the agent (the installer, or by hand): "
                "the setting follows it",
                "on" if step.adopt else "off",
            )
        if record is not None:
            autostart.write_applied(record, step.applied)
    except OSError as exc:
        log.warning("autostart could not be changed: %s", exc)
        return None
    return step.adopt


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
