"""Contacts over a real database (SQLite and PostgreSQL): create, find by number in
any format, several matches, search fields, edit, merge, delete (U7, B13, B14)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from agent.contacts.service import NotFound
from agent.contacts.shapes import parse_contact
from agent.core.call_events import EventDraft, EventSource, EventState
from agent.core.errors import InvalidInput
from agent.core.events import CallInfo, Direction
from agent.core.journal import JournalEntry, Source
from agent.core.outcomes import Outcome
from agent.storage import open_database
from agent.storage.contacts_models import CONTACT_MODELS
from agent.storage.schema import migrate
from tests.contacts.conftest import Area

SAME_NUMBER = [
    "+380 44 224-98-95",
    "0442249895",
    "380442249895",
    "(044) 224 98 95",
    "8 044 2249895",
]


def test_every_model_matches_the_table_the_migrations_made(db_url: str) -> None:
    db = open_database(db_url)
    try:
        migrate(db)
        for model in CONTACT_MODELS:
            table = model._meta.table_name
            columns = {column.name: column.null for column in db.get_columns(table)}
            fields = {f.column_name: f.null for f in model._meta.sorted_fields}
            assert columns == fields, table
    finally:
        db.close()


async def test_a_contact_is_found_by_its_number_typed_any_way(area: Area) -> None:
    made = await area.add("Іван Петренко", "(044) 224 98 95", company="ТОВ «Ромашка»")
    assert made.phones[0].number == "+380442249895"
    for typed in SAME_NUMBER:
        found = await area.contacts.lookup(typed)
        assert [m.contact.id for m in found.found.matches] == [made.id], typed
        assert found.found.key == "+380442249895"


async def test_several_contacts_with_one_number_follow_the_stated_rule(area: Area) -> None:
    # A company line shared by three people (B13: the popup names the first).
    old_mine = await area.add("Олена", "0442249895", responsible_ext="001")
    area.clock.advance(days=1)
    theirs = await area.add("Петро", "0442249895", responsible_ext="002")
    area.clock.advance(days=1)
    newest = await area.add("Марія", "0442249895")

    found = await area.contacts.lookup("+380442249895")
    assert [m.contact.name for m in found.found.matches] == ["Олена", "Марія", "Петро"]
    assert found.lines[0] == "3 contacts have this number: yours first, then the most recent"

    # Without the operator's own contact: the most recently contacted comes first.
    await area.contacts.delete(old_mine.id or 0)
    await area.storage.run(area.contacts.repo.touch, theirs.id or 0, area.clock.now)
    found = await area.contacts.lookup("0442249895")
    assert [m.contact.name for m in found.found.matches] == ["Петро", "Марія"]
    assert newest.id is not None


async def test_the_call_context_names_the_contact_and_its_b13_facts(area: Area) -> None:
    contact = await area.add(
        "Іван", "+380442249895", company="ТОВ «Ромашка»", responsible_ext="002"
    )
    assert contact.id is not None
    yesterday = area.clock.now - timedelta(days=1)
    await area.storage.run(
        area.storage.journal.upsert,
        JournalEntry(
            uuid="1" * 32,
            direction=Direction.OUT,
            number="+380442249895",
            operator_ext="001",
            dial_at=yesterday,
            source=Source.LIVE,
            answer_at=yesterday,
            end_at=yesterday + timedelta(seconds=75),
            talk_s=75,
            outcome=Outcome.ANSWERED,
            final=True,
        ),
    )
    note = await area.events.create_event(
        EventDraft(
            operator_ext="001", contact_id=contact.id, notes="Хоче знижку", state=EventState.SAVED
        )
    )
    planned = await area.events.create_event(
        EventDraft(
            operator_ext="001",
            contact_id=contact.id,
            kind="call",
            importance="high",
            planned_at=area.clock.now + timedelta(days=2),
            state=EventState.SAVED,
        )
    )
    call = CallInfo("2" * 32, Direction.IN, "001", "+380442249895", False, area.clock.now)

    context = await area.contacts.call_context(call)

    assert context is not None
    assert (context.contact_id, context.name, context.company) == (
        contact.id,
        "Іван",
        "ТОВ «Ромашка»",
    )
    assert context.details == (
        "Last contact: 2024-03-14 12:01, answered 1:15",
        "Note: Хоче знижку",
        "Planned: 2024-03-17 12:00, call, high",
        "Responsible: 002",
    )
    assert note.id != planned.id
    [published] = area.topics("call_context")
    assert published["planned_event_id"] == planned.id and published["matches"] == 1
    assert area.contacts.calls["2" * 32].contact_id == contact.id


async def test_the_call_context_tells_the_dial_lists_attempts_and_the_robots_answer_b13(
    area: Area,
) -> None:
    contact = await area.add("Олена", "+380442249895")
    assert contact.id is not None
    robot_call = area.clock.now - timedelta(hours=3)
    await area.events.create_event(
        EventDraft(
            operator_ext="robot",
            contact_id=contact.id,
            importance="high",
            planned_at=robot_call,
            notes="DTMF 1",
            fields={"robot_call_id": "r-1", "dtmf": "1"},
            state=EventState.SAVED,
            source=EventSource.ROBOT,
        )
    )
    next_try = area.clock.now + timedelta(hours=1)
    asked: list[str] = []

    def progress(number: str) -> tuple[int, datetime]:
        asked.append(number)
        return 2, next_try

    area.contacts.dial_progress = progress
    call = CallInfo("4" * 32, Direction.IN, "001", "044 224 98 95", False, area.clock.now)
    context = await area.contacts.call_context(call)
    assert context is not None
    assert "Auto-dial: 2 attempt(s), next 2024-03-15 13:00" in context.details
    assert "Robot: pressed 1 (high), 2024-03-15 09:00" in context.details
    assert asked == ["+380442249895"]  # asked by the normalised number


async def test_an_unknown_number_gets_region_operator_and_seen_before(area: Area) -> None:
    area.settings.set(language="uk")
    call = CallInfo("3" * 32, Direction.IN, "001", "+380671112233", False, area.clock.now)
    context = await area.contacts.call_context(call)
    assert context is not None and context.contact_id is None
    assert context.details == ("Україна · Київстар", "Раніше не дзвонив")


async def test_an_internal_call_to_a_colleague_gets_no_context(area: Area) -> None:
    call = CallInfo("4" * 32, Direction.INTERNAL, "001", "002", True, area.clock.now)
    assert await area.contacts.call_context(call) is None


async def test_changing_the_search_fields_reindexes_the_contacts_u7(area: Area) -> None:
    contact = await area.add(
        "ТОВ «Степ»", "+380501234567", attributes={"code": "044", "tel": "224 98 95"}
    )
    assert not (await area.contacts.lookup("0442249895")).found.matches

    area.settings.set(search_fields=[["code", "tel"]])
    area.contacts.check_index()
    task = area.contacts.reindexing
    assert task is not None
    assert await task == 1

    assert [m.contact.id for m in (await area.contacts.lookup("0442249895")).found.matches] == [
        contact.id
    ]
    assert not (await area.contacts.lookup("+380501234567")).found.matches
    assert area.contacts.indexed_fields == [["code", "tel"]]
    # New and edited contacts are indexed with the new fields at once.
    other = await area.add("Б", attributes={"code": "032", "tel": "2123456"})
    assert (await area.contacts.find_contact("+380322123456")) == other


async def test_editing_a_contact_replaces_the_given_fields_and_its_numbers(area: Area) -> None:
    contact = await area.add("Іван", "0442249895", company="А", attributes={"vip": True})
    assert contact.id is not None
    changed = await area.contacts.update(
        contact.id, parse_contact({"phones": [{"number": "0501234567", "kind": "mobile"}]}, "UA")
    )
    assert changed.name == "Іван" and changed.company == "А" and changed.attributes == {"vip": True}
    assert changed.phones[0].number == "+380501234567" and changed.phones[0].kind == "mobile"
    assert await area.contacts.find_contact("0442249895") is None
    assert (await area.contacts.find_contact("050 123 45 67")) == changed


async def test_a_deleted_contact_is_not_found_but_keeps_its_row(area: Area) -> None:
    contact = await area.add("Іван", "0442249895")
    assert contact.id is not None
    await area.contacts.delete(contact.id)
    assert await area.contacts.find_contact("0442249895") is None
    kept = await area.contacts.get(contact.id)
    assert kept.deleted_at is not None and kept.name == "Іван"
    with pytest.raises(NotFound):
        await area.contacts.delete(contact.id)
    with pytest.raises(NotFound):
        await area.contacts.get(999_999)


async def test_merging_moves_phones_events_and_sales_to_the_contact_kept(area: Area) -> None:
    kept = await area.add("Іван Петренко", "0442249895")
    other = await area.add("І. Петренко", "0501234567", company="ТОВ «Ромашка»")
    assert kept.id is not None and other.id is not None
    await area.events.create_event(EventDraft(operator_ext="001", contact_id=other.id))
    await area.storage.run(
        area.contacts.sales.insert_many,
        [(other.id, None, datetime(2024, 3, 1).date(), 1000)],
        area.clock.now,
    )

    merged = await area.contacts.merge(kept.id, [other.id])

    assert [p.number for p in merged.phones] == ["+380442249895", "+380501234567"]
    assert merged.company == "ТОВ «Ромашка»"
    assert (await area.contacts.find_contact("0501234567")) == merged
    gone = await area.contacts.get(other.id)
    assert gone.deleted_at is not None and gone.merged_into == kept.id
    events, _ = await area.events.page(contact_id=kept.id)
    assert len(events) == 1
    sales = await area.storage.run(area.contacts.sales.for_contact, kept.id)
    assert sales == [(datetime(2024, 3, 1).date(), Decimal("10.00"))]
    with pytest.raises(InvalidInput):
        await area.contacts.merge(kept.id, [kept.id])


async def test_the_contact_list_searches_names_any_case_and_numbers_in_part(area: Area) -> None:
    await area.add("Іван Петренко", "0442249895", company="ТОВ «Ромашка»")
    await area.add("Олена Коваль", "0501234567")
    await area.add("Андрій", "002")

    async def names(q: str) -> list[str]:
        items, _ = await area.contacts.page(q, 50, 0)
        return [c.name for c in items]

    assert await names("") == ["Андрій", "Іван Петренко", "Олена Коваль"]
    assert await names("РОМАШ") == ["Іван Петренко"]
    assert await names("коваль") == ["Олена Коваль"]
    assert await names("050 12") == ["Олена Коваль"]
    assert await names("+38044") == ["Іван Петренко"]
    assert await names("002") == ["Андрій"]
    assert await names("100%_") == []
    items, total = await area.contacts.page("", 2, 0)
    assert len(items) == 2 and total == 3


async def test_the_last_digits_of_a_number_find_its_contact(area: Area) -> None:
    """F2: operators remember the end of a number, as the journal's filter allows."""
    await area.add("Іван Петренко", "0442249895")
    await area.add("Олена Коваль", "0501234567")

    async def names(q: str) -> list[str]:
        items, _ = await area.contacts.page(q, 50, 0)
        return [c.name for c in items]

    assert await names("9895") == ["Іван Петренко"]
    assert await names("224 98 95") == ["Іван Петренко"]
    assert await names("1234") == ["Олена Коваль"]
    assert await names("4567") == ["Олена Коваль"]
    assert await names("895") == []  # three digits: the start of a number or an extension


