"""Saving ``team.default_region`` re-indexes the contacts (as saving
``operator.search_fields`` does, U7): numbers typed without a country code are found
under the new country at once, not after a restart."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api
from tests.scenarios.conftest import wait_until

WARSAW = "+48221234567"


async def matches(api: Api, number: str) -> list[Any]:
    answer = await api.get("/api/contacts/lookup", number=number)
    assert answer.status_code == 200, answer.text
    return [m["id"] for m in answer.json()["matches"]]


async def test_saving_a_new_default_region_reindexes_the_contacts_under_it(api: Api) -> None:
    contacts = api.services.contacts
    fields = await api.put("/api/settings", {"operator": {"search_fields": [["code", "tel"]]}})
    assert fields.status_code == 200, fields.text
    await wait_until(lambda: contacts.indexed_fields == [["code", "tel"]], what="re-indexed")
    made = await api.post(
        "/api/contacts",
        {"name": "Biuro", "phones": [], "attributes": {"code": "22", "tel": "1234567"}},
    )
    assert made.status_code == 201, made.text
    assert await matches(api, WARSAW) == []  # "221234567" is no Ukrainian number

    answer = await api.put("/api/settings", {"team": {"default_region": "PL"}})
    assert answer.status_code == 200, answer.text
    assert "team.default_region" in answer.json()["applied"]
    await wait_until(lambda: contacts.indexed_region == "PL", what="re-indexed under PL")
    assert await matches(api, WARSAW) == [made.json()["id"]]
