"""Contact and sales imports: csv in any encoding and delimiter, xls, xlsx, ods; the
header and number column found by themselves or mapped; every rejected row reported
(contracts.md §4), every good row kept (U7, U9)."""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.contacts.imports import _SearchText, import_contacts
from agent.contacts.sales_import import import_sales
from agent.core.contacts import search_text
from agent.core.errors import InvalidInput
from tests.contacts.conftest import Area
from tests.files.samples import make_ods, make_xlsx

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "files"


def rejected(report: Any) -> list[tuple[int, str, str]]:
    return [(r.row, r.column, r.reason) for r in report.rejected]


async def names_of(area: Area, number: str) -> list[str]:
    found = await area.contacts.lookup(number)
    return [m.contact.name for m in found.found.matches]


async def test_a_cp1251_csv_as_excel_saves_it_imports_with_a_report_of_rejects(
    area: Area,
) -> None:
    text = (
        "Контакти на 01.03.2024;;;\r\n"
        "ПІБ;Компанія;Телефон;Місто\r\n"
        "Іван Петренко;ТОВ «Ромашка»;(044) 224 98 95;Київ\r\n"
        "Олена Коваль;;+380 50 123-45-67;Львів\r\n"
        "Петро;;уточнити;\r\n"
        ";;;\r\n"
        "Марія;ФОП Бондар;8 093 1234567;\r\n"
    )
    progress: list[dict[str, Any]] = []

    report = await import_contacts(
        area.contacts, text.encode("cp1251"), "контакти.csv", progress=progress.append
    )

    assert report.accepted == 3 and report.created == 3 and report.updated == 0
    assert rejected(report) == [(5, "Телефон", "not a phone number: 'уточнити'")]
    assert report.json()["header_row"] == 2
    assert report.json()["columns"] == {"name": "ПІБ", "company": "Компанія", "phone": "Телефон"}
    assert await names_of(area, "0442249895") == ["Іван Петренко"]
    ivan = await area.contacts.find_contact("0442249895")
    assert ivan is not None and ivan.company == "ТОВ «Ромашка»"
    assert ivan.attributes == {"Місто": "Київ"}  # a column that is no field: an attribute
    assert await names_of(area, "0931234567") == ["Марія"]
    assert progress[-1]["stage"] == "done"


@pytest.mark.parametrize("kind", ["xlsx", "ods", "xls"])
async def test_workbooks_import_the_same_way(area: Area, kind: str) -> None:
    rows: list[list[object]] = [
        ["ПІБ", "Компанія", "Телефон", "Дата"],
        ["Іван Петренко", "ТОВ «Ромашка»", "+380 44 224-98-95", None],
        ["Олена Коваль", "ФОП Коваль", 380671234567, None],
        ["Петро", None, "abc", None],
    ]
    if kind == "xls":  # committed fixture with the same rows (tests/fixtures/files)
        data = (FIXTURES / "contacts.xls").read_bytes()
    else:
        data = make_xlsx({"Контакти": rows}) if kind == "xlsx" else make_ods({"Контакти": rows})
    report = await import_contacts(area.contacts, data, f"contacts.{kind}")
    assert report.accepted == 2
    assert rejected(report) == [(4, "Телефон", "not a phone number: 'abc'")]
    assert await names_of(area, "067 123 45 67") == ["Олена Коваль"]


async def test_a_mapping_names_the_columns_of_a_file_without_a_header(area: Area) -> None:
    text = "Іван,0442249895,робочий\nОлена,0501234567,мобільний\n"
    mapping = {"name": "A", "phone": "B", "kind": "C"}
    report = await import_contacts(area.contacts, text.encode(), "x.csv", mapping=mapping)
    assert report.accepted == 2 and report.rejected == []
    olena = await area.contacts.find_contact("0501234567")
    assert olena is not None and olena.phones[0].kind == "мобільний"