async def test_find_or_create_makes_a_contact_for_an_unknown_number_j1(area: Area) -> None:
    made = await area.contacts.find_or_create_contact("067 111 22 33", "Клієнт з історії")
    again = await area.contacts.find_or_create_contact("+380671112233")
    assert made == again and made.name == "Клієнт з історії"
    nameless = await area.contacts.find_or_create_contact("0931234567")
    assert nameless.name == "+380931234567"


async def test_an_answered_call_makes_its_contact_the_most_recently_contacted(area: Area) -> None:
    contact = await area.add("Іван", "0442249895")
    end = area.clock.now + timedelta(minutes=5)
    entry = JournalEntry(
        uuid="5" * 32,
        direction=Direction.IN,
        number="+380442249895",
        operator_ext="001",
        dial_at=area.clock.now,
        source=Source.LIVE,
        answer_at=area.clock.now,
        end_at=end,
        contact_id=contact.id,
    )
    area.contacts.on_outcome(entry, True)
    await area.contacts.drain()
    assert (await area.contacts.get(contact.id or 0)).last_contact_at == end.astimezone(UTC)


async def test_the_demo_data_names_the_demo_numbers(area: Area) -> None:
    from agent.contacts.demo import fill_demo

    assert await fill_demo(area.storage, now=area.clock.now) == 20
    assert await fill_demo(area.storage, now=area.clock.now) == 0  # a restarted demo
    shared = await area.contacts.lookup("+380442249895")
    assert [m.contact.name for m in shared.found.matches] == ["Іван Петренко", "Марія Петренко"]
    assert shared.found.planned is not None and shared.found.last_note
    for number in ("+380501234567", "+380671112233"):
        assert (await area.contacts.lookup(number)).found.matches
    assert not (await area.contacts.lookup("+380931234567")).found.matches
    assert len(await area.stats.abc_classes()) == 10


