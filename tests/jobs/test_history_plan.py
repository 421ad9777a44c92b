"""J1's rules, pure: the window, the checkpoint, and which calls get an event."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from agent.core.events import Direction, HistoryRecord
from agent.core.history_plan import (
    OVERLAP,
    Checkpoint,
    ImportWindow,
    Skip,
    after_page,
    draft_for,
    event_candidates,
    finished,
    import_window,
    operator_for,
    plan_events,
)

NOW = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
WEEK = timedelta(days=7)


def record(
    uuid: str = "a" * 32,
    *,
    talk_s: int = 30,
    direction: Direction = Direction.OUT,
    ext: str | None = "001",
    number: str | None = "0441234567",
    end_at: datetime = NOW,
) -> HistoryRecord:
    return HistoryRecord(
        uuid=uuid,
        direction=direction,
        end_at=end_at,
        duration_s=talk_s + 5,
        talk_s=talk_s,
        disposition=0 if talk_s else 1,
        ext=ext,
        ext2="002" if direction is Direction.INTERNAL else None,
        number=None if direction is Direction.INTERNAL else number,
        name=number,
    )


# ------------------------------------------------------------------ the window


def test_the_first_run_looks_back_the_configured_days() -> None:
    assert import_window(Checkpoint(), now=NOW, lookback=WEEK) == ImportWindow(NOW - WEEK, NOW, NOW)


def test_a_later_run_starts_a_little_before_the_last_covered_moment() -> None:
    covered = NOW - timedelta(hours=1)
    window = import_window(Checkpoint(covered), now=NOW, lookback=WEEK)
    assert window == ImportWindow(covered - OVERLAP, NOW, NOW)


def test_a_checkpoint_older_than_the_look_back_is_still_followed() -> None:
    covered = NOW - timedelta(days=30)
    assert import_window(Checkpoint(covered), now=NOW, lookback=WEEK).time_from == covered - OVERLAP


def test_an_unfinished_run_is_resumed_where_it_stopped() -> None:
    pending = ImportWindow(NOW - WEEK, NOW - timedelta(days=2), NOW - timedelta(hours=1))
    assert import_window(Checkpoint(None, pending), now=NOW, lookback=WEEK) == pending


def test_since_earlier_than_the_checkpoint_imports_from_since() -> None:
    since = NOW - timedelta(days=30)
    pending = ImportWindow(NOW - WEEK, NOW - timedelta(days=2), NOW)
    window = import_window(Checkpoint(NOW, pending), now=NOW, lookback=WEEK, since=since)
    assert window == ImportWindow(since, NOW, NOW)


def test_since_later_than_a_stopped_runs_rest_still_takes_that_rest_in() -> None:
    pending = ImportWindow(NOW - WEEK, NOW - timedelta(days=2), NOW - timedelta(hours=1))
    since = NOW - timedelta(days=1)
    window = import_window(Checkpoint(None, pending), now=NOW, lookback=WEEK, since=since)
    assert window == ImportWindow(NOW - WEEK, NOW, NOW)


def test_since_later_than_the_checkpoint_still_imports_from_the_checkpoint() -> None:
    covered = NOW - timedelta(days=3)
    since = NOW - timedelta(hours=1)
    window = import_window(Checkpoint(covered), now=NOW, lookback=WEEK, since=since)
    assert window == ImportWindow(covered - OVERLAP, NOW, NOW)


def test_since_on_the_first_run_ever_is_where_it_starts() -> None:
    since = NOW - timedelta(days=1)
    window = import_window(Checkpoint(), now=NOW, lookback=WEEK, since=since)
    assert window == ImportWindow(since, NOW, NOW)


def test_after_a_page_only_the_older_part_of_the_window_is_left() -> None:
    window = ImportWindow(NOW - WEEK, NOW, NOW)
    page = [
        record("b" * 32, end_at=NOW - timedelta(days=1)),
        record(end_at=NOW - timedelta(days=2)),
    ]
    assert after_page(window, page) == ImportWindow(NOW - WEEK, NOW - timedelta(days=2), NOW)
    assert after_page(window, []) == window


def test_when_the_window_is_done_everything_up_to_its_end_is_covered() -> None:
    window = ImportWindow(NOW - WEEK, NOW - timedelta(days=3), NOW)
    assert finished(window) == Checkpoint(NOW, None)


def test_a_checkpoint_survives_json_and_junk_reads_as_none() -> None:
    checkpoint = Checkpoint(NOW - WEEK, ImportWindow(NOW - WEEK, NOW - timedelta(days=1), NOW))
    assert Checkpoint.from_json(checkpoint.to_json()) == checkpoint
    assert Checkpoint.from_json(None) == Checkpoint()
    assert (
        Checkpoint.from_json({"covered_until": "yesterday", "pending": {"from": 1}}) == Checkpoint()
    )


# ------------------------------------------------------------------ events, rule by rule


def test_a_call_longer_than_g4_is_a_candidate() -> None:
    chosen, skipped = event_candidates([record(talk_s=11)], completed_talk_s=10)
    assert len(chosen) == 1
    assert not skipped


def test_a_call_exactly_g4_long_gets_no_event_g4_means_longer() -> None:
    chosen, skipped = event_candidates([record(talk_s=10)], completed_talk_s=10)
    assert chosen == []
    assert skipped == {Skip.SHORT: 1}


def test_an_unanswered_call_gets_no_event() -> None:
    chosen, skipped = event_candidates([record(talk_s=0)], completed_talk_s=0)
    assert chosen == []
    assert skipped == {Skip.SHORT: 1}


def test_an_internal_call_gets_no_event() -> None:
    chosen, skipped = event_candidates([record(direction=Direction.INTERNAL)], completed_talk_s=0)
    assert chosen == []
    assert skipped == {Skip.INTERNAL: 1}


def test_a_call_marked_unimportant_gets_no_event_a5() -> None:
    calls = [record("a" * 32), record("b" * 32)]
    drafts, skipped = plan_events(
        calls, unimportant={"a" * 32}, with_event=set(), extension_users={}, region="UA"
    )
    assert [d.call_uuid for d in drafts] == ["b" * 32]
    assert skipped == {Skip.UNIMPORTANT: 1}


def test_a_call_with_an_event_already_gets_no_second_one() -> None:
    drafts, skipped = plan_events(
        [record()], unimportant=set(), with_event={"a" * 32}, extension_users={}, region="UA"
    )
    assert drafts == []
    assert skipped == {Skip.HAS_EVENT: 1}


def test_a_declined_call_with_an_event_counts_as_declined() -> None:
    _, skipped = plan_events(
        [record()], unimportant={"a" * 32}, with_event={"a" * 32}, extension_users={}, region="UA"
    )
    assert skipped == {Skip.UNIMPORTANT: 1}


def test_the_event_carries_the_operator_of_the_extension_mapping_g3() -> None:
    draft = draft_for(record(ext="005"), extension_users={"005": "Olena"}, region="UA")
    assert (draft.operator_ext, draft.operator) == ("005", "Olena")
    unmapped = draft_for(record(ext="006"), extension_users={"005": "Olena"}, region="UA")
    assert (unmapped.operator_ext, unmapped.operator) == ("006", None)


def test_the_events_number_is_e164_and_within_g5s_twenty_characters() -> None:
    assert draft_for(record(number="044 123 45 67"), extension_users={}, region="UA").number == (
        "+380441234567"
    )
    odd = draft_for(record(number="x" * 30), extension_users={}, region="UA")
    assert len(odd.number) == 20


def test_the_events_times_come_from_the_record() -> None:
    draft = draft_for(record(talk_s=30), extension_users={}, region="UA")
    assert draft.end_at == NOW
    assert draft.dial_at == NOW - timedelta(seconds=35)


def test_the_draft_reads_the_calls_id_direction_and_name_off_the_record() -> None:
    call = replace(record("b" * 32, direction=Direction.IN, ext=None), name="Acme")
    draft = draft_for(call, extension_users={}, region="UA")
    assert (draft.call_uuid, draft.direction, draft.operator_ext, draft.talk_s) == (
        "b" * 32,
        Direction.IN,
        "",
        30,
    )
    assert draft.contact_name == "Acme"
    # The number repeated as the name is no name (phonet-api.md §4.4).
    assert (
        draft_for(replace(call, name="0441234567"), extension_users={}, region="UA").contact_name
        is None
    )


def test_a_blank_mapping_is_no_operator() -> None:
    assert operator_for("001", {"001": "  "}) is None
    assert operator_for("", {"": "x"}) is None