async def test_a_mapping_may_call_the_phone_number_as_contracts_md_does(area: Area) -> None:
    """contracts.md §4: ``{"number": "B", "name": "A"}``, as the dial-list import takes it."""
    text = "Іван,0442249895\nОлена,абв\n"
    mapping = {"number": "B", "name": "A"}
    report = await import_contacts(area.contacts, text.encode(), "x.csv", mapping=mapping)
    assert report.accepted == 1
    assert rejected(report) == [(2, "B", "not a phone number: 'абв'")]
    assert report.json()["columns"] == {"name": "A", "phone": "B"}
    assert await names_of(area, "0442249895") == ["Іван"]
    same = {"number": "B", "phone": "B", "name": "A"}  # both names, one column: no conflict
    again = await import_contacts(area.contacts, text.encode(), "x.csv", mapping=same)
    assert again.accepted == 1 and again.created == 0


async def test_a_mapping_giving_the_phone_two_columns_under_two_names_is_refused(
    area: Area,
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await import_contacts(
            area.contacts,
            b"a,0442249895,0501234567\n",
            "x.csv",
            mapping={"phone": "B", "number": "C"},
        )
    assert caught.value.field == "number"
    assert await area.contacts.find_contact("0442249895") is None


async def test_a_mapping_to_a_missing_column_fails_the_whole_file_clearly(area: Area) -> None:
    with pytest.raises(InvalidInput) as caught:
        await import_contacts(area.contacts, b"a,0442249895\n", "x.csv", mapping={"phone": "Q"})
    assert caught.value.field == "phone"


async def test_a_preview_reports_without_storing(area: Area) -> None:
    text = "Name,Phone\nІван,0442249895\nбитий,123\n"
    report = await import_contacts(area.contacts, text.encode(), "x.csv", preview=True)
    body = report.json()
    assert body["accepted"] == 1 and body["preview"] is True and body["created"] == 1
    assert body["rejected"] == [
        {"row": 3, "column": "Phone", "reason": "not a phone number: '123'"}
    ]
    assert body["sample"][0]["phones"][0]["number"] == "+380442249895"
    assert await area.contacts.find_contact("0442249895") is None


async def test_rows_of_one_person_make_one_contact_and_a_shared_line_two(area: Area) -> None:
    text = (
        "ПІБ;Компанія;Телефон;Вид телефону;Телефон 2\n"
        "Іван;ТОВ А;0442249895;робочий;0501234567\n"
        "Іван;ТОВ А;0671112233;мобільний;\n"  # the same person: one more phone
        "Олена;ТОВ А;0442249895;робочий;\n"  # a colleague on the company's line
        "Петро;;0931234567;;нема\n"  # a broken second number rejects the row
    )
    report = await import_contacts(area.contacts, text.encode(), "x.csv")
    assert report.created == 2 and report.accepted == 3
    assert rejected(report) == [(5, "Телефон 2", "not a phone number: 'нема'")]
    ivan = await area.contacts.find_contact("0671112233")
    assert ivan is not None
    assert [(p.number, p.kind) for p in ivan.phones] == [
        ("+380442249895", "робочий"),
        ("+380501234567", None),
        ("+380671112233", "мобільний"),
    ]
    assert sorted(await names_of(area, "0442249895")) == ["Іван", "Олена"]

    again = await import_contacts(area.contacts, text.encode(), "x.csv")  # twice: no doubles
    assert again.created == 0 and again.updated == 2
    assert sorted(await names_of(area, "0442249895")) == ["Іван", "Олена"]


async def test_a_100k_row_import_with_1_percent_broken_keeps_every_good_row(
    sqlite_area: Area,
) -> None:
    area = sqlite_area
    rng = random.Random(4)
    numbers = rng.sample(range(10**7), 100_000)
    lines = ["ПІБ;Компанія;Телефон"]
    good: dict[int, str] = {}  # row -> E.164
    broken: list[tuple[int, str, str]] = []
    for index, local in enumerate(numbers):
        row = index + 2
        if index % 100 == 99:
            cell = rng.choice(["n/a", "12345", "+380 67 123", "тел. уточнити"])
            broken.append((row, "Телефон", f"not a phone number: {cell!r}"))
        else:
            code = rng.choice(["67", "50", "93", "44"])
            cell = rng.choice([f"0{code}{local:07d}", f"+380 {code} {local:07d}"])
            good[row] = f"+380{code}{local:07d}"
        lines.append(f"Клієнт {row};ТОВ «Клієнт {row % 500}»;{cell}")
    data = "\r\n".join(lines).encode("cp1251")

    report = await import_contacts(area.contacts, data, "big.csv")

    assert rejected(report) == broken  # every broken row, exactly, in order
    assert report.accepted == report.created == len(good) == 99_000
    assert await area.storage.run(area.contacts.repo.count) == 99_000
    stored = await area.storage.run(area.contacts.repo.ids_by_keys, list(good.values()))
    assert len(stored) == len(good)  # every good row's number finds its contact
    sample = rng.sample(sorted(good), 20)
    for row in sample:
        assert await names_of(area, good[row]) == [f"Клієнт {row}"]


# ------------------------------------------------------------------ sales (U9)


async def test_sales_find_their_contact_by_number_name_or_id(area: Area) -> None:
    ivan = await area.add("Іван", "0442249895")
    await area.add("Олена", "0501234567")
    await area.add("Двійник", "0671112233")
    await area.add("Двійник", "0931234567")
    text = (
        "Клієнт;Телефон;Дата;Сума\n"
        ";044 224 98 95;01.03.2024;1 234,50 грн\n"
        "Олена;;2024-03-02;100\n"
        f"{ivan.id};;03.03.2024;7,25\n"
        ";0631111111;04.03.2024;5\n"
        "Двійник;;05.03.2024;5\n"
        "Невідомий;;06.03.2024;5\n"
        ";;07.03.2024;5\n"
        "Олена;;31.02.2024;5\n"
    )
    report = await import_sales(area.contacts, text.encode(), "sales.csv")
    assert report.accepted == 3
    assert rejected(report) == [
        (5, "Телефон", "no contact has this number: '+380631111111'"),
        (6, "Клієнт", "several contacts are named 'Двійник'"),
        (7, "Клієнт", "no contact named 'Невідомий'"),
        (8, "Клієнт", "contact or number required"),
        (9, "Дата", "not a date: '31.02.2024'"),
    ]
    sales = await area.storage.run(area.contacts.sales.for_contact, ivan.id or 0)
    assert sales == [(date(2024, 3, 1), Decimal("1234.50")), (date(2024, 3, 3), Decimal("7.25"))]

    await import_sales(
        area.contacts, b"Phone,Date,Amount\n0442249895,2024-03-09,1\n", "s.csv", replace=True
    )
    assert await area.storage.run(area.contacts.sales.count) == 1


async def test_importing_a_sales_file_again_adds_nothing_and_an_overlapping_one_adds_the_new(
    area: Area,
) -> None:
    """F4: a re-uploaded monthly export once doubled revenue (and so ABC classes)."""
    ivan = await area.add("Іван", "0442249895")
    march = (
        "Телефон;Дата;Сума\n"
        "0442249895;01.03.2024;100\n"
        "0442249895;01.03.2024;100\n"  # two equal sales on one day: both are kept
        "0442249895;02.03.2024;5\n"
    )
    first = await import_sales(area.contacts, march.encode(), "march.csv")
    preview = await import_sales(area.contacts, march.encode(), "march.csv", preview=True)
    again = await import_sales(area.contacts, march.encode(), "march.csv")
    assert (first.accepted, first.created) == (3, 3)
    assert (preview.accepted, preview.created) == (3, 0)  # the preview says so beforehand
    assert (again.accepted, again.created) == (3, 0)
    overlapping = march + "0442249895;03.03.2024;7\n"
    more = await import_sales(area.contacts, overlapping.encode(), "march-april.csv")
    assert more.created == 1
    sales = await area.storage.run(area.contacts.sales.for_contact, ivan.id or 0)
    assert [amount for _, amount in sales] == [Decimal(100), Decimal(100), Decimal(5), Decimal(7)]


async def test_rows_of_one_person_far_apart_in_a_long_file_make_one_contact(
    sqlite_area: Area,
) -> None:
    """Rows are grouped 5000 at a time (agent/contacts/tables.py BATCH): a person's
    rows in different batches still make one contact, with every number indexed."""
    area = sqlite_area
    lines = ["ПІБ;Компанія;Телефон"]
    for index in range(12_000):
        lines.append(f"Клієнт {index};ТОВ «Клієнт»;067{index:07d}")
    lines[1] = "Іван Петренко;ТОВ «Ромашка»;0442249895"
    lines[6_000] = "іван петренко;тов «ромашка»;0501234567"  # the same person, any case
    lines[11_500] = "Іван Петренко;ТОВ «Ромашка»;0931234567"

    report = await import_contacts(area.contacts, "\n".join(lines).encode(), "long.csv")

    assert report.accepted == 12_000 and report.created == 11_998 and not report.rejected
    ivan = await area.contacts.find_contact("0931234567")
    assert ivan is not None and ivan.name == "Іван Петренко"
    assert [p.number for p in ivan.phones] == ["+380442249895", "+380501234567", "+380931234567"]
    for number in ("0442249895", "0501234567"):
        assert await names_of(area, number) == ["Іван Петренко"]
    assert await area.storage.run(area.contacts.repo.count) == 11_998


async def test_an_import_extends_a_contact_stored_before_it_and_keeps_its_history(
    area: Area,
) -> None:
    ivan = await area.add("Іван", "0442249895", company="ТОВ А")
    text = "Name;Company;Phone;Phone 2;Manager\nІван;ТОВ А;0442249895;0671112233;002\n"

    report = await import_contacts(area.contacts, text.encode(), "x.csv")

    assert report.created == 0 and report.updated == 1
    found = await area.contacts.find_contact("0671112233")
    assert found is not None and found.id == ivan.id
    assert [p.number for p in found.phones] == ["+380442249895", "+380671112233"]
    assert found.responsible_ext == "002" and found.created_at == ivan.created_at


async def test_an_import_leaves_the_garbage_collector_as_it_found_it(area: Area) -> None:
    """Imports pause the cyclic collector while they build their objects (issue 4)."""
    import gc

    assert gc.isenabled()
    await import_contacts(area.contacts, b"Name,Phone\n\xd0\x86,0442249895\n", "x.csv")
    assert gc.isenabled()
    with pytest.raises(InvalidInput):
        await import_contacts(area.contacts, b"", "x.csv")
    assert gc.isenabled()
    gc.disable()
    try:
        await import_contacts(area.contacts, b"Name,Phone\nA,0442249896\n", "y.csv")
        assert not gc.isenabled()  # off before: left off
    finally:
        gc.enable()


@given(
    name=st.text(alphabet="AbІіЇїЄєҐґЁё ёa-", max_size=12),
    company=st.none() | st.text(alphabet="ТОВ «»іїєґ AZ ", max_size=12),
)
def test_the_imports_search_text_a_part_at_a_time_is_search_text(
    name: str, company: str | None
) -> None:
    folded = _SearchText()
    assert folded(name, company) == search_text(name, company)
    assert folded(name, company) == search_text(name, company)  # from its cache too


# ------------------------------------------------------------------ the bulk path (issue 4)


async def test_rows_that_add_nothing_to_a_stored_contact_leave_it_as_it_was(area: Area) -> None:
    """A row joining a stored contact with nothing new (docs/contacts.md: importing a
    file twice changes nothing) leaves it unwritten, its update time too: that time
    ranks it among namesakes (RANK_RULE). ``updated`` still counts the contacts joined."""
    ivan = await area.add("Іван", "0442249895", company="ТОВ А")
    olena = await area.add("Олена", "0501234567")
    area.clock.advance(hours=1)
    text = "Name;Company;Phone\nІван;ТОВ А;0442249895\nОлена;;0501234567\nОлена;;0671112233\n"

    report = await import_contacts(area.contacts, text.encode(), "x.csv")

    assert report.created == 0 and report.updated == 2
    same = await area.contacts.get(ivan.id or 0)
    assert same == ivan and same.updated_at == ivan.updated_at
    extended = await area.contacts.get(olena.id or 0)
    assert [p.number for p in extended.phones] == ["+380501234567", "+380671112233"]
    assert extended.updated_at == area.clock.now and extended.created_at == olena.created_at
    assert await names_of(area, "0671112233") == ["Олена"]


async def test_stored_contacts_are_found_across_the_match_statements_of_a_batch(
    area: Area,
) -> None:
    """A batch's numbers are matched MATCH_CHUNK at a time (agent/contacts/imports.py):
    stored contacts whose numbers fall in different statements of one batch, and in
    the last batch, are each extended, whatever the database."""
    from agent.contacts.imports import BATCH, MATCH_CHUNK

    rows = BATCH + MATCH_CHUNK + 7  # two batches; the first matched in three statements
    numbers = [f"067{index:07d}" for index in range(rows)]
    stored = {
        index: await area.add(f"Клієнт {index}", numbers[index])
        for index in (0, 2_500, 4_999, rows - 1)
    }
    lines = ["Name;Phone;Phone 2"]
    for index, number in enumerate(numbers):
        second = f"050{index:07d}" if index in stored else ""
        lines.append(f"Клієнт {index};{number};{second}")

    report = await import_contacts(area.contacts, "\n".join(lines).encode(), "x.csv")

    assert report.accepted == rows and report.rejected == []
    assert report.created == rows - len(stored) and report.updated == len(stored)
    for index, contact in stored.items():
        found = await area.contacts.find_contact(f"050{index:07d}")
        assert found is not None and found.id == contact.id
        assert [p.number for p in found.phones] == [f"+38067{index:07d}", f"+38050{index:07d}"]
    assert await area.storage.run(area.contacts.repo.count) == rows


async def test_number_keys_go_in_as_many_statements_as_the_variable_limit_allows(
    sqlite_area: Area,
) -> None:
    """Sql.insert_many (repositories.insert_rows): rows a multi-row INSERT holds are bounded by
    SQLite's variable limit (999 before 3.32): every key is stored, the last
    statement's remainder too."""
    import sqlite3

    area = sqlite_area
    repo = area.contacts.repo

    def lower_limit() -> int:
        connection = repo.sql.db.connection()  # type: ignore[no-untyped-call]
        return int(connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999))

    previous = await area.storage.run(lower_limit)
    try:
        lines = ["Name;Phone;Phone 2"]
        lines += [f"Клієнт {i};067{i:07d};050{i:07d}" for i in range(1_201)]
        report = await import_contacts(area.contacts, "\n".join(lines).encode(), "x.csv")
    finally:

        def restore() -> None:
            connection = repo.sql.db.connection()  # type: ignore[no-untyped-call]
            connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, previous)

        await area.storage.run(restore)
    assert report.created == 1_201
    keys = [f"+380{code}{i:07d}" for i in range(1_201) for code in ("67", "50")]
    found = await area.storage.run(repo.ids_by_keys, keys)
    assert len(found) == len(keys)


def test_only_a_stored_timestamp_is_written_into_a_statement() -> None:
    from agent.storage.contacts_repo import sql_text_literal

    assert sql_text_literal("2024-03-15T10:00:00.000000+00:00") == (
        "'2024-03-15T10:00:00.000000+00:00'"
    )
    for bad in ("x', 'y", "2024-03-15'; DROP TABLE contacts; --", "", "Іван"):
        with pytest.raises(ValueError):
            sql_text_literal(bad)
