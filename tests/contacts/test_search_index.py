"""The contact search by name or company through its trigram index (M1; migration
m0015, agent/storage/contact_search.py) answers exactly as the scan it replaces
(``ContactsRepository.page``): the same contacts, order and total, before the index
has taken in the latest writes and after, on SQLite and PostgreSQL."""

from __future__ import annotations

import peewee as pw
import pytest

from agent.contacts.imports import import_contacts
from agent.contacts.shapes import parse_contact
from agent.core.contacts import Contact, Phone, search_text
from agent.storage import contact_search, open_database
from agent.storage.contact_search import ContactSearch, glob_pattern
from agent.storage.contacts_repo import ContactsRepository
from agent.storage.migrations import MIGRATIONS
from agent.storage.schema import migrate
from tests.contacts.conftest import NOW, Area

PEOPLE = [
    ("Іван Петренко", "ТОВ «Ромашка»"),
    ("Олена Коваль", None),
    ("Ґанна Їжакевич", "ФОП Єрмоленко"),
    ("Андрій", '100% _гарант_ *зірка* [бета] "лапки"'),
    ("ПЕТРО ІВАНЕНКО", "Ромашка-Сервіс"),
    ("Maria Schröder", "Straße GmbH"),
]
QUERIES = [
    "петренко",
    "ЕТРЕНК",  # inside a word, any case
    "ромашка",
    "ко ромаш",  # across name and company
    "ґанна",
    "їжак",
    "єрмол",
    "іван",
    "100% _",
    "*зірка*",
    "[бета]",
    '"лапки"',
    "STRASSE",  # casefold: ß is ss
    "schröder",
    "ко",  # shorter than a trigram
    "а",
    "нікого немає",
]


async def _same_as_the_scan(area: Area, limit: int = 50) -> None:
    repo, search = area.contacts.repo, area.contacts.search
    for query in QUERIES:
        text = search_text(query)
        for offset in (0, 1):
            expected = await area.storage.run(repo.page, text=text, limit=limit, offset=offset)
            found = await area.storage.run(search.page, text, limit=limit, offset=offset)
            assert found == expected, (query, offset)


async def _add_people(area: Area) -> list[Contact]:
    return [
        await area.add(name, f"050123450{i}", **({"company": company} if company else {}))
        for i, (name, company) in enumerate(PEOPLE)
    ]


async def test_the_index_finds_what_the_scan_finds_any_case_inside_words_m1(area: Area) -> None:
    await _add_people(area)
    await _same_as_the_scan(area)  # the index has not taken them in yet
    await area.contacts.drain()  # the refresh each write started
    assert await area.storage.run(area.contacts.search.pending) == 0
    await _same_as_the_scan(area)

    async def names(q: str) -> list[str]:
        items, _ = await area.contacts.page(q, 50, 0)
        return [c.name for c in items]

    assert await names("ЕТРЕНК") == ["Іван Петренко"]
    assert await names("ромашка") == ["Іван Петренко", "ПЕТРО ІВАНЕНКО"]
    assert await names("їжак") == ["Ґанна Їжакевич"]
    assert await names("100% _") == ["Андрій"]
    assert await names("strasse") == ["Maria Schröder"]
    assert await names("нікого немає") == []


async def test_edits_deletes_and_merges_are_searched_right_before_and_after_the_refresh(
    area: Area,
) -> None:
    ivan, olena, ganna, *_ = await _add_people(area)
    assert ivan.id and olena.id and ganna.id
    await area.contacts.drain()
    await area.contacts.update(ivan.id, parse_contact({"name": "Іван Сидоренко"}, "UA"))
    await area.contacts.delete(olena.id)
    await area.contacts.merge(ganna.id, [ivan.id])
    await _same_as_the_scan(area)
    await area.contacts.drain()
    await _same_as_the_scan(area)
    items, _ = await area.contacts.page("сидоренко", 50, 0)
    assert items == []  # merged into Ганна: the search text is the kept contact's
    assert (await area.contacts.page("коваль", 50, 0))[0] == []
    area.clock.advance(minutes=1)
    await area.contacts.update(ganna.id, parse_contact({"company": "Нова назва"}, "UA"))
    assert [c.id for c in (await area.contacts.page("нова наз", 50, 0))[0]] == [ganna.id]
    await area.contacts.drain()
    assert [c.id for c in (await area.contacts.page("нова наз", 50, 0))[0]] == [ganna.id]
    assert (await area.contacts.page("єрмол", 50, 0))[0] == []


