"""A file into the dial list (M6 «Загрузить из файла»), on SQLite and PostgreSQL: every
good row in file order across the import's chunks, every bad row and duplicate reported
with its row, column and reason (contracts.md §4), the contact found by number."""

from __future__ import annotations

import asyncio
import gc
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import peewee as pw
import pytest

from agent.contacts.service import ContactService
from agent.core import table_plan
from agent.core.contacts import Contact, Phone
from agent.core.dial_list import EntryState
from agent.core.errors import InvalidInput
from agent.core.settings import OperatorSettings, TeamSettings
from agent.dialer import file_import
from agent.dialer.contacts_adapter import ContactsDirectory
from agent.dialer.lists import FULL_MATCH_ROWS, Candidate, DialListService, NumberRows
from agent.hub import Message
from agent.simulator import SimulatorInfo
from agent.storage import Storage
from agent.storage.dialer_repository import IN_CHUNK, DialerRepository, NewEntry
from tests.dialer.support import dialer_agent
from tests.scenarios.conftest import TIMEOUT_S, AgentFactory

NOW = datetime(2024, 5, 6, 10, 0, tzinfo=UTC)


class _Settings:
    team = TeamSettings()
    operator = OperatorSettings()


@dataclass
class Lists:
    storage: Storage
    repo: DialerRepository
    contacts: ContactService
    service: DialListService
    list_id: int

    async def numbers(self) -> list[tuple[str, str | None, str | None]]:
        rows = await self.storage.run(
            self.repo.rows,
            "SELECT number, contact_name, detail FROM dial_entries WHERE list_id = ? "
            "ORDER BY position",
            (self.list_id,),
        )
        return [(r[0], r[1], r[2]) for r in rows]

    async def upload(self, text: str, **options: Any) -> Any:
        arguments: dict[str, Any] = {"mapping": None, "mode": "append", "preview": False}
        arguments.update(options)
        return await self.service.import_file(
            self.list_id, text.encode("cp1251"), "leads.csv", **arguments
        )


@pytest.fixture
async def lists(db_url: str) -> AsyncIterator[Lists]:
    async with Storage(db_url) as storage:
        repo = DialerRepository(storage.db)
        contacts = ContactService(storage, _Settings(), own_ext="001")
        directory = ContactsDirectory(contacts)
        service = DialListService(
            storage=storage, repo=repo, settings=_Settings(), own_ext="001",
            directory=lambda: directory, clock=lambda: NOW, changed=lambda _: None,
        )  # fmt: skip
        list_id = (await service.create("leads", activate=True)).id
        yield Lists(storage, repo, contacts, service, list_id)


