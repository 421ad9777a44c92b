"""Optional DND while the session is locked (B12, operator setting dnd_when_locked): the
screen saver's ``ActiveChanged`` signal on the session bus, the U4 combination dialled
through the PBX, and the PBX's pause event as the truth.
"""

from __future__ import annotations

import json

import pytest

from tests.desktop.conftest import RunningAgent
from tests.desktop.session import DesktopSession, wait_for

pytestmark = pytest.mark.desktop
AGENT_SETTINGS = {"dnd_when_locked": True}


def screen_saver(desktop: DesktopSession, active: bool) -> None:
    """What a screen locker says on the session bus when it locks and unlocks."""
    from jeepney import DBusAddress, new_signal
    from jeepney.io.blocking import open_dbus_connection

    emitter = DBusAddress("/org/freedesktop/ScreenSaver", interface="org.freedesktop.ScreenSaver")
    with open_dbus_connection(bus=desktop.env["DBUS_SESSION_BUS_ADDRESS"]) as conn:
        conn.send(new_signal(emitter, "ActiveChanged", "b", (active,)))


def dialled(agent: RunningAgent) -> list[str]:
    return [json.loads(r["body"])["otherLegNum"] for r in agent.requests("/rest/user/makeCall")]


def test_locking_the_session_turns_dnd_on_and_unlocking_turns_it_off(
    agent: RunningAgent, desktop: DesktopSession
) -> None:
    agent.sim.add_user("001", "Operator", "op@example.com", dnd_code="*78")
    screen_saver(desktop, True)
    wait_for(lambda: agent.status()["dnd"]["on"], 15, "DND on after the lock")
    assert dialled(agent) == ["*78"]

    screen_saver(desktop, False)
    wait_for(lambda: not agent.status()["dnd"]["on"], 15, "DND off after the unlock")
    assert dialled(agent) == ["*78", "*78"]


def test_a_dnd_chosen_before_the_lock_survives_the_unlock(
    agent: RunningAgent, desktop: DesktopSession
) -> None:
    agent.sim.add_user("001", "Operator", "op@example.com", dnd_code="*78")
    assert agent.api("POST", "/api/dnd", {"on": True}).status_code == 200
    wait_for(lambda: agent.status()["dnd"]["on"], 15, "DND on")
    screen_saver(desktop, True)
    screen_saver(desktop, False)
    wait_for(lambda: "session unlocked" in agent.log(), 15, "the unlock seen")
    assert agent.status()["dnd"]["on"] is True
    assert dialled(agent) == ["*78"]
    assert agent.api("POST", "/api/dnd", {"on": False}).status_code == 200
    wait_for(lambda: not agent.status()["dnd"]["on"], 15, "DND off again")
