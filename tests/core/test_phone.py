"""The phone as the operator sees it: lines, popups, the journal rows, the gap (C3, M2, B2, B4)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from agent.core.effects import (
    AnnounceOutcome,
    FetchActiveCalls,
    FetchHistory,
    FetchPurpose,
    SaveCheckpoint,
    ShowPopup,
    StoreCall,
    StoreHistory,
)
from agent.core.events import (
    CallAnswered,
    CallDialed,
    CallHungUp,
    CallInfo,
    Direction,
    HistoryRecord,
    LinkDown,
    LinkUp,
    PauseSwitched,
)
from agent.core.lines import LineState
from agent.core.outcomes import Outcome
from agent.core.phone import Phone, PhoneConfig
from agent.core.popups import PopupKind, console_line

T0 = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def call(uuid: str = "a" * 32, direction: Direction = Direction.IN, **kw: object) -> CallInfo:
    base = CallInfo(
        uuid=uuid,
        direction=direction,
        ext="001",
        number="+380442249895",
        outgoing=direction is Direction.OUT,
        dial_at=T0,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def popups(effects: list[object]) -> list[str]:
    return [console_line(e.popup) for e in effects if isinstance(e, ShowPopup)]


def stored(effects: list[object]) -> list[object]:
    return [e.entry for e in effects if isinstance(e, StoreCall)]


def history(uuid: str, *, talk: int, duration: int, disposition: int, end: float) -> HistoryRecord:
    return HistoryRecord(
        uuid=uuid,
        direction=Direction.IN,
        end_at=at(end),
        duration_s=duration,
        talk_s=talk,
        disposition=disposition,
        ext="001",
        ext2=None,
        number="+380442249895",
        name=None,
    )


def online_phone() -> Phone:
    phone = Phone(PhoneConfig(own_ext="001"))
    phone.feed(LinkUp(T0))
    return phone


def test_an_incoming_answered_call_pops_up_ring_answer_and_hangup_with_talk_time() -> None:
    phone = online_phone()
    c = call()
    assert popups(phone.feed(CallDialed(c, at(0)))) == ["popup ring in +380442249895"]
    assert popups(phone.feed(CallAnswered(c, at(3)))) == ["popup answer in +380442249895"]
    assert popups(phone.feed(CallHungUp(c, at(15)))) == ["popup hangup in +380442249895 talk=12s"]


def test_an_outgoing_call_that_nobody_answers_pops_up_dial_and_hangup_without_talk() -> None:
    phone = online_phone()
    c = call(direction=Direction.OUT)
    assert popups(phone.feed(CallDialed(c, at(0)))) == ["popup dial out +380442249895"]
    assert popups(phone.feed(CallHungUp(c, at(20)))) == ["popup hangup out +380442249895"]


def test_duplicated_events_never_flood_the_operator() -> None:
    phone = online_phone()
    c = call()
    phone.feed(CallDialed(c, at(0)))
    assert phone.feed(CallDialed(c, at(0))) == []
    phone.feed(CallAnswered(c, at(2)))
    assert phone.feed(CallAnswered(c, at(2))) == []
    phone.feed(CallHungUp(c, at(5)))
    assert phone.feed(CallHungUp(c, at(5))) == []
    assert phone.feed(CallDialed(c, at(0))) == [], "a late echo of an ended call is no line"


def test_several_lines_the_last_answered_talks_and_the_other_is_held() -> None:
    phone = online_phone()
    first, second = call("1" * 32), call("2" * 32, number="+380501234567")
    phone.feed(CallDialed(first, at(0)))
    phone.feed(CallAnswered(first, at(1)))
    phone.feed(CallDialed(second, at(2)))
    phone.feed(CallAnswered(second, at(3)))
    states = {ln.call.uuid: ln.state for ln in phone.line_list}
    assert states == {"1" * 32: LineState.HELD, "2" * 32: LineState.TALKING}
    assert phone.lines.talking is not None and phone.lines.talking.call.uuid == "2" * 32


def test_a_bridge_for_a_call_never_seen_still_opens_a_talking_line() -> None:
    phone = online_phone()
    effects = phone.feed(CallAnswered(call(), at(5)))
    assert popups(effects) == ["popup answer in +380442249895"]
    assert phone.lines.talking is not None


def test_the_call_is_written_at_once_and_completed_from_history_after_the_hangup() -> None:
    phone = online_phone()
    c = call()
    first = stored(phone.feed(CallDialed(c, at(0))))
    assert len(first) == 1 and first[0].end_at is None  # type: ignore[attr-defined]
    phone.feed(CallAnswered(c, at(2)))
    ended = stored(phone.feed(CallHungUp(c, at(14))))
    assert ended[0].talk_s == 12 and not ended[0].final  # type: ignore[attr-defined]
    wake = phone.next_wakeup()
    assert wake == at(15)
    fetch = [e for e in phone.wake(at(15)) if isinstance(e, FetchHistory)]
    assert fetch and fetch[0].purpose is FetchPurpose.FINALISE
    record = history(c.uuid, talk=11, duration=14, disposition=0, end=14)
    effects = phone.history_fetched(FetchPurpose.FINALISE, [record], at(15), at(15))
    final = stored(effects)[0]
    assert final.final and final.talk_s == 11 and final.outcome is Outcome.ANSWERED  # type: ignore[attr-defined]
    announced = [e for e in effects if isinstance(e, AnnounceOutcome)]
    assert announced and not announced[0].provisional


def test_without_a_history_record_the_outcome_is_announced_as_provisional_after_the_wait() -> None:
    phone = online_phone()
    c = call(direction=Direction.OUT)
    phone.feed(CallDialed(c, at(0)))
    phone.feed(CallHungUp(c, at(30)))
    effects = phone.wake(at(45))
    announced = [e for e in effects if isinstance(e, AnnounceOutcome)]
    assert announced and announced[0].provisional
    assert announced[0].entry.outcome is Outcome.NO_ANSWER


def test_a_short_answered_call_is_not_reached_b17() -> None:
    phone = online_phone()
    c = call(direction=Direction.OUT)
    phone.feed(CallDialed(c, at(0)))
    phone.feed(CallHungUp(c, at(9)))
    record = history(c.uuid, talk=4, duration=9, disposition=0, end=9)
    entry = stored(phone.history_fetched(FetchPurpose.FINALISE, [record], at(10), at(10)))[0]
    assert entry.outcome is Outcome.NOT_REACHED  # type: ignore[attr-defined]


def test_busy_is_told_apart_from_no_answer_by_the_disposition_b2() -> None:
    phone = online_phone()
    c = call(direction=Direction.OUT)
    phone.feed(CallDialed(c, at(0)))
    phone.feed(CallHungUp(c, at(3)))
    record = history(c.uuid, talk=0, duration=3, disposition=4, end=3)
    entry = stored(phone.history_fetched(FetchPurpose.FINALISE, [record], at(4), at(4)))[0]
    assert entry.outcome is Outcome.BUSY  # type: ignore[attr-defined]


def test_dnd_follows_the_pbx_pause_events_and_silences_ring_popups() -> None:
    phone = online_phone()
    phone.feed(PauseSwitched("001", True, at(0)))
    assert phone.dnd
    effects = phone.feed(CallDialed(call(), at(1)))
    assert popups(effects) == []
    assert stored(effects), "the journal still records during DND"
    phone.feed(PauseSwitched("001", False, at(2)))
    assert not phone.dnd


def test_another_extensions_pause_does_not_change_ours() -> None:
    phone = online_phone()
    assert phone.feed(PauseSwitched("002", True, at(0))) == []
    assert not phone.dnd


def test_after_a_drop_the_gap_is_reconciled_from_history_b4() -> None:
    phone = Phone(PhoneConfig(own_ext="001"))
    phone.resume([], covered_until=at(-600), now=at(0))
    effects = phone.feed(LinkUp(at(0)))
    assert any(isinstance(e, FetchActiveCalls) for e in effects)
    fetch = next(e for e in effects if isinstance(e, FetchHistory))
    assert fetch.purpose is FetchPurpose.RECONCILE and fetch.time_from <= at(-600)
    missed = history("b" * 32, talk=0, duration=20, disposition=1, end=-300)
    someone_elses = replace(
        history("c" * 32, talk=5, duration=9, disposition=0, end=-200), ext="002"
    )
    effects = phone.history_fetched(FetchPurpose.RECONCILE, [missed, someone_elses], at(0), at(1))
    merged = [e for e in effects if isinstance(e, StoreHistory)]
    assert [r.uuid for r in merged[0].records] == ["b" * 32]
    assert any(isinstance(e, SaveCheckpoint) for e in effects)


def test_the_gap_is_fetched_again_once_history_has_caught_up_b4() -> None:
    """History may lag the calls it records: a call that ended in the gap but was not
    in history at the reconnect is found by the second pass, CHECKPOINT_LAG later."""
    phone = Phone(PhoneConfig(own_ext="001"))
    phone.resume([], covered_until=at(-600), now=at(0))
    phone.feed(LinkUp(at(0)))
    phone.history_fetched(FetchPurpose.RECONCILE, [], at(0), at(1))
    wake = phone.next_wakeup()
    assert wake is not None and wake <= at(1 + 120)
    again = [e for e in phone.wake(at(121)) if isinstance(e, FetchHistory)]
    assert again and again[0].purpose is FetchPurpose.RECONCILE
    assert again[0].time_from <= at(-600)
    late = history("d" * 32, talk=0, duration=20, disposition=1, end=-100)
    effects = phone.history_fetched(FetchPurpose.RECONCILE, [late], at(121), at(122))
    merged = [e for e in effects if isinstance(e, StoreHistory)]
    assert [r.uuid for r in merged[0].records] == ["d" * 32]
    # once is enough: nothing more is planned for that gap
    assert not [e for e in phone.wake(at(600)) if isinstance(e, FetchHistory)]


def test_a_failed_second_pass_is_tried_again_and_a_new_drop_folds_it_in_b4() -> None:
    phone = Phone(PhoneConfig(own_ext="001"))
    phone.resume([], covered_until=at(-600), now=at(0))
    phone.feed(LinkUp(at(0)))
    phone.history_fetched(FetchPurpose.RECONCILE, [], at(0), at(1))
    assert [e for e in phone.wake(at(121)) if isinstance(e, FetchHistory)]
    assert phone.history_failed(FetchPurpose.RECONCILE, at(122)) == []
    assert [e for e in phone.wake(at(152)) if isinstance(e, FetchHistory)]
    phone.history_failed(FetchPurpose.RECONCILE, at(153))
    phone.feed(LinkDown(at(160), "dropped"))
    fetch = next(e for e in phone.feed(LinkUp(at(200))) if isinstance(e, FetchHistory))
    assert fetch.time_from <= at(-600)  # the earlier gap is covered by the new reconcile


def test_a_failed_reconcile_is_tried_again_later() -> None:
    phone = Phone(PhoneConfig(own_ext="001"))
    phone.resume([], covered_until=at(-60), now=at(0))
    phone.feed(LinkUp(at(0)))
    assert phone.history_failed(FetchPurpose.RECONCILE, at(1)) == []
    wake = phone.next_wakeup()
    assert wake is not None and wake <= at(31)
    assert any(isinstance(e, FetchHistory) for e in phone.wake(at(31)))


def test_a_call_that_ended_while_the_link_was_down_is_finalised_after_reconnect() -> None:
    phone = online_phone()
    c = call()
    phone.feed(CallDialed(c, at(0)))
    phone.feed(CallAnswered(c, at(1)))
    phone.feed(LinkDown(at(2), "dropped"))
    asked = next(e for e in phone.feed(LinkUp(at(30))) if isinstance(e, FetchActiveCalls))
    phone.active_calls([], at(30), asked.seq)
    assert phone.line_list == []
    fetch = [e for e in phone.wake(at(30)) if isinstance(e, FetchHistory)]
    assert fetch and fetch[0].purpose is FetchPurpose.FINALISE
    record = history(c.uuid, talk=10, duration=11, disposition=0, end=11)
    entry = stored(phone.history_fetched(FetchPurpose.FINALISE, [record], at(31), at(31)))[0]
    assert entry.final and entry.talk_s == 10  # type: ignore[attr-defined]


def test_the_hangup_popup_uses_the_contact_name_when_known() -> None:
    phone = online_phone()
    c = call(name="Анна Петренко")
    effects = phone.feed(CallDialed(c, at(0)))
    popup = next(e.popup for e in effects if isinstance(e, ShowPopup))
    assert popup.kind is PopupKind.RING and popup.contact == "Анна Петренко"
    assert console_line(popup) == 'popup ring in +380442249895 "Анна Петренко"'


def test_an_active_calls_answer_older_than_the_stream_does_not_end_a_new_line() -> None:
    phone = Phone(PhoneConfig(own_ext="001"))
    asked = next(e for e in phone.feed(LinkUp(at(0))) if isinstance(e, FetchActiveCalls))
    c = call()
    phone.feed(CallDialed(c, at(1)))  # the stream is ahead of the snapshot
    phone.active_calls([], at(2), asked.seq)
    assert [ln.call.uuid for ln in phone.line_list] == [c.uuid]
    assert popups(phone.feed(CallHungUp(c, at(3)))) == ["popup hangup in +380442249895"]


def test_only_one_history_fetch_for_finished_calls_is_out_at_a_time() -> None:
    phone = online_phone()
    for n in range(3):
        c = call(f"{n}" * 32)
        phone.feed(CallDialed(c, at(n)))
        phone.feed(CallHungUp(c, at(n + 1)))
    first = [e for e in phone.wake(at(10)) if isinstance(e, FetchHistory)]
    assert len(first) == 1 and first[0].time_to >= at(3)
    assert not [e for e in phone.wake(at(11)) if isinstance(e, FetchHistory)]
    wake = phone.next_wakeup()
    assert wake is None or wake > at(11), "no busy wake-up while the fetch is out"
    phone.history_fetched(FetchPurpose.FINALISE, [], at(11), at(11))
    assert phone.next_wakeup() is not None
