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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from agent.core.errors import InvalidInput
from agent.desktop import autostart
from agent.desktop.actions import DesktopActions
from agent.desktop.feed import TrayFeed
from agent.desktop.links import HotkeyListener, parse_hotkey, read_selection
from agent.desktop.popups import DesktopPopups, console_fallback
from agent.desktop.session_lock import LockDnd, LockWatcher
from agent.desktop.tray import Tray
from agent.i18n import resolve_language

log = logging.getLogger(__name__)


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