async def test_a_file_longer_than_a_chunk_keeps_file_order_and_reports_each_bad_row_m6(
    lists: Lists, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(file_import, "IMPORT_CHUNK", 7)  # several chunks, as 100k rows make
    known = "+380501110003"
    await lists.storage.run(
        lists.contacts.repo.insert_many,
        [Contact(None, "Ірина", phones=(Phone(known),))], [[(known, 0)]], NOW,
    )  # fmt: skip
    lines = ["Клієнт;Телефон;Коментар"]
    expected: list[tuple[str, str | None, str | None]] = []
    rejects: list[tuple[int, str, str]] = []
    for i in range(30):
        row = i + 2
        if i % 10 == 9:
            lines.append(f"Битий {i};уточнити;")
            rejects.append((row, "Телефон", "not a phone number: 'уточнити'"))
        elif i == 20:
            lines.append("Двійник;(050) 111-00-01;")  # the number of row 3, two chunks back
            rejects.append((row, "Телефон", "duplicate of row 3"))
        elif i == 25:
            lines.append("Ніна;;")
            rejects.append((row, "Телефон", "empty required field"))
        else:
            number = f"+3805011100{i:02d}"
            lines.append(f"Клієнт {i};0{number[4:]};нотатка {i}")
            name = "Ірина" if number == known else f"Клієнт {i}"
            expected.append((number, name, f"нотатка {i}"))

    result = await lists.upload("\n".join(lines) + "\n")

    assert result.accepted == len(expected) == 25
    assert [(r.row, r.column, r.reason) for r in result.rejected] == rejects
    assert await lists.numbers() == expected  # the stored contact's name for its number


async def test_replace_mode_replaces_the_list_and_a_preview_changes_nothing_m6(
    lists: Lists,
) -> None:
    await lists.upload("Телефон\n0501110001\n0501110002\n")
    text = "Телефон\n0501110009\n0501110001\n"

    preview = await lists.upload(text, mode="replace", preview=True)
    assert preview.accepted == 2 and preview.rejected == []
    assert [n for n, _, _ in await lists.numbers()] == ["+380501110001", "+380501110002"]

    await lists.upload(text, mode="replace")
    assert [n for n, _, _ in await lists.numbers()] == ["+380501110009", "+380501110001"]


async def test_a_file_whose_number_column_cannot_be_found_changes_nothing_even_in_replace_mode(
    lists: Lists,
) -> None:
    await lists.upload("Телефон\n0501110001\n")
    with pytest.raises(InvalidInput) as caught:
        await lists.upload("Клієнт;Місто\nПетро;Київ\n", mode="replace")
    assert caught.value.field == "number"
    with pytest.raises(InvalidInput):
        await lists.service.import_file(
            lists.list_id, b"", "leads.csv", mapping=None, mode="replace", preview=False
        )
    assert [n for n, _, _ in await lists.numbers()] == ["+380501110001"]


async def test_a_file_whose_every_row_is_refused_leaves_the_list_as_it_was_in_replace_mode(
    lists: Lists,
) -> None:
    """F8: "replace" with a file of bad numbers once emptied the list (attempts too)."""
    await lists.upload("Телефон\n0501110001\n0501110002\n")
    result = await lists.upload("Ім'я;Телефон\nА;12\nБ;34\n", mode="replace")
    assert result.accepted == 0 and [r.row for r in result.rejected] == [2, 3]
    assert [n for n, _, _ in await lists.numbers()] == ["+380501110001", "+380501110002"]


async def test_an_import_that_fails_after_a_write_still_tells_the_list_changed(
    lists: Lists, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The chunks written before the failure stay: the window and the dialer must hear of
    # them, as they hear of a whole import.
    changed: list[int] = []
    lists.service.changed = changed.append
    monkeypatch.setattr(file_import, "IMPORT_CHUNK", 2)
    written = 0
    add_entries = lists.repo.add_entries

    def failing_second_write(*args: Any, **kwargs: Any) -> int:
        nonlocal written
        written += 1
        if written == 2:
            raise sqlite3.OperationalError("disk I/O error")
        return add_entries(*args, **kwargs)

    monkeypatch.setattr(lists.repo, "add_entries", failing_second_write)
    monkeypatch.setattr(file_import, "WRITE_MOST", 2)  # one chunk a write
    text = "Телефон\n" + "".join(f"05011100{i:02d}\n" for i in range(1, 7))
    with pytest.raises(Exception, match="disk I/O error"):
        await lists.upload(text)
    assert changed == [lists.list_id]
    assert [n for n, _, _ in await lists.numbers()] == ["+380501110001", "+380501110002"]


async def test_an_import_leaves_the_garbage_collector_as_it_found_it(lists: Lists) -> None:
    """The import pauses the cyclic collector while it builds its entries (issue 5)."""
    assert gc.isenabled()
    await lists.upload("Телефон\n0501110001\n")
    with pytest.raises(InvalidInput):
        await lists.upload("Місто\nКиїв\n")
    assert gc.isenabled()


async def test_an_import_tells_how_far_it_reads_and_stores_then_that_it_is_done(
    lists: Lists, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window's progress bar (hub topic "import", kind "dial_list"): the row the
    reading reached, then "storing N of M" up to all the good rows, then done."""
    monkeypatch.setattr(file_import, "IMPORT_CHUNK", 2000)
    good = table_plan.BATCH_ROWS + 10  # two batches read, as 100k rows make twenty
    await lists.upload("Телефон\n0501000000\n")
    lines = ["Телефон"] + [f"050{1000000 + i}" for i in range(good)] + ["абв"]
    heard: list[dict[str, Any]] = []

    result = await lists.upload("\n".join(lines) + "\n", progress=heard.append)

    assert result.accepted == good - 1  # row 2's number was in the list; the last is bad
    reading = [m["done"] for m in heard if m["stage"] == "reading"]
    assert reading == [table_plan.BATCH_ROWS, good + 2]  # rows as the sheet counts them
    storing = [(m["done"], m["total"]) for m in heard if m["stage"] == "storing"]
    assert storing and storing[-1] == (good, good)  # every good row looked at
    assert heard[-1] == {"stage": "done", "done": good - 1}
    stages = [m["stage"] for m in heard]
    assert stages.index("storing") > max(i for i, s in enumerate(stages) if s == "reading")

    quiet: list[dict[str, Any]] = []
    await lists.upload("Телефон\n0501119999\n", preview=True, progress=quiet.append)
    assert [m["stage"] for m in quiet] == ["reading", "done"]  # a preview stores nothing


async def test_append_mode_reports_numbers_already_in_the_list_across_chunks_m6(
    lists: Lists, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(file_import, "IMPORT_CHUNK", 3)
    await lists.upload("Телефон\n0501110002\n0501110007\n")
    numbers = [f"0501110{i:03d}" for i in range(1, 10)]
    result = await lists.upload("Телефон\n" + "\n".join(numbers) + "\n")
    assert result.accepted == 7
    assert [(r.row, r.column, r.reason) for r in result.rejected] == [
        (3, "Телефон", "already in the list"),
        (8, "Телефон", "already in the list"),
    ]
    stored = [n for n, _, _ in await lists.numbers()]
    assert stored == ["+380501110002", "+380501110007"] + [
        f"+380501110{i:03d}" for i in (1, 3, 4, 5, 6, 8, 9)
    ]


@pytest.mark.parametrize("sort_field", ["", "Місто"])
@pytest.mark.parametrize("rows", [3, FULL_MATCH_ROWS + 1])
async def test_a_files_entries_are_those_the_other_sources_make_of_the_same_numbers(
    lists: Lists, monkeypatch: pytest.MonkeyPatch, sort_field: str, rows: int
) -> None:
    """The file import's columns (_number_entries) make the entries that the general
    path (_entries, for hand-added numbers, contacts, events) makes: the contact
    found by number, its name and detail or the file's, the sort field (U6), the
    zone, DNC (B3); with the contacts' details read only for small batches."""
    settings = _Settings()
    settings.operator = OperatorSettings(sort_field=sort_field, sort_descending=True)
    monkeypatch.setattr(lists.service, "settings", settings)
    numbers = [f"+38050{2000000 + i}" for i in range(rows)]
    numbers[1] = "+12125550100"  # another zone
    contacts = [
        Contact(None, "Ірина", phones=(Phone(numbers[0], "mobile", "Ірина"),)),
        Contact(None, "Оксана", phones=(Phone(numbers[2]),), attributes={"Місто": "Київ"}),
    ]
    keys = [[(numbers[0], 0)], [(numbers[2], 0)]]
    await lists.storage.run(lists.contacts.repo.insert_many, contacts, keys, NOW)
    await lists.storage.run(lists.repo.dnc_add, numbers[2], "asked", "001", NOW)
    names = [None if i % 2 else f"Name {i}" for i in range(rows)]
    details = ["from the file" if i % 3 == 0 else None for i in range(rows)]
    lst = await lists.service.follow_sort_settings(await lists.service.get(lists.list_id))
    assert lst.sort_field == sort_field

    chunk = NumberRows(list(range(2, rows + 2)), numbers, names, details, "Телефон")
    made = await lists.service._number_entries(chunk, lst)
    candidates = [
        Candidate(row, "Телефон", number, None, name, detail)
        for row, number, name, detail in zip(chunk.rows, numbers, names, details, strict=True)
    ]
    expected = await lists.service._entries(candidates, lst)

    assert made == expected
    assert made[0].contact_name == "Ірина" and made[0].detail == "from the file"
    assert made[1].zone == "America/New_York" and made[2].state is EntryState.DNC
    if sort_field:
        assert made[2].sort_value == "Київ"


@pytest.mark.parametrize("rows", [1, 7, 9])
def test_entries_go_in_several_rows_a_statement_in_file_order_whatever_the_remainder(
    db_url: str, rows: int
) -> None:
    """SQLite takes a few hundred rows per INSERT, fewer when its variable limit is
    small (here 2 rows of 13 columns a statement); PostgreSQL pages its own."""
    with Storage.open_sync(db_url) as storage:
        if isinstance(storage.db, pw.SqliteDatabase):  # 26 values: two rows a statement
            limit = sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER
            storage.call(lambda: storage.db.connection().setlimit(limit, 26))
        repo = DialerRepository(storage.db)
        list_id = storage.call(repo.create_list, "001", "leads", NOW)
        storage.call(repo.add_entries, list_id, [NewEntry("+380500000000")], NOW, replace=False)
        wanted = [
            NewEntry(f"+38050000{i:04d}", contact_name=f"№{i}", state=EntryState.DNC)
            for i in range(1, rows + 1)
        ]
        assert storage.call(repo.add_entries, list_id, wanted, NOW, replace=False) == rows
        stored = storage.call(repo.all_entries, list_id)
    assert [(e.position, e.number, e.contact_name) for e in stored] == [
        (1, "+380500000000", None),
        *((i + 1, f"+38050000{i:04d}", f"№{i}") for i in range(1, rows + 1)),
    ]
    assert [e.state for e in stored[1:]] == [EntryState.DNC] * rows
    assert [e.id for e in stored] == sorted(e.id for e in stored)  # file order is id order


def test_the_dnc_check_of_many_numbers_reads_a_short_list_whole_and_a_long_one_by_parts(
    db_url: str,
) -> None:
    with Storage.open_sync(db_url) as storage:
        repo = DialerRepository(storage.db)
        many = [f"+38050{1000000 + i}" for i in range(IN_CHUNK * 2 + 1)]
        assert storage.call(repo.dnc_contains, many) == set()
        for number in (many[0], many[-1], "+380671234567"):
            storage.call(repo.dnc_add, number, None, "001", NOW)
        assert storage.call(repo.dnc_contains, many) == {many[0], many[-1]}
        assert storage.call(repo.dnc_contains, many[:3]) == {many[0]}
        assert storage.call(repo.dnc_contains, many[-2:]) == {many[-1]}
        listed = many[: IN_CHUNK + 2]
        for number in listed:
            storage.call(repo.dnc_add, number, None, "001", NOW)
        asked = many[IN_CHUNK : IN_CHUNK * 2 + 1]  # fewer numbers than the list holds
        assert storage.call(repo.dnc_contains, asked) == {*listed[IN_CHUNK:], many[-1]}


async def test_the_agent_publishes_a_dial_list_imports_progress_for_the_window(
    agent_factory: AgentFactory, simulator: SimulatorInfo
) -> None:
    """Hub topic "import", kind "dial_list": what webui/js/import_progress.js follows."""
    handle = await dialer_agent(agent_factory, simulator)
    assert handle.agent.api is not None and handle.agent.hub is not None
    text = "Телефон\n" + "".join(f"050{1000000 + i}\n" for i in range(30))
    async with handle.agent.hub.subscribe() as heard:
        async with httpx.AsyncClient(base_url=handle.agent.api.url) as client:
            response = await client.post(
                "/api/dial-list/import",
                files={"file": ("leads.csv", text.encode())},
                headers={"Authorization": f"Bearer {handle.agent.api.token}"},
            )
        assert response.status_code == 200 and response.json()["accepted"] == 30
        messages = await import_messages(heard)
    assert {m["kind"] for m in messages} == {"dial_list"}
    assert [(m["stage"], m["done"], m.get("total")) for m in messages] == [
        ("reading", 31, None),
        ("storing", 30, 30),
        ("done", 30, None),
    ]


async def import_messages(queue: asyncio.Queue[Message]) -> list[dict[str, Any]]:
    """The hub's "import" messages up to the one that says the import is done."""
    found: list[dict[str, Any]] = []
    while not found or found[-1]["stage"] != "done":
        message = await asyncio.wait_for(queue.get(), TIMEOUT_S)
        if message.topic == "import":
            found.append(message.data)
    return found


@pytest.mark.parametrize("full", [False, True])
async def test_numbers_are_matched_to_contacts_in_any_form_and_only_those_asked_m6(
    lists: Lists, full: bool
) -> None:
    irina, petro = "+380501110001", "+380501110002"
    contacts = [
        Contact(None, "Ірина", phones=(Phone(irina, "mobile"),)),
        Contact(None, "Петро", phones=(Phone(petro, "office", "Петро"),)),
    ]
    keys = [[(irina, 0)], [(petro, 0)]]
    ids = await lists.storage.run(lists.contacts.repo.insert_many, contacts, keys, NOW)
    directory = ContactsDirectory(lists.contacts)

    found = await directory.match_numbers([irina, "050 111 00 02", "0501110003"], full=full)

    assert {n: (c.id, c.name) for n, c in found.items()} == {
        irina: (ids[0], "Ірина"),
        "050 111 00 02": (ids[1], "Петро"),  # petro's E.164 itself was not asked about
    }
    details = {n: c.detail for n, c in found.items()}
    assert details == (
        {irina: "mobile", "050 111 00 02": "office, Петро"}
        if full
        else {irina: None, "050 111 00 02": None}
    )
    assert await directory.match_numbers([]) == {}
