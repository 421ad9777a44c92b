"""Call popups on a real notification server (dunst on a private bus) (issue 3 §2;
C3, B6, B12): one popup per call, replaced as the call moves; buttons reach the agent.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

import pytest

from tests.desktop.conftest import RunningAgent
from tests.desktop.session import DesktopSession, Notice, wait_for

pytestmark = pytest.mark.desktop

NUMBER = "+380442249895"


def newest(desktop: DesktopSession, mark: int, summary_start: str) -> Notice:
    """Wait for the popup whose title starts so, received after ``mark``."""
    assert desktop.recorder is not None
    recorder = desktop.recorder

    def found() -> Notice | None:
        for notice in reversed(recorder.since(mark)):
            if notice.summary.startswith(summary_start) and notice.id is not None:
                return notice
        return None

    seen = lambda: [n.summary for n in recorder.since(mark)]  # noqa: E731
    notice: Notice = wait_for(found, 15, f"a popup {summary_start!r} (seen: {seen()})")
    return notice


def ours_open(desktop: DesktopSession, mark: int) -> list[Notice]:
    assert desktop.recorder is not None
    return [n for n in desktop.recorder.since(mark) if n.open and n.app_name == "Phonet Agent"]


def test_each_call_phase_replaces_the_previous_popup(
    agent: RunningAgent, desktop: DesktopSession
) -> None:
    """C3: ring → answer → hang-up with the talk duration, one popup on screen."""
    assert desktop.recorder is not None
    mark = desktop.recorder.mark()
    uuid = agent.sim.play_call("in", "001", NUMBER, ring_s=None)

    ring = newest(desktop, mark, "Incoming call from")
    assert NUMBER in ring.summary and "(incoming)" in ring.body
    assert ring.actions.get("hangup") == "Hang up"
    desktop.screenshot("popup-1-ring")

    agent.sim.answer(uuid)
    talk = newest(desktop, mark, "Talking with")
    wait_for(lambda: not next(n for n in desktop.recorder.snapshot() if n.id == ring.id).open)
    assert set(talk.actions) >= {"hangup", "create_event"}
    desktop.screenshot("popup-2-answer")

    agent.sim.hangup(uuid)
    ended = newest(desktop, mark, "Call ended")
    wait_for(lambda: [n.id for n in ours_open(desktop, mark)] == [ended.id], 10, "one popup")
    assert "hangup" not in ended.actions and "create_event" in ended.actions
    assert desktop.dunst_count() == 1
    desktop.screenshot("popup-3-hangup")


def test_an_outgoing_call_says_calling_then_talking(
    agent: RunningAgent, desktop: DesktopSession
) -> None:
    assert desktop.recorder is not None
    mark = desktop.recorder.mark()
    agent.sim.script(NUMBER, answer=True, ring_s=None, talk_s=None)
    response = agent.api("POST", "/api/dial", {"number": "044 224 98 95"})
    assert response.status_code == 202, response.text
    calling = newest(desktop, mark, "Calling")
    assert NUMBER in calling.body and "(outgoing)" in calling.body
    uuid = response.json()["uuid"]
    # The popup says "Calling" as soon as the agent asks; the simulator refuses
    # to answer (409) until the operator's leg is up and the far end rings.
    wait_for(lambda: agent.sim.call(uuid)["phase"] == "ringing", 15, "the far end to ring")
    agent.sim.answer(uuid)
    newest(desktop, mark, "Talking with")
    agent.sim.hangup(uuid)
    newest(desktop, mark, "Call ended")


def test_the_hang_up_button_ends_the_simulators_call(
    agent: RunningAgent, desktop: DesktopSession
) -> None:
    """B6: a popup action reaches the agent, which hangs up through the PBX."""
    assert desktop.recorder is not None
    mark = desktop.recorder.mark()
    uuid = agent.sim.play_call("in", "001", NUMBER, ring_s=None)
    agent.sim.answer(uuid)
    newest(desktop, mark, "Talking with")

    desktop.pick_action("hangup")
    wait_for(lambda: agent.sim.call(uuid)["state"] == "ended", 15, "the call to end")
    assert any(r["path"].endswith("/hangup") for r in agent.sim.requests())
    ended = newest(desktop, mark, "Call ended")
    wait_for(lambda: [n.id for n in ours_open(desktop, mark)] == [ended.id], 10, "one popup")


def test_a_missed_call_offers_call_back_which_dials_the_number(
    agent: RunningAgent, desktop: DesktopSession
) -> None:
    assert desktop.recorder is not None
    mark = desktop.recorder.mark()
    uuid = agent.sim.play_call("in", "001", NUMBER, ring_s=None)
    newest(desktop, mark, "Incoming call")
    agent.sim.hangup(uuid, disposition=1)
    missed = newest(desktop, mark, "Missed call from")
    assert missed.actions.get("call_back") == "Call back"

    desktop.pick_action("call_back")
    wait_for(lambda: agent.requests("/rest/user/makeCall"), 15, "makeCall")
    assert NUMBER in agent.requests("/rest/user/makeCall")[0]["body"]


def test_clicking_a_popup_opens_that_call_in_the_window(
    agent: RunningAgent, desktop: DesktopSession
) -> None:
    assert desktop.recorder is not None
    mark = desktop.recorder.mark()
    uuid = agent.sim.play_call("in", "001", NUMBER, ring_s=None)
    newest(desktop, mark, "Incoming call")

    desktop.click_popup()
    pid, command = wait_for(lambda: _window_child(agent.process.pid), 15, "the window's process")
    assert f"call:{uuid}" in command
    agent.sim.hangup(uuid)
    # Close the window again, so that it covers nothing in the next tests.
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    wait_for(lambda: _window_child(agent.process.pid) is None, 15, "the window to close")


def _window_child(parent: int) -> tuple[int, str] | None:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        ppid = next(
            (line.split()[1] for line in status.splitlines() if line.startswith("PPid:")), ""
        )
        if ppid == str(parent) and " window " in cmdline:
            return int(entry.name), cmdline
    return None


def test_dnd_silences_ring_popups_but_the_journal_records_the_call(
    agent: RunningAgent, desktop: DesktopSession
) -> None:
    """B12."""
    agent.sim.add_user("001", "Operator", "op@example.com", dnd_code="*78")
    assert agent.api("POST", "/api/dnd", {"on": True}).status_code == 200
    wait_for(lambda: agent.status()["dnd"]["on"], 15, "DND on (the PBX's pause event)")
    assert desktop.recorder is not None
    mark = desktop.recorder.mark()

    uuid = agent.sim.play_call("in", "001", NUMBER, ring_s=0.1, answer=False)
    wait_for(lambda: agent.sim.call(uuid)["state"] == "ended", 15, "the call to end")

    def journalled() -> bool:
        rows = agent.api("GET", "/api/journal").json()["items"]
        return any(row["uuid"] == uuid for row in rows)

    wait_for(journalled, 20, "the call in the journal")
    assert [n for n in desktop.recorder.since(mark) if n.app_name == "Phonet Agent"] == []
    assert agent.api("POST", "/api/dnd", {"on": False}).status_code == 200
    wait_for(lambda: not agent.status()["dnd"]["on"], 15, "DND off again")


def test_the_create_event_button_makes_the_calls_event_and_opens_it(
    agent: RunningAgent, desktop: DesktopSession
) -> None:
    """B6 + U8: the event is stored for the call, and the window opens on it."""
    assert desktop.recorder is not None
    mark = desktop.recorder.mark()
    uuid = agent.sim.play_call("in", "001", NUMBER, ring_s=None)
    agent.sim.answer(uuid)
    newest(desktop, mark, "Talking with")

    desktop.pick_action("create_event")

    def event_id() -> int | None:
        items = agent.api("GET", "/api/events?limit=50").json()["items"]
        return next((int(e["id"]) for e in items if e["call_uuid"] == uuid), None)

    made = wait_for(event_id, 15, "the call's event")
    pid, command = wait_for(lambda: _window_child(agent.process.pid), 15, "the window")
    assert f"event:{made}" in command
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    wait_for(lambda: _window_child(agent.process.pid) is None, 15, "the window to close")
    agent.sim.hangup(uuid)


def test_popups_follow_the_language_setting_as_soon_as_it_is_saved_b7(
    agent: RunningAgent, desktop: DesktopSession
) -> None:
    """B7: the session's locale is C (English); the operator's setting says uk, then ru."""
    assert desktop.recorder is not None
    saved = agent.api("PUT", "/api/settings", {"operator": {"language": "uk"}})
    assert saved.status_code == 200, saved.text
    try:
        mark = desktop.recorder.mark()
        uuid = agent.sim.play_call("in", "001", NUMBER, ring_s=None)
        ring = newest(desktop, mark, "Вхідний дзвінок від")
        assert NUMBER in ring.summary and "(вхідний)" in ring.body
        assert ring.actions.get("hangup") == "Покласти"
        desktop.screenshot("popup-uk-ring")

        saved = agent.api("PUT", "/api/settings", {"operator": {"language": "ru"}})
        assert saved.status_code == 200, saved.text
        agent.sim.hangup(uuid, disposition=1)
        missed = newest(desktop, mark, "Пропущенный звонок от")
        assert missed.actions.get("call_back") == "Перезвонить"
        desktop.screenshot("popup-ru-missed")
    finally:
        agent.api("PUT", "/api/settings", {"operator": {"language": ""}})
