"""Optional DND while the session is locked (B12, operator setting ``dnd_when_locked``).

:class:`LockDnd` decides (pure): DND goes on at lock unless it already was, and off
at unlock only when the lock turned it on, so a DND the operator chose survives a
coffee break. The watchers report lock changes on the agent's loop:

- Linux: the ``ActiveChanged(b)`` signal of ``org.freedesktop.ScreenSaver`` (KDE,
  XFCE, MATE, Cinnamon…) and ``org.gnome.ScreenSaver`` on the session bus, through
  dbus-fast (already there for desktop-notifier);
- Windows: the input desktop is the secure Winlogon desktop while locked, so
  ``OpenInputDesktop`` + ``SwitchDesktop`` fail; polled every few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

SCREENSAVER_INTERFACES = ("org.freedesktop.ScreenSaver", "org.gnome.ScreenSaver")
POLL_S = 3.0


class LockDnd:
    """What a lock change asks of DND: ``True`` on, ``False`` off, ``None`` nothing."""

    def __init__(self) -> None:
        self.ours = False  # DND is on because of the lock

    def changed(self, locked: bool, dnd_on: bool) -> bool | None:
        if locked:
            if dnd_on:
                self.ours = False
                return None
            self.ours = True
            return True
        ours, self.ours = self.ours, False
        return False if ours and dnd_on else None


OnLock = Callable[[bool], None]  # called on the agent's loop with True at lock, False at unlock


class LockWatcher:
    """Reports session lock changes; ``start`` returns False where none can be seen."""

    def __init__(self, on_change: OnLock) -> None:
        self.on_change = on_change
        self._bus: Any = None
        self._task: asyncio.Task[None] | None = None
        self._locked: bool | None = None

    async def start(self) -> bool:
        if sys.platform == "win32":
            self._task = asyncio.create_task(self._poll_windows(), name="session-lock")
            return True
        try:
            await self._start_dbus()
        except Exception as exc:
            log.info("session lock cannot be watched here: %s", exc)
            return False
        return True

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._bus is not None:
            self._bus.disconnect()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._bus.wait_for_disconnect(), 2)

    def _report(self, locked: bool) -> None:
        if locked == self._locked:
            return
        self._locked = locked
        log.info("session %s", "locked" if locked else "unlocked")
        try:
            self.on_change(locked)
        except Exception:
            log.exception("session lock handler failed")

    async def _start_dbus(self) -> None:
        from dbus_fast import Message, MessageType
        from dbus_fast.aio import MessageBus

        self._bus = bus = await MessageBus().connect()
        for interface in SCREENSAVER_INTERFACES:
            rule = f"type='signal',interface='{interface}',member='ActiveChanged'"
            await bus.call(
                Message(
                    destination="org.freedesktop.DBus",
                    path="/org/freedesktop/DBus",
                    interface="org.freedesktop.DBus",
                    member="AddMatch",
                    signature="s",
                    body=[rule],
                )
            )

        def handler(message: Any) -> None:
            if (
                message.message_type == MessageType.SIGNAL
                and message.member == "ActiveChanged"
                and message.interface in SCREENSAVER_INTERFACES
                and message.signature == "b"
            ):
                self._report(bool(message.body[0]))

        bus.add_message_handler(handler)

    async def _poll_windows(self) -> None:
        while True:
            locked = await asyncio.to_thread(_windows_locked)
            if locked is not None:
                self._report(locked)
            await asyncio.sleep(POLL_S)


def _windows_locked() -> bool | None:
    if sys.platform == "win32":
        import ctypes

        user32 = ctypes.windll.user32
        desktop = user32.OpenInputDesktop(0, False, 0x0100)  # DESKTOP_SWITCHDESKTOP
        if not desktop:
            return True
        try:
            return not user32.SwitchDesktop(desktop)
        finally:
            user32.CloseDesktop(desktop)
    return None
