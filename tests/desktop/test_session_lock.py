"""DND while the session is locked (agent/desktop/session_lock.py; B12)."""

from __future__ import annotations

import asyncio

import pytest

from agent.desktop.session_lock import LockDnd, LockWatcher
from tests.desktop.session import DesktopSession
from tests.desktop.test_session_lock_live import screen_saver


def test_the_lock_turns_dnd_on_and_the_unlock_turns_off_only_its_own() -> None:
    decide = LockDnd()
    assert decide.changed(locked=True, dnd_on=False) is True
    assert decide.changed(locked=False, dnd_on=True) is False
    # DND chosen before the lock survives the unlock.
    assert decide.changed(locked=True, dnd_on=True) is None
    assert decide.changed(locked=False, dnd_on=True) is None
    # The operator turned it off meanwhile: nothing to undo.
    assert decide.changed(locked=True, dnd_on=False) is True
    assert decide.changed(locked=False, dnd_on=False) is None


@pytest.mark.desktop
async def test_the_watcher_hears_the_screen_saver_on_the_session_bus(
    desktop: DesktopSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", desktop.env["DBUS_SESSION_BUS_ADDRESS"])
    heard: list[bool] = []
    watcher = LockWatcher(heard.append)
    assert await watcher.start()
    try:
        for active in (True, True, False):  # a repeat is no change
            await asyncio.to_thread(screen_saver, desktop, active)
        async with asyncio.timeout(10):
            while heard != [True, False]:
                await asyncio.sleep(0.02)
    finally:
        await watcher.close()
