"""Recorded live frames (tests/fixtures/live, made by record_live.py) replayed through the wire.

architecture.md rule 10: the transcripts are the simulator's frames exactly as our
LiveStream received them; the wire must read every one of them.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from agent.core.events import (
    CallAnswered,
    CallDialed,
    CallEvent,
    CallHungUp,
    Direction,
    PauseSwitched,
    PbxEvent,
)
from agent.phonet.wire import parse_live_frame

LIVE = Path(__file__).resolve().parents[1] / "fixtures" / "live"


def replay(name: str, own_ext: str = "001") -> list[PbxEvent]:
    lines = (LIVE / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
    assert lines, name
    events: list[PbxEvent] = []
    for line in lines:
        parsed = parse_live_frame(line, own_ext=own_ext)
        assert isinstance(parsed, list), parsed
        events += parsed
    return events


def calls(events: list[PbxEvent]) -> list[CallEvent]:
    out = [e for e in events if isinstance(e, CallDialed | CallAnswered | CallHungUp)]
    assert len(out) == len(events)
    assert len({e.call.uuid for e in out}) == 1  # one call, one uuid everywhere
    return out


def test_every_transcript_is_read_without_a_rejection() -> None:
    names = sorted(p.stem for p in LIVE.glob("*.jsonl"))
    assert len(names) >= 8
    for name in names:
        replay(name, own_ext=name.rsplit(".", 1)[1] if "." in name else "001")


@pytest.mark.parametrize("name", ["incoming-answered", "incoming-answered-seconds"])
def test_c3_an_answered_incoming_call_rings_is_answered_and_ends(name: str) -> None:
    dial, bridge, hangup = calls(replay(name))
    assert (type(dial), type(bridge), type(hangup)) == (CallDialed, CallAnswered, CallHungUp)
    assert dial.call.direction is Direction.IN and not dial.call.outgoing
    assert dial.call.number == "+380441234567"
    assert dial.at <= bridge.at <= hangup.at
    assert bridge.call.answer_at == bridge.at
    assert hangup.at - dial.at < timedelta(minutes=1)  # ms and s both read as such


def test_the_contact_of_an_incoming_call_comes_with_it() -> None:
    dial = calls(replay("incoming-answered"))[0]
    assert (dial.call.name, dial.call.company) == ("Анна", "ТОВ Рога")


def test_a_busy_outgoing_call_is_dialed_and_hung_up_without_an_answer() -> None:
    dial, hangup = calls(replay("outgoing-busy"))
    assert isinstance(dial, CallDialed) and isinstance(hangup, CallHungUp)
    assert dial.call.direction is Direction.OUT and dial.call.outgoing
    assert hangup.call.answer_at is None


def test_click_to_call_frames_are_an_outgoing_call() -> None:
    events = calls(replay("make-call"))
    assert [type(e) for e in events] == [CallDialed, CallAnswered, CallHungUp]
    assert events[0].call.number == "+380931234567"


def test_an_internal_call_is_outgoing_for_the_caller_and_incoming_for_the_called() -> None:
    caller = calls(replay("internal.001", own_ext="001"))[0].call
    called = calls(replay("internal.002", own_ext="002"))[0].call
    assert (caller.direction, caller.ext, caller.number, caller.outgoing) == (
        Direction.INTERNAL,
        "001",
        "002",
        True,
    )
    assert (called.ext, called.number, called.outgoing) == ("002", "001", False)
    assert caller.uuid == called.uuid


def test_u4_pause_on_then_off() -> None:
    events = replay("pause")
    assert [(type(e), getattr(e, "on", None)) for e in events] == [
        (PauseSwitched, True),
        (PauseSwitched, False),
    ]


def test_duplicated_frames_parse_to_equal_events_for_the_core_to_fold() -> None:
    first, again, hangup, hangup_again = replay("duplicated")
    assert first == again and hangup == hangup_again
