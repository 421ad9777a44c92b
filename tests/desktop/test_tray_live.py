"""The tray icon of a running agent, seen on a real screen with a real tray host
(issue 3 §1, §5, §6; U3, U4, B12, B16). Screenshots are kept in tests/artifacts/desktop.
"""

from __future__ import annotations

import json

import pytest

from agent.desktop.icons import BADGE
from agent.desktop.view import IconState
from tests.desktop.conftest import RunningAgent
from tests.desktop.helpers import colour_share, menu_for, menu_keys, use_menu, wait_icon
from tests.desktop.session import DesktopSession, wait_for

pytestmark = pytest.mark.desktop

NUMBER = "+380442249895"


def make_calls(agent: RunningAgent) -> list[str]:
    return [json.loads(r["body"])["otherLegNum"] for r in agent.requests("/rest/user/makeCall")]


def test_the_icon_appears_and_changes_with_the_calls_state(
    agent: RunningAgent, desktop: DesktopSession
) -> None:
    online = wait_icon(desktop, IconState.ONLINE, "tray-1-online")
    assert "tray backend: gtk" in agent.log()  # trayer is an XEmbed host, no SNI watcher

    uuid = agent.sim.play_call("in", "001", NUMBER, ring_s=None)
    on_call = wait_icon(desktop, IconState.ON_CALL, "tray-2-on-call")
    assert online.read_bytes() != on_call.read_bytes()

    agent.sim.hangup(uuid, disposition=1)  # never answered: a missed call (badge)
    badge = wait_icon(desktop, IconState.ONLINE, "tray-3-online-missed")
    wait_for(
        lambda: (
            colour_share(wait_icon(desktop, IconState.ONLINE, "tray-3-online-missed"), BADGE) > 0.02
        ),
        20,
        "the missed-calls badge",
    )
    assert badge.exists()


def test_disconnect_and_connect_from_the_menu_follow_the_truth(
    agent: RunningAgent, desktop: DesktopSession
) -> None:
    wait_icon(desktop, IconState.ONLINE, "tray-4-before-disconnect")

    use_menu(desktop, menu_keys(menu_for(agent.status()), "Disconnect"), "menu-1-disconnect")
    wait_icon(desktop, IconState.OFFLINE, "tray-5-disconnected")
    wait_for(lambda: not agent.sim.connections(), 10, "the live link closed")
    assert agent.status()["connected"] is False

    offline = menu_for(agent.status(), connect_wanted=False)
    use_menu(desktop, menu_keys(offline, "Connect"), "menu-2-connect")
    wait_icon(desktop, IconState.ONLINE, "tray-6-connected-again")
    assert agent.status()["connected"] is True


def test_dnd_from_the_menu_dials_the_combination_and_the_pause_event_flips_the_icon(
    agent: RunningAgent, desktop: DesktopSession
) -> None:
    """U4, B12: the PBX's pause event (lgDirection 32/64) is the truth, not the click."""
    agent.sim.add_user("001", "Operator", "op@example.com", dnd_code="*78")
    wait_icon(desktop, IconState.ONLINE, "tray-7-before-dnd")

    menu = menu_for(agent.status())
    use_menu(desktop, menu_keys(menu, "Do not disturb", "For 30 minutes"), "menu-3-dnd-30")
    wait_icon(desktop, IconState.DND, "tray-8-dnd")
    assert make_calls(agent) == ["*78"]
    status = agent.status()["dnd"]
    assert status["on"] is True and status["until"] is not None

    use_menu(
        desktop, menu_keys(menu_for(agent.status()), "Do not disturb", "Off"), "menu-4-dnd-off"
    )
    wait_icon(desktop, IconState.ONLINE, "tray-9-dnd-off")
    assert make_calls(agent) == ["*78", "*78"]


def test_the_icon_docks_again_when_the_tray_host_comes_back(
    agent: RunningAgent, desktop: DesktopSession
) -> None:
    wait_icon(desktop, IconState.ONLINE, "tray-10-before-host-restart")
    desktop.stop_tray_host()
    desktop.restart_tray_host()
    wait_icon(desktop, IconState.ONLINE, "tray-11-after-host-restart")


def test_the_icon_shows_connecting_while_the_pbx_refuses_and_online_when_back(
    agent: RunningAgent, desktop: DesktopSession
) -> None:
    """U3: the tray shows the truth at every moment."""
    wait_icon(desktop, IconState.ONLINE, "tray-12-before-drop")
    agent.sim.faults(ws_refuse=100_000)
    agent.sim.drop()
    wait_icon(desktop, IconState.CONNECTING, "tray-13-connecting")
    status = agent.status()
    assert (status["connected"], status["link"]) == (False, "connecting")  # one truth
    agent.sim.reset()  # faults cleared: the next attempt gets through
    wait_icon(desktop, IconState.ONLINE, "tray-14-back-online")
