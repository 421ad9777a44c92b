"""The popup's lookup in one statement (agent/storage/contact_lookup.py; B13, issue 4)
gives what the repositories' own methods give, one by one, on SQLite and PostgreSQL:
the matches, each contact's last note, nearest planned event and robot answer, the
number's last call and its attempts in the operator's dial lists."""

from __future__ import annotations

from datetime import datetime, timedelta

from agent.core.call_events import EventDraft, EventSource, EventState
from agent.core.contacts import DialProgress, RobotAnswer
from agent.core.events import CallInfo, Direction
from agent.core.journal import JournalEntry, Source
from agent.core.outcomes import Outcome
from agent.storage.dialer_repository import DialerRepository, NewEntry
from tests.contacts.conftest import Area

NUMBER = "+380442249895"


async def _journal(area: Area, uuid: str, number: str, end: datetime, talk_s: int) -> None:
    await area.storage.run(
        area.storage.journal.upsert,
        JournalEntry(
            uuid=uuid * 32,
            direction=Direction.OUT,
            number=number,
            operator_ext="001",
            dial_at=end - timedelta(seconds=talk_s + 10),
            source=Source.LIVE,
            answer_at=end - timedelta(seconds=talk_s),
            end_at=end,
            talk_s=talk_s,
            outcome=Outcome.ANSWERED,
            final=True,
        ),
    )


async def _event(area: Area, contact_id: int, **fields: object) -> int:
    fields.setdefault("operator_ext", "001")
    draft = EventDraft(contact_id=contact_id, **fields)  # type: ignore[arg-type]
    made = await area.events.create_event(draft)
    area.clock.advance(minutes=1)  # each event newer than the last
    return made.id


async def _dial_list(area: Area, owner: str, *numbers: str) -> None:
    repo = DialerRepository(area.storage.db)

    def make() -> None:
        list_id = repo.create_list(owner, "Leads", area.clock.now)
        repo.add_entries(list_id, [NewEntry(n) for n in numbers], area.clock.now, replace=False)

    await area.storage.run(make)


async def test_one_statement_reads_what_each_repository_method_reads_b13(area: Area) -> None:
    ivan, olena, petro = [await area.add(n, "0442249895") for n in ("Іван", "Олена", "Петро")]
    gone = await area.add("Видалений", "0442249895")
    assert ivan.id and olena.id and petro.id and gone.id
    await area.contacts.delete(gone.id)
    now = area.clock.now
    await _event(area, ivan.id, notes="перша розмова", state=EventState.SAVED)
    await _event(area, ivan.id, notes="друга розмова", state=EventState.SAVED)
    await _event(area, ivan.id, planned_at=now + timedelta(days=2), state=EventState.SAVED)
    await _event(area, ivan.id, planned_at=now + timedelta(days=1), state=EventState.SAVED)
    for dtmf in ("1", "2"):  # the newer robot answer is the one told
        await _event(
            area,
            olena.id,
            operator_ext="robot",
            importance="high",
            planned_at=now - timedelta(hours=3),
            fields={"robot_call_id": f"r-{dtmf}", "dtmf": dtmf},
            state=EventState.SAVED,
            source=EventSource.ROBOT,
        )
    await _journal(area, "1", NUMBER, now - timedelta(days=2), 30)
    await _journal(area, "2", NUMBER, now - timedelta(days=1), 75)
    await _dial_list(area, "001", NUMBER)
    await _dial_list(area, "002", NUMBER, "+380501234567")

    contacts, events = area.contacts.repo, area.contacts.events
    dialer = DialerRepository(area.storage.db)
    for owner in (None, "001", "002", "003"):
        looked = await area.storage.run(area.contacts.lookups.find, NUMBER, owner)
        by_name = {f.match.contact.name: f for f in looked.matches}
        assert sorted(by_name) == ["Іван", "Олена", "Петро"]
        for fact in looked.matches:
            cid = fact.match.contact.id
            assert cid is not None
            assert fact.match.contact == await area.contacts.get(cid)
            assert fact.match.phone_index == 0
            assert fact.last_note == await area.storage.run(events.last_note, cid)
            assert fact.planned == await area.storage.run(events.nearest_planned, cid)
            answer = await area.storage.run(events.last_robot_answer, cid)
            assert fact.robot == (RobotAnswer(*answer) if answer else None)
        assert looked.last_call == await area.storage.run(contacts.last_call, NUMBER)
        progress = None if owner is None else dialer.number_progress
        expected = (
            None if progress is None else await area.storage.run(progress, NUMBER, owner or "")
        )
        assert looked.dialing == (DialProgress(*expected) if expected else None)
    ivan_facts = {f.match.contact.name: f for f in looked.matches}["Іван"]
    assert ivan_facts.last_note == "друга розмова"
    assert ivan_facts.planned is not None and ivan_facts.planned.planned_at == now + timedelta(
        days=1
    )
    olena_facts = {f.match.contact.name: f for f in looked.matches}["Олена"]
    assert olena_facts.robot is not None and olena_facts.robot.dtmf == "2"


async def test_a_number_no_contact_has_still_gets_its_last_call_and_dial_progress(
    area: Area,
) -> None:
    await _journal(area, "3", "+380501234567", area.clock.now - timedelta(hours=1), 12)
    await _dial_list(area, "001", "+380501234567")
    looked = await area.storage.run(area.contacts.lookups.find, "+380501234567", "001")
    assert looked.matches == []
    assert looked.last_call is not None and looked.last_call.talk_s == 12
    assert looked.dialing is not None and looked.dialing.attempts == 0
    nothing = await area.storage.run(area.contacts.lookups.find, "+380931234567", "001")
    assert nothing.matches == [] and nothing.last_call is None and nothing.dialing is None


async def test_the_popup_says_the_same_with_the_dialer_folded_in_or_asked_apart_b13(
    area: Area,
) -> None:
    contact = await area.add("Олена", "+380442249895", responsible_ext="002")
    assert contact.id is not None
    await _journal(area, "4", NUMBER, area.clock.now - timedelta(days=1), 75)
    await _dial_list(area, "001", NUMBER)
    dialer = DialerRepository(area.storage.db)

    async def lines(uuid: str) -> tuple[str, ...]:
        call = CallInfo(uuid * 32, Direction.IN, "001", "044 224 98 95", False, area.clock.now)
        context = await area.contacts.call_context(call)
        assert context is not None and context.contact_id == contact.id
        return context.details

    area.contacts.dial_progress = lambda number: dialer.number_progress(number, "001")
    asked_apart = await lines("5")
    area.contacts.dial_owner = "001"  # what agent/dialer/wiring.py may set instead
    folded = await lines("6")
    assert folded == asked_apart
    assert any(line.startswith("Auto-dial: 0 attempt(s), next ") for line in folded)
    assert "Responsible: 002" in folded