async def test_the_popup_lookup_reads_the_same_note_and_planned_event_as_the_events(
    area: Area,
) -> None:
    """The lookup reads B13's facts with the matches in one statement
    (ContactsRepository.matches_with_facts): they are the events repository's own."""
    from agent.core.call_events import EventChanges

    contacts = [await area.add(name, "0442249895") for name in ("Іван", "Олена", "Петро")]
    ivan, olena, _ = contacts
    assert ivan.id is not None and olena.id is not None
    now = area.clock.now

    async def event(contact_id: int, notes: str, days: float | None, state: EventState) -> int:
        draft = EventDraft(
            operator_ext="001",
            contact_id=contact_id,
            notes=notes,
            state=state,
            planned_at=None if days is None else now + timedelta(days=days),
        )
        made = await area.events.create_event(draft)
        area.clock.advance(minutes=1)  # notes in order of writing
        return made.id

    await event(ivan.id, "перша розмова", None, EventState.SAVED)
    await event(ivan.id, "друга розмова", None, EventState.SAVED)
    await event(ivan.id, "передзвонити", 2, EventState.SAVED)  # still to do: no note
    done = await event(ivan.id, "зробили", 1, EventState.SAVED)
    await area.events.save(done, EventChanges(done=True))
    await event(ivan.id, "", None, EventState.SAVED)  # an empty note says nothing
    await event(ivan.id, "ще відкрита", None, EventState.OPEN)
    declined = await event(olena.id, "відхилена", 0.5, EventState.OPEN)
    await area.events.decline(declined)
    await event(olena.id, "пізніше", 3, EventState.OPEN)

    repo, events = area.contacts.repo, area.contacts.events
    facts = await area.storage.run(repo.matches_with_facts, "+380442249895")
    assert sorted(f.match.contact.name for f in facts) == ["Іван", "Олена", "Петро"]
    for fact in facts:
        contact_id = fact.match.contact.id
        assert contact_id is not None
        planned = await area.storage.run(events.nearest_planned, contact_id)
        assert fact.last_note == await area.storage.run(events.last_note, contact_id)
        assert fact.planned_id == (planned.id if planned else None)
    by_name = {f.match.contact.name: f for f in facts}
    assert by_name["Іван"].last_note == "зробили"
    assert by_name["Олена"].last_note is None and by_name["Олена"].planned_id is not None
    assert by_name["Петро"].planned_id is None