async def test_common_texts_and_an_index_being_built_are_searched_by_the_ordered_scan(
    area: Area, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _add_people(area)
    for i in range(12):
        await area.add(f"Клієнт {i:02d}", f"06712345{i:02d}", company="ТОВ «Ромашка»")
    monkeypatch.setattr(contact_search, "STALE_LIMIT", 3)
    await _same_as_the_scan(area, limit=5)  # 18 waiting: the scan answers
    await area.contacts.drain()
    monkeypatch.setattr(contact_search, "FEW", 4)  # "ромашка": 14 candidates, common
    await _same_as_the_scan(area, limit=5)
    items, total = await area.contacts.page("ромашка", 5, 5)
    assert len(items) == 5 and total == 14


async def _schema(area: Area) -> tuple[int, list[tuple[str, ...]]] | None:
    """SQLite's schema cookie (it moves with every DDL) and its every object; None on
    PostgreSQL, where an import changes no schema."""
    if not isinstance(area.storage.db, pw.SqliteDatabase):
        return None
    repo = area.contacts.repo
    cookie = await area.storage.run(repo.sql.rows, "PRAGMA schema_version")
    objects = await area.storage.run(
        repo.sql.rows, "SELECT type, name, sql FROM sqlite_master ORDER BY type, name"
    )
    return int(cookie[0][0]), [tuple(row) for row in objects]


def _people_file(count: int) -> bytes:
    lines = ["Name,Company,Phone"]
    lines += [f"Людина {i:02d},Фірма {i % 3},050{i:07d}" for i in range(count)]
    return "\n".join(lines).encode()


async def test_an_import_that_doubles_the_contacts_is_searched_as_one_added_by_hand_m1(
    area: Area,
) -> None:
    await _add_people(area)
    before = await _schema(area)
    report = await import_contacts(area.contacts, _people_file(40), "people.csv")
    assert report.created == 40
    after = await _schema(area)
    if before is not None and after is not None:
        # The name index and the search index's trigger were set aside while the
        # 40 contacts went in (ContactsRepository.bulk), then made again as they were.
        assert after[1] == before[1] and after[0] > before[0]
    await _same_as_the_scan(area)
    await area.contacts.drain()
    assert await area.storage.run(area.contacts.search.pending) == 0
    await _same_as_the_scan(area)
    items, total = await area.contacts.page("людина 0", 50, 0)
    assert total == 10 and items[0].name == "Людина 00"
    items, total = await area.contacts.page("фірма 2", 50, 0)
    assert total == 13


async def test_a_small_import_into_many_contacts_leaves_the_indexes_in_place(area: Area) -> None:
    await _add_people(area)
    before = await _schema(area)
    report = await import_contacts(area.contacts, _people_file(3), "people.csv")
    assert report.created == 3
    assert await _schema(area) == before  # no index dropped, not even for a moment
    await area.contacts.drain()
    assert [c.name for c in (await area.contacts.page("людина 02", 50, 0))[0]] == ["Людина 02"]


async def test_a_failed_bulk_write_puts_the_indexes_back_with_the_rest(area: Area) -> None:
    await _add_people(area)
    before = await _schema(area)
    repo = area.contacts.repo

    def fail_half_way() -> None:
        with repo.bulk(adding=100):
            repo.insert_many([Contact(None, "Ніхто", None, (Phone("+380501112233"),))], [[]], NOW)
            raise RuntimeError("the disk is full")

    with pytest.raises(RuntimeError, match="the disk is full"):
        await area.storage.run(fail_half_way)
    assert await _schema(area) == before
    assert await area.storage.run(repo.count) == len(PEOPLE)
    await _same_as_the_scan(area)


def test_an_upgraded_database_indexes_the_contacts_it_had_and_one_without_scans(
    tmp_path: object,
) -> None:
    url = f"sqlite:///{tmp_path}/old.db"
    db = open_database(url)
    try:
        migrate(db, [m for m in MIGRATIONS if m.version != 15])
        repo = ContactsRepository(db)
        people = [
            Contact(None, name, company, (Phone("+380501234567"),)) for name, company in PEOPLE
        ]
        repo.insert_many(people, [[] for _ in people], NOW)
        without = ContactSearch(db, repo)  # no index (as on an SQLite without trigrams)
        assert without.page(search_text("ромашка")) == repo.page(text=search_text("ромашка"))
        assert without.refresh() == 0 and not without.indexed
        assert migrate(db) == [15]
        search = ContactSearch(db, repo)
        assert search.pending() == len(PEOPLE)
        for query in QUERIES:
            text = search_text(query)
            assert search.page(text) == repo.page(text=text), query
        assert search.refresh(batch=4) == 4 and search.refresh() == 2 and search.refresh() == 0
        for query in QUERIES:
            text = search_text(query)
            assert search.page(text) == repo.page(text=text), query
    finally:
        db.close()


def test_glob_takes_wildcards_literally() -> None:
    assert glob_pattern("a*b?c[d]") == "*a[*]b[?]c[[]d]*"


async def test_postgresql_has_the_pg_trgm_index_for_like(area: Area) -> None:
    if area.storage.dialect != "postgresql":
        pytest.skip("pg_trgm is PostgreSQL's")

    def indexes() -> list[str]:
        rows = area.storage.db.execute_sql(  # type: ignore[no-untyped-call]
            "SELECT indexname FROM pg_indexes WHERE tablename = 'contacts'"
        ).fetchall()
        return [r[0] for r in rows]

    # Which plan serves a search is the planner's (the index for a rare text, the
    # ordered contacts_search scan for a common one): measured at 1M in bench/contacts.py.
    assert "contacts_search_trgm" in await area.storage.run(indexes)
