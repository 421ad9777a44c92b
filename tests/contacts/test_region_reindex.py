"""The number index follows the team's default region as it follows the search fields
(U7): numbers typed without a country code are indexed under the region, so a new
region re-indexes them, and a restart finds the index in step."""

from __future__ import annotations

from dataclasses import replace

from agent.contacts.service import INDEX_REGION_KEY
from tests.contacts.conftest import Area, make_area

WARSAW = "+48221234567"


async def found(area: Area, number: str) -> list[int | None]:
    return [m.contact.id for m in (await area.contacts.lookup(number)).found.matches]


async def test_a_new_default_region_reindexes_the_contacts_under_it(area: Area) -> None:
    area.settings.set(search_fields=[["code", "tel"]])
    area.contacts.check_index()
    assert area.contacts.reindexing is not None
    await area.contacts.reindexing
    contact = await area.add("Biuro", attributes={"code": "22", "tel": "123 45 67"})
    assert await found(area, WARSAW) == []  # "221234567" is no Ukrainian number

    area.settings.team = replace(area.settings.team, default_region="PL")
    area.contacts.check_index()
    task = area.contacts.reindexing
    assert task is not None
    assert await task == 1

    assert await found(area, WARSAW) == [contact.id]
    assert area.contacts.indexed_region == "PL"
    assert await area.storage.run(area.storage.kv.get, INDEX_REGION_KEY) == "PL"


async def test_an_unchanged_region_and_fields_start_no_reindex(area: Area) -> None:
    await area.add("Іван", "0442249895")
    area.contacts.check_index()
    assert area.contacts.reindexing is None
    assert area.contacts.indexed_region == "UA"


async def test_a_region_changed_while_stopped_reindexes_at_the_next_start(db_url: str) -> None:
    first = await make_area(db_url)
    first.settings.set(search_fields=[["code", "tel"]])
    first.contacts.check_index()
    assert first.contacts.reindexing is not None
    await first.contacts.reindexing
    contact = await first.add("Biuro", attributes={"code": "22", "tel": "1234567"})
    await first.storage.close()

    later = await make_area(db_url)  # the same database, started again...
    try:
        later.settings.set(search_fields=[["code", "tel"]])
        later.settings.team = replace(later.settings.team, default_region="PL")
        await later.contacts.load_index_state()  # ...with another region saved meanwhile
        assert later.contacts.reindexing is not None
        await later.contacts.drain()  # every re-index started, to the last
        assert later.contacts.indexed_region == "PL"
        assert await found(later, WARSAW) == [contact.id]
    finally:
        await later.contacts.drain()
        await later.storage.close()
