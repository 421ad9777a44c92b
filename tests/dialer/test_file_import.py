"""A file into the dial list (M6 «Загрузить из файла»), on SQLite and PostgreSQL: every
good row in file order across the import's chunks, every bad row and duplicate reported
with its row, column and reason (contracts.md §4), the contact found by number."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from agent.contacts.service import ContactService
from agent.core.contacts import Contact, Phone
from agent.core.errors import InvalidInput
from agent.core.settings import OperatorSettings, TeamSettings
from agent.dialer import file_import
from agent.dialer.contacts_adapter import ContactsDirectory
from agent.dialer.lists import DialListService
from agent.storage import Storage
from agent.storage.dialer_repository import DialerRepository

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


async def test_an_import_leaves_the_garbage_collector_as_it_found_it(lists: Lists) -> None:
    """The import pauses the cyclic collector while it builds its entries (issue 5)."""
    assert gc.isenabled()
    await lists.upload("Телефон\n0501110001\n")
    with pytest.raises(InvalidInput):
        await lists.upload("Місто\nКиїв\n")
    assert gc.isenabled()
