"""The dialer as a pure state machine (manual §6; A1–A6, B2, B3, B17; issue 5 item 1):
fed events and ``now``, it returns effects. No I/O, no real clock."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import cast

import pytest

from agent.core.diagrams import mermaid
from agent.core.dial_list import EntryState
from agent.core.dialer import (
    CALL_TRANSITIONS,
    TRANSITIONS,
    CallPhase,
    CallTrigger,
    Dialer,
    DialerState,
    Trigger,
    UnknownTransition,
)
from agent.core.dialer_io import (
    AttemptAlive,
    AttemptRecovered,
    AttemptResolved,
    AttemptUnknown,
    AttemptVanished,
    CallPlaced,
    CheckEvent,
    EntryPicked,
    EventChecked,
    EventClosed,
    HangUp,
    LineGone,
    LineUp,
    ListChanged,
    ListFinished,
    NothingDue,
    OperatorPaused,
    OperatorResumed,
    OperatorSkipped,
    OperatorStarted,
    OperatorStopped,
    OutcomeLearned,
    PickEntry,
    PlaceCall,
    PlaceFailed,
    PlaceRefused,
    RecordOutcome,
    ResolveAttempt,
    RunState,
    SaveRun,
    UndoAttempt,
)
from agent.core.outcomes import Outcome
from tests.dialer.core_support import T0, Drive, config, entry, kinds

UUID = "a" * 32
Table = Mapping[tuple[StrEnum, StrEnum], tuple[StrEnum, StrEnum]]
DOC = Path(__file__).resolve().parents[2] / "docs" / "auto-dial.md"


def records(effects: Sequence[object]) -> list[RecordOutcome]:
    return [e for e in effects if isinstance(e, RecordOutcome)]


# ------------------------------------------------------------------ the tables


def test_every_state_takes_every_trigger_so_races_never_crash_the_dialer() -> None:
    assert {(s, t) for s in DialerState for t in Trigger} == set(TRANSITIONS)


def test_pause_reaches_paused_and_stop_reaches_idle_from_every_running_state_a2_a3() -> None:
    for state in DialerState:
        if state is not DialerState.IDLE:
            assert TRANSITIONS[state, Trigger.PAUSE][0] is DialerState.PAUSED
        assert TRANSITIONS[state, Trigger.STOP][0] is DialerState.IDLE


def test_a_call_phase_that_cannot_take_a_trigger_raises() -> None:
    drive = Drive.make()
    drive.start_and_place(entry())
    assert drive.dialer.call is not None
    drive.dialer.call.phase = CallPhase.DONE
    with pytest.raises(UnknownTransition):
        drive.feed(LineGone(UUID))
    assert (CallPhase.DONE, CallTrigger.HUNG_UP) not in CALL_TRANSITIONS


def test_the_diagrams_in_the_user_doc_match_the_tables() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert mermaid("dialer (M6, A1–A6)", cast(Table, TRANSITIONS)) in text
    assert mermaid("the dialer's call (B2, item 8)", cast(Table, CALL_TRANSITIONS)) in text


# ------------------------------------------------------------------ one call, start to end


def test_an_answered_call_runs_through_calling_in_call_and_the_pause_a1() -> None:
    drive = Drive.make(pause=timedelta(seconds=10))
    drive.start_and_place(entry())
    assert drive.state == "calling"
    drive.feed(LineUp(UUID, talking=False))
    drive.feed(LineUp(UUID, talking=True))
    assert drive.state == "in_call"
    drive.tick(30)
    drive.feed(LineGone(UUID))
    assert drive.state == "between_calls"
    effects = drive.feed(OutcomeLearned(UUID, Outcome.ANSWERED, talk_s=30))
    (record,) = records(effects)
    assert record.decision.state is EntryState.DONE and record.decision.whole_contact
    assert not any(isinstance(e, PickEntry) for e in effects), "the U5 pause comes first"
    assert kinds(drive.tick(9.9)) == []
    assert any(isinstance(e, PickEntry) for e in drive.tick(0.2))


def test_the_next_call_waits_for_the_outcome_even_when_the_pause_is_over_b2() -> None:
    drive = Drive.make(pause=timedelta(seconds=1))
    drive.start_and_place(entry())
    drive.feed(LineUp(UUID, talking=False))
    drive.feed(LineGone(UUID))
    assert not any(isinstance(e, PickEntry) for e in drive.tick(5))
    assert drive.dialer.view()["waiting_for"] == "outcome"
    effects = drive.feed(OutcomeLearned(UUID, Outcome.BUSY, talk_s=0))
    assert kinds(effects)[:1] == ["RecordOutcome"] and "PickEntry" in kinds(effects)


def test_no_answer_postpones_by_the_rule_from_the_last_try_u6() -> None:
    drive = Drive.make()
    drive.start_and_place(entry())
    tried_at = drive.now
    drive.feed(LineUp(UUID, talking=False))
    drive.tick(20)
    drive.feed(LineGone(UUID))
    (record,) = records(drive.feed(OutcomeLearned(UUID, Outcome.NO_ANSWER, 0)))
    assert record.decision.state is EntryState.POSTPONED
    assert record.decision.next_dial_at == tried_at + timedelta(minutes=30)
    assert record.decision.tries.no_answer == 1


def test_an_outcome_that_outruns_makecalls_answer_is_kept_for_the_call() -> None:
    drive = Drive.make()
    drive.feed(OperatorStarted(7))
    drive.feed(EntryPicked(entry()))
    assert not drive.feed(OutcomeLearned(UUID, Outcome.BUSY, 0))
    effects = drive.feed(CallPlaced(11, UUID, drive.now))
    assert [r.outcome for r in records(effects)] == [Outcome.BUSY]


def test_outcomes_of_other_calls_are_not_the_dialers() -> None:
    drive = Drive.make()
    drive.start_and_place(entry())
    assert drive.feed(OutcomeLearned("b" * 32, Outcome.ANSWERED, 40)) == []
    assert drive.state == "calling"


# ------------------------------------------------------------------ pause, resume, stop


def test_pause_mid_talk_lets_the_call_finish_and_holds_the_next_until_the_deadline_a2() -> None:
    drive = Drive.make(pause=timedelta(seconds=5))
    drive.start_and_place(entry())
    drive.feed(LineUp(UUID, talking=True))
    until = drive.now + timedelta(minutes=5)
    effects = drive.feed(OperatorPaused(until))
    assert drive.state == "paused" and HangUp(UUID) not in effects
    assert SaveRun(RunState(True, 7, until, paused=True)) in effects
    drive.feed(LineGone(UUID))
    assert records(drive.feed(OutcomeLearned(UUID, Outcome.ANSWERED, 60))), "still written"
    assert drive.state == "paused"
    assert drive.dialer.view()["paused_until"] == until.isoformat()
    assert not any(isinstance(e, PickEntry) for e in drive.tick(299))
    effects = drive.tick(2)
    assert drive.state == "between_calls" and any(isinstance(e, PickEntry) for e in effects)


def test_resume_early_calls_on_at_once() -> None:
    drive = Drive.make()
    drive.feed(OperatorStarted(7))
    drive.feed(NothingDue(T0 + timedelta(minutes=1), outside_hours=False))
    drive.feed(OperatorPaused(drive.now + timedelta(minutes=10)))
    drive.tick(60)
    effects = drive.feed(OperatorResumed())
    assert drive.state == "between_calls" and any(isinstance(e, PickEntry) for e in effects)


def test_resume_while_the_paused_call_still_talks_shows_in_call() -> None:
    drive = Drive.make()
    drive.start_and_place(entry())
    drive.feed(LineUp(UUID, talking=True))
    drive.feed(OperatorPaused(None))
    drive.feed(OperatorResumed())
    assert drive.state == "in_call"


def test_stop_while_paused_goes_idle_and_stays_idle_a3() -> None:
    drive = Drive.make()
    drive.feed(OperatorStarted(7))
    drive.feed(OperatorPaused(drive.now + timedelta(minutes=5)))
    effects = drive.feed(OperatorStopped())
    assert drive.state == "idle" and SaveRun(RunState(False, 7, None)) in effects
    assert drive.tick(3600) == []


def test_stop_mid_call_keeps_following_the_call_so_its_attempt_is_written_item_8() -> None:
    drive = Drive.make()
    drive.start_and_place(entry())
    drive.feed(OperatorStopped())
    drive.feed(LineUp(UUID, talking=False))
    drive.feed(LineGone(UUID))
    assert records(drive.feed(OutcomeLearned(UUID, Outcome.NO_ANSWER, 0)))
    assert drive.state == "idle" and drive.dialer.call is None


def test_a_pick_that_comes_back_after_a_pause_is_dropped_and_made_again_on_resume() -> None:
    drive = Drive.make()
    drive.feed(OperatorStarted(7))
    drive.feed(OperatorPaused(None))
    assert drive.feed(EntryPicked(entry())) == []
    assert any(isinstance(e, PickEntry) for e in drive.feed(OperatorResumed()))


# ------------------------------------------------------------------ A5


def test_with_event_creation_the_next_call_waits_for_the_event_to_close_a5() -> None:
    drive = Drive.make(event_gating=True, pause=timedelta(seconds=2))
    drive.start_and_place(entry())
    drive.feed(LineUp(UUID, talking=True))
    effects = drive.feed(LineGone(UUID))
    assert CheckEvent(UUID) in effects and drive.state == "waiting_event"
    drive.feed(OutcomeLearned(UUID, Outcome.ANSWERED, 40))
    drive.feed(EventChecked(UUID, open=True))
    assert not any(isinstance(e, PickEntry) for e in drive.tick(600))
    drive.feed(EventClosed(UUID))
    assert drive.state == "between_calls"
    assert any(isinstance(e, PickEntry) for e in drive.tick(2.1)), "after the U5 pause"


def test_an_unanswered_call_has_no_event_to_wait_for() -> None:
    drive = Drive.make(event_gating=True)
    drive.start_and_place(entry())
    drive.feed(LineUp(UUID, talking=False))
    assert CheckEvent(UUID) not in drive.feed(LineGone(UUID))
    assert drive.state == "between_calls"


def test_no_open_event_lets_the_dialer_go_on() -> None:
    drive = Drive.make(event_gating=True)
    drive.start_and_place(entry())
    drive.feed(LineUp(UUID, talking=True))
    drive.feed(LineGone(UUID))
    drive.feed(EventChecked(UUID, open=False))
    assert drive.state == "between_calls"


# ------------------------------------------------------------------ B3, finishing


def test_due_entries_outside_their_window_put_the_dialer_outside_hours_until_it_opens_b3() -> None:
    drive = Drive.make()
    drive.feed(OperatorStarted(7))
    opens = drive.now + timedelta(hours=3)
    drive.feed(NothingDue(opens, outside_hours=True))
    assert drive.state == "outside_hours"
    assert drive.tick(3 * 3600 - 1) == []
    assert any(isinstance(e, PickEntry) for e in drive.tick(2))
    drive.feed(EntryPicked(entry()))
    assert drive.state == "calling"


def test_a_list_with_nothing_left_finishes_and_says_so() -> None:
    drive = Drive.make()
    drive.feed(OperatorStarted(7))
    effects = drive.feed(ListFinished())
    assert drive.state == "idle" and drive.dialer.view()["finished"]
    assert SaveRun(RunState(False, 7, None)) in effects


def test_a_list_change_while_waiting_picks_again_at_once() -> None:
    drive = Drive.make()
    drive.feed(OperatorStarted(7))
    drive.feed(NothingDue(drive.now + timedelta(hours=1), outside_hours=False))
    assert any(isinstance(e, PickEntry) for e in drive.feed(ListChanged(7)))


def test_a_list_change_never_cuts_the_pause_between_calls_short_u5_a1() -> None:
    drive = Drive.make(pause=timedelta(seconds=10))
    drive.start_and_place(entry())
    drive.feed(LineUp(UUID, talking=False))
    drive.feed(LineGone(UUID))
    drive.feed(OutcomeLearned(UUID, Outcome.NO_ANSWER, 0))
    rest_ends = drive.now + timedelta(seconds=10)
    drive.tick(1)
    assert not any(isinstance(e, PickEntry) for e in drive.feed(ListChanged(7)))
    assert drive.dialer.next_wakeup() == rest_ends, "an added entry waits for the pause too"
    assert not any(isinstance(e, PickEntry) for e in drive.tick(8.9))
    assert any(isinstance(e, PickEntry) for e in drive.tick(0.2))


def test_a_list_change_during_a_pick_makes_its_answer_stale() -> None:
    drive = Drive.make()
    drive.feed(OperatorStarted(7))
    drive.feed(ListChanged(7))
    effects = drive.feed(EntryPicked(entry()))
    assert [type(e) for e in effects if not isinstance(e, PlaceCall)][:1] == [PickEntry]
    assert not any(isinstance(e, PlaceCall) for e in effects)


# ------------------------------------------------------------------ failures and recovery


def test_a_makecall_never_sent_is_tried_again_after_a_while() -> None:
    drive = Drive.make()
    drive.feed(OperatorStarted(7))
    drive.feed(EntryPicked(entry()))
    drive.feed(PlaceFailed(None, drive.now, timedelta(seconds=5), "offline"))
    assert drive.state == "between_calls" and drive.dialer.call is None
    assert any(isinstance(e, PickEntry) for e in drive.tick(5.1))


def test_a_makecall_the_pbx_refuses_counts_a_failed_try_and_the_list_moves_on_a6() -> None:
    drive = Drive.make(pause=timedelta(seconds=1))
    drive.feed(OperatorStarted(7))
    drive.feed(EntryPicked(entry()))
    tried_at = drive.now
    effects = drive.feed(PlaceRefused(11, tried_at, "HTTP 400"))
    (record,) = records(effects)
    assert (record.attempt_id, record.uuid, record.outcome) == (11, None, Outcome.FAILED)
    assert record.decision.state is EntryState.POSTPONED and record.decision.tries.failed == 1
    assert record.decision.next_dial_at == tried_at + timedelta(minutes=15), "the failed rule"
    assert not any(isinstance(e, ResolveAttempt | UndoAttempt) for e in effects)
    assert drive.state == "between_calls" and drive.dialer.call is None
    assert any(isinstance(e, PickEntry) for e in drive.tick(1.1)), "the next entry, after U5"


def test_a_makecall_with_no_answer_is_looked_up_before_anything_else_item_8() -> None:
    drive = Drive.make()
    drive.feed(OperatorStarted(7))
    drive.feed(EntryPicked(entry()))
    placed_at = drive.now
    effects = drive.feed(PlaceFailed(11, drive.now, timedelta(seconds=5), "timeout"))
    assert [e for e in effects if isinstance(e, ResolveAttempt)] == [
        ResolveAttempt(11, None, "+380501234567", drive.now)
    ]
    assert not any(isinstance(e, PickEntry) for e in drive.tick(60))
    effects = drive.feed(AttemptVanished(11))
    assert UndoAttempt(11, entry(), placed_at) in effects
    assert any(isinstance(e, PickEntry) for e in effects)


def test_a_recovered_attempt_still_up_is_followed_and_its_outcome_written() -> None:
    drive = Drive.make()
    drive.dialer.restore(RunState(True, 7, None), drive.now)
    effects = drive.feed(AttemptRecovered(11, entry(), None, drive.now - timedelta(seconds=20)))
    assert any(isinstance(e, ResolveAttempt) for e in effects)
    drive.feed(AttemptAlive(11, UUID, talking=True))
    assert drive.state == "in_call"
    drive.feed(LineUp(UUID, talking=True))
    drive.feed(LineGone(UUID))
    (record,) = records(drive.feed(OutcomeLearned(UUID, Outcome.ANSWERED, 44)))
    assert record.attempt_id == 11


def test_an_unknown_attempt_is_asked_about_again_later() -> None:
    drive = Drive.make()
    drive.feed(AttemptRecovered(11, entry(), UUID, drive.now))
    drive.feed(AttemptUnknown(11, drive.now + timedelta(seconds=5)))
    assert any(isinstance(e, ResolveAttempt) for e in drive.tick(5.1))
    (record,) = records(drive.feed(AttemptResolved(11, UUID, Outcome.BUSY, 0)))
    assert record.decision.state is EntryState.POSTPONED


def test_a_call_the_live_stream_never_shows_is_looked_up_in_the_pbx() -> None:
    drive = Drive.make()
    drive.start_and_place(entry())
    assert any(isinstance(e, ResolveAttempt) for e in drive.tick(31))


def test_a_restart_resumes_a_paused_run_with_its_deadline() -> None:
    dialer = Dialer(config())
    dialer.restore(RunState(True, 7, T0 + timedelta(minutes=3)), T0)
    assert dialer.state is DialerState.PAUSED and dialer.next_wakeup() == T0 + timedelta(minutes=3)


def test_a_pause_without_a_deadline_is_saved_and_kept_by_a_restart_until_resumed_a2() -> None:
    drive = Drive.make()
    drive.feed(OperatorStarted(7))
    saved = [e.run for e in drive.feed(OperatorPaused(None)) if isinstance(e, SaveRun)]
    assert saved == [RunState(True, 7, None, paused=True)]
    restarted = Dialer(config())
    restarted.restore(saved[0], T0 + timedelta(days=1))
    assert restarted.state is DialerState.PAUSED and restarted.next_wakeup() is None
    assert restarted.view()["paused_until"] is None
    effects = restarted.feed(OperatorResumed(), T0 + timedelta(days=1))
    assert any(isinstance(e, PickEntry) for e in effects)


def test_after_a_restart_the_last_calls_open_event_still_holds_the_next_call_a5() -> None:
    drive = Drive(Dialer(config(event_gating=True, pause=timedelta(seconds=2))))
    effects = drive.dialer.restore(RunState(True, 7, None), drive.now, gate=UUID)
    assert drive.state == "waiting_event" and CheckEvent(UUID) in effects
    drive.feed(EventChecked(UUID, open=True))
    assert not any(isinstance(e, PickEntry) for e in drive.tick(3600))
    drive.feed(EventClosed(UUID))
    assert drive.state == "between_calls"
    assert any(isinstance(e, PickEntry) for e in drive.tick(2.1)), "after the U5 pause"


def test_without_event_creation_a_restart_has_no_event_to_wait_for() -> None:
    dialer = Dialer(config(event_gating=False))
    assert CheckEvent(UUID) not in dialer.restore(RunState(True, 7, None), T0, gate=UUID)
    assert dialer.state is DialerState.BETWEEN_CALLS and dialer.gate is None


# ------------------------------------------------------------------ U5 ring timeout, skip


def test_the_busy_timeout_hangs_up_an_unanswered_call_u5() -> None:
    drive = Drive.make(ring_timeout=timedelta(seconds=25))
    drive.start_and_place(entry())
    drive.feed(LineUp(UUID, talking=False))
    assert drive.tick(24) == []
    assert HangUp(UUID) in drive.tick(2)
    assert HangUp(UUID) not in drive.tick(60), "once"


def test_skipping_a_ringing_call_hangs_it_up_but_a_talk_is_not_cut() -> None:
    drive = Drive.make()
    drive.start_and_place(entry())
    assert drive.feed(OperatorSkipped()) == [HangUp(UUID)]
    other = Drive.make()
    other.start_and_place(entry())
    other.feed(LineUp(UUID, talking=True))
    assert other.feed(OperatorSkipped()) == []


def test_starting_another_list_stops_the_first() -> None:
    drive = Drive.make()
    drive.feed(OperatorStarted(7))
    drive.feed(NothingDue(None, outside_hours=False))
    effects = drive.feed(OperatorStarted(8))
    assert drive.dialer.list_id == 8 and PickEntry(8, True) in effects
