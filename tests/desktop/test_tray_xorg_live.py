"""The xorg tray backend, pystray's last fallback (issue 3 §1; desktop-testing.md)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from agent.desktop.view import IconState
from tests.desktop.conftest import RunningAgent
from tests.desktop.helpers import wait_icon
from tests.desktop.session import DesktopSession

pytestmark = pytest.mark.desktop


def test_the_xorg_fallback_shows_the_icon_and_docks_again_after_a_host_restart(
    desktop_agent: Callable[..., RunningAgent], desktop: DesktopSession
) -> None:
    """The last fallback: no menu, but the icon and its default action (desktop-testing.md:
    it must dock once only, and again when a new tray host appears)."""
    xorg = desktop_agent(env={"PHONET_TRAY_BACKEND": "xorg"})
    wait_icon(desktop, IconState.ONLINE, "tray-15-xorg")
    assert "tray backend: xorg" in xorg.log()
    desktop.stop_tray_host()
    desktop.restart_tray_host()
    wait_icon(desktop, IconState.ONLINE, "tray-16-xorg-after-host-restart")
