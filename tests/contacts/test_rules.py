"""The pure rules of contacts, statistics and events (agent/core/contacts.py,
contact_stats.py, call_events.py): no database, the clock an argument."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from agent.core.call_events import (
    Event,
    EventAction,
    EventChanges,
    EventSource,
    EventState,
    EventStateError,
    apply_changes,
    draft_on_answer,
    next_state,
    planned_from,
)
from agent.core.contact_stats import (
    classify_abc,
    events_by_month,
    last_months,
    sales_by_month,
    summarise_sales,
    to_cents,
)
from agent.core.contacts import (
    Candidate,
    Contact,
    LastCall,
    Phone,
    PlannedSummary,
    check_search_fields,
    known_lines,
    lookup_key,
    merge_contacts,
    normalise_phone,
    rank_matches,
    search_keys,
    unknown_lines,
)
from agent.core.numbers import NumberHint

KYIV = ZoneInfo("Europe/Kyiv")
NOW = datetime(2024, 3, 15, 10, 0, tzinfo=UTC)

# ------------------------------------------------------------------ numbers (U7)

SAME_NUMBER = [
    "+380 44 224-98-95",
    "0442249895",
    "380442249895",
    "(044) 224 98 95",
    "8 044 2249895",
]


@pytest.mark.parametrize("typed", SAME_NUMBER)
def test_every_way_of_typing_a_number_gives_the_same_lookup_key(typed: str) -> None:
    assert lookup_key(typed, "UA") == "+380442249895"


def test_a_short_number_that_is_no_phone_number_keys_by_its_digits() -> None:
    assert lookup_key("002") == "002"
    assert normalise_phone("002") == "002"
    assert lookup_key("x") is None
    assert normalise_phone("call me") is None


def test_composite_search_fields_concatenate_attributes_in_order() -> None:
    # The manual's "Поле2 + Поле3": an area code in one field, the rest in another.
    contact = Contact(
        None,
        "ТОВ «Ромашка»",
        phones=(Phone("+380501234567", "mobile"),),
        attributes={"area": "044", "local": "224-98-95", "fax": 442249896.0},
    )
    fields = [["phone"], ["area", "local"], ["fax"], ["local", "area"]]

    keys = dict(search_keys(contact, fields, "UA"))

    assert keys["+380501234567"] == 0  # made by phone 0
    assert keys["+380442249895"] is None  # made by attributes
    assert keys["+380442249896"] is None  # a number read from a spreadsheet as a float
    assert "2249895044" in keys  # the wrong order makes no number, only digits
    assert len(keys) == 4


def test_a_composite_field_with_an_empty_part_makes_no_key() -> None:
    contact = Contact(None, "A", attributes={"area": "044"})
    assert search_keys(contact, [["area", "local"]], "UA") == []


def test_search_fields_settings_are_checked() -> None:
    assert check_search_fields([["phone"], ["area", "local"]]) is None
    assert check_search_fields([]) is not None
    assert check_search_fields([["phone"], []]) is not None
    assert check_search_fields("phone") is not None
    assert check_search_fields([["phone", ""]]) is not None


# ------------------------------------------------------------------ several matches


def candidate(cid: int, ext: str | None, last: int | None, updated: int) -> Candidate:
    def at(days: int | None) -> datetime | None:
        return None if days is None else NOW - timedelta(days=days)

    return Candidate(cid, ext, at(last), at(updated))


def test_several_matches_put_the_operators_own_contact_first_then_the_most_recent() -> None:
    mine_old = candidate(1, "001", last=30, updated=30)
    other_recent = candidate(2, "002", last=1, updated=1)
    nobody_recent = candidate(3, None, last=2, updated=2)
    never_called_new = candidate(4, None, last=None, updated=0)
    never_called_old = candidate(5, None, last=None, updated=9)

    ranked = rank_matches(
        [never_called_old, nobody_recent, never_called_new, other_recent, mine_old], "001"
    )

    assert [c.contact_id for c in ranked] == [1, 2, 3, 4, 5]


def test_equal_contacts_rank_the_newest_first() -> None:
    ranked = rank_matches([candidate(7, None, None, 1), candidate(9, None, None, 1)], "001")
    assert [c.contact_id for c in ranked] == [9, 7]


def test_merging_unites_phones_and_fills_what_the_kept_contact_lacks() -> None:
    kept = Contact(1, "Іван", None, (Phone("+380442249895", "work"),), {"city": "Київ"})
    other = Contact(
        2,
        "Іван П.",
        "ТОВ «Ромашка»",
        (Phone("+380442249895", "fax"), Phone("+380501234567", "mobile")),
        {"city": "Львів", "vip": True},
        responsible_ext="002",
        last_contact_at=NOW,
    )

    merged = merge_contacts(kept, [other])

    assert merged.id == 1 and merged.name == "Іван" and merged.company == "ТОВ «Ромашка»"
    assert merged.phones == (Phone("+380442249895", "work"), Phone("+380501234567", "mobile"))
    assert merged.attributes == {"city": "Київ", "vip": True}
    assert merged.responsible_ext == "002" and merged.last_contact_at == NOW


# ------------------------------------------------------------------ popup lines (B13, B14)


def test_a_known_contacts_popup_lines_say_last_contact_note_and_planned_event() -> None:
    lines = known_lines(
        phone=Phone("+380442249895", "work", "Іван"),
        matches=2,
        last_call=LastCall(datetime(2024, 3, 1, 12, 5, tzinfo=UTC), "answered", "out", 135),
        last_note="Просив\nпередзвонити   у вівторок",
        planned=PlannedSummary(7, datetime(2024, 3, 19, 8, 0, tzinfo=UTC), "call", "high"),
        responsible_ext="002",
        own_ext="001",
        tz=KYIV,
        lang="uk",
    )
    assert lines == (
        "робочий · Іван",
        "Цей номер мають 2 контакти: спершу ваші, потім найсвіжіші",
        "Останній контакт: 01.03.2024 14:05, розмова 2:15",
        "Примітка: Просив передзвонити у вівторок",
        "Заплановано: 19.03.2024 10:00, call, high",
        "Відповідальний: 002",
    )


def test_an_unknown_numbers_lines_give_region_operator_and_seen_before_in_english() -> None:
    hint = NumberHint("Ukraine", "Kyivstar", "Ukraine", "mobile")
    seen = LastCall(datetime(2024, 3, 1, 12, 5, tzinfo=UTC), "no_answer", "in")
    assert unknown_lines(hint, seen, tz=KYIV, lang="en") == (
        "Ukraine · Kyivstar",
        "Seen before: 2024-03-01 14:05, no answer",
    )
    assert unknown_lines(None, None, tz=KYIV, lang="ru") == ("Раньше не звонил",)


def test_a_long_note_is_cut_to_one_short_line() -> None:
    lines = known_lines(
        phone=None,
        matches=1,
        last_call=None,
        last_note="x" * 500,
        planned=None,
        responsible_ext=None,
        own_ext="001",
        tz=UTC,
        lang="en",
    )
    assert lines[0] == "No calls with this number yet"
    assert lines[1] == "Note: " + "x" * 79 + "…"


# ------------------------------------------------------------------ ABC (M6)


def test_abc_gives_a_to_the_first_80_percent_b_to_the_next_15_c_to_the_rest() -> None:
    revenue = {1: Decimal(50), 2: Decimal(30), 3: Decimal(15), 4: Decimal(5), 5: Decimal(0)}
    # Revenue ranked above each: 0, 50, 80, 95 (% of 100).
    assert classify_abc(revenue) == {1: "A", 2: "A", 3: "B", 4: "C"}


def test_abc_boundaries_follow_the_thresholds_from_the_settings() -> None:
    revenue = {1: Decimal(50), 2: Decimal(30), 3: Decimal(15), 4: Decimal(5)}
    assert classify_abc(revenue, (50, 80)) == {1: "A", 2: "B", 3: "C", 4: "C"}
    assert classify_abc(revenue, (50, 81)) == {1: "A", 2: "B", 3: "B", 4: "C"}
    assert classify_abc(revenue, (50.01, 95.01)) == {1: "A", 2: "A", 3: "B", 4: "B"}


def test_abc_puts_one_contact_bringing_almost_everything_in_a_and_breaks_ties_by_id() -> None:
    assert classify_abc({9: Decimal(99), 3: Decimal("0.5"), 2: Decimal("0.5")}) == {
        9: "A",
        2: "C",
        3: "C",
    }
    assert classify_abc({}) == {}


def test_abc_refuses_thresholds_that_do_not_rise() -> None:
    with pytest.raises(ValueError):
        classify_abc({1: Decimal(1)}, (95, 80))


# ------------------------------------------------------------------ statistics (U9)


def test_sales_by_month_cover_the_last_months_in_the_teams_zone_with_empty_months() -> None:
    sales = [
        (date(2024, 3, 1), Decimal("100.50")),
        (date(2024, 3, 14), Decimal("20")),
        (date(2024, 1, 31), Decimal("7.25")),
        (date(2023, 3, 31), Decimal("999")),  # 12 months ago and more: left out
    ]
    series = sales_by_month(sales, now=NOW, tz=KYIV, months=3)
    assert [(m.month, m.amount, m.count) for m in series] == [
        ("2024-01", Decimal("7.25"), 1),
        ("2024-02", Decimal(0), 0),
        ("2024-03", Decimal("120.50"), 2),
    ]
    summary = summarise_sales(sales)
    assert summary.total == Decimal("1126.75") and summary.count == 4
    assert summary.first == date(2023, 3, 31) and summary.last == date(2024, 3, 14)


def test_events_by_month_count_by_kind_and_a_late_evening_counts_in_the_local_month() -> None:
    late = datetime(2024, 2, 29, 22, 30, tzinfo=UTC)  # already 1 March in Kyiv
    events = [(late, "call"), (datetime(2024, 3, 5, tzinfo=UTC), "meeting")]
    series = events_by_month(events, now=NOW, tz=KYIV, months=2)
    assert [(m.month, m.count, dict(m.by_kind)) for m in series] == [
        ("2024-02", 0, {}),
        ("2024-03", 2, {"call": 1, "meeting": 1}),
    ]
    assert last_months(datetime(2024, 1, 5, tzinfo=UTC), UTC, 2) == ["2023-12", "2024-01"]


def test_money_is_kept_in_minor_units() -> None:
    assert to_cents(Decimal("1234.565")) == 123456  # banker's rounding of the half kopeck
    assert to_cents(Decimal("-0.1")) == -10


# ------------------------------------------------------------------ events (U8, A5)


def test_the_event_state_table_allows_save_and_decline_of_an_open_event_only() -> None:
    assert next_state(EventState.OPEN, EventAction.SAVE) is EventState.SAVED
    assert next_state(EventState.OPEN, EventAction.DECLINE) is EventState.DECLINED
    assert next_state(EventState.SAVED, EventAction.EDIT) is EventState.SAVED
    for state, action in [
        (EventState.SAVED, EventAction.DECLINE),
        (EventState.DECLINED, EventAction.SAVE),
        (EventState.DECLINED, EventAction.EDIT),
    ]:
        with pytest.raises(EventStateError):
            next_state(state, action)


def test_an_event_on_answer_takes_the_operators_default_values_u8() -> None:
    defaults = {
        "kind": "дзвінок",
        "importance": "high",
        "planned_at": "+1d",
        "notes": "Уточнити замовлення",
        "topic": "sales",
        "state": "saved",  # cannot be set by a default
        "call_uuid": "x",  # neither
    }
    draft = draft_on_answer(
        defaults,
        call_uuid="ab" * 16,
        number="+380442249895",
        contact_id=5,
        operator_ext="001",
        direction="in",
        at=NOW,
    )
    assert (draft.kind, draft.importance, draft.notes) == ("дзвінок", "high", "Уточнити замовлення")
    assert draft.planned_at == NOW + timedelta(days=1)
    assert draft.fields == {"topic": "sales"}
    assert draft.state is EventState.OPEN and draft.source is EventSource.ANSWER
    assert draft.call_uuid == "ab" * 16 and draft.contact_id == 5


def test_a_bad_default_is_left_out_rather_than_losing_the_event() -> None:
    draft = draft_on_answer(
        {"planned_at": "tomorrow", "kind": 5},
        call_uuid="c" * 32,
        number="+380442249895",
        contact_id=None,
        operator_ext="001",
        direction="out",
        at=NOW,
    )
    assert draft.planned_at is None and draft.kind == "call"


def test_planned_times_are_iso_or_relative() -> None:
    assert planned_from("+30m", NOW) == NOW + timedelta(minutes=30)
    assert planned_from("+2w", NOW) == NOW + timedelta(weeks=2)
    assert planned_from("2024-03-20T09:00", NOW) == datetime(2024, 3, 20, 9, tzinfo=UTC)
    assert planned_from("", NOW) is None


def test_saving_changes_fields_and_done_marks_a_planned_event_done() -> None:
    event = Event(
        1,
        "c" * 32,
        "+380442249895",
        5,
        "001",
        "call",
        "normal",
        NOW,
        "",
        EventState.OPEN,
        EventSource.ANSWER,
        NOW,
        NOW,
        fields={"a": 1},
    )
    later = NOW + timedelta(hours=1)
    saved = apply_changes(
        event, EventChanges(notes="done", fields={"b": 2}, done=True), EventAction.SAVE, later
    )
    assert saved.state is EventState.SAVED and saved.notes == "done"
    assert saved.fields == {"a": 1, "b": 2} and saved.done_at == later
    cleared = apply_changes(saved, EventChanges(clear_planned=True), EventAction.EDIT, later)
    assert cleared.planned_at is None and cleared.notes == "done"
