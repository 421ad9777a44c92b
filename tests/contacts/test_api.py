"""The contacts and events API of a running agent on the real simulator (contracts.md
§4): contacts, the lookup, imports over multipart, events made on answer, saved and
declined (U7, U8, C2, A5, B13)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from agent.simulator import SimControl, SimulatorInfo
from tests.scenarios.conftest import AgentFactory, AgentHandle, wait_until


async def upload(
    handle: AgentHandle, path: str, name: str, data: bytes, **form: str
) -> httpx.Response:
    assert handle.agent.api is not None
    async with httpx.AsyncClient(base_url=handle.agent.api.url) as client:
        return await client.post(
            path,
            files={"file": (name, data)},
            data=form,
            headers={"Authorization": f"Bearer {handle.agent.api.token}"},
        )


async def started(
    agent_factory: AgentFactory, simulator: SimulatorInfo, **operator: Any
) -> AgentHandle:
    handle = await agent_factory(simulator, team={"completed_talk_s": 0}, operator=operator)
    await handle.online()
    return handle


async def test_contacts_are_made_found_changed_and_deleted_over_the_api(
    agent_factory: AgentFactory, simulator: SimulatorInfo
) -> None:
    agent = await started(agent_factory, simulator)
    body = {
        "name": "Іван Петренко",
        "company": "ТОВ «Ромашка»",
        "phones": [{"number": "(044) 224 98 95", "kind": "work", "person": "Іван"}],
        "attributes": {"city": "Київ", "priority": 2},
        "responsible_ext": "001",
    }
    made = await agent.api("POST", "/api/contacts", body)
    assert made.status_code == 201, made.text
    contact = made.json()
    assert contact["phones"] == [{"number": "+380442249895", "kind": "work", "person": "Іван"}]
    cid = contact["id"]

    lookup = await agent.api("GET", "/api/contacts/lookup?number=8%20044%202249895")
    assert lookup.status_code == 200
    found = lookup.json()
    assert [m["id"] for m in found["matches"]] == [cid]
    assert found["hint"]["region"] == "Kyiv city" and found["hint"]["seen_before"] is None
    assert found["matched_phone"]["kind"] == "work"

    changed = await agent.api("PUT", f"/api/contacts/{cid}", {"company": "ТОВ «Степ»"})
    assert changed.status_code == 200 and changed.json()["company"] == "ТОВ «Степ»"
    listed = await agent.api("GET", "/api/contacts?q=степ")
    assert [c["id"] for c in listed.json()["items"]] == [cid]
    assert (await agent.api("DELETE", f"/api/contacts/{cid}")).status_code == 204
    assert (await agent.api("GET", f"/api/contacts/{cid}")).json()["deleted"] is True
    assert (await agent.api("GET", "/api/contacts/lookup?number=0442249895")).json()[
        "matches"
    ] == []


async def test_bad_contact_input_gets_a_field_and_unknown_ids_404(
    agent_factory: AgentFactory, simulator: SimulatorInfo
) -> None:
    agent = await started(agent_factory, simulator)
    bad = await agent.api("POST", "/api/contacts", {"name": "X", "phones": [{"number": "abc"}]})
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "phones[0].number"
    assert (await agent.api("GET", "/api/contacts/99")).status_code == 404
    assert (await agent.api("GET", "/api/contacts/xyz")).status_code == 404
    assert (await agent.api("POST", "/api/events/99/save", {})).status_code == 404
    missing = await agent.api("GET", "/api/contacts/lookup?number=")
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "number"


async def test_an_import_over_multipart_previews_then_stores_with_a_mapping(
    agent_factory: AgentFactory, simulator: SimulatorInfo
) -> None:
    agent = await started(agent_factory, simulator)
    data = "Іван;0442249895\nбитий;12\nОлена;0501234567\n".encode("cp1251")
    mapping = '{"name": "A", "phone": "B"}'
    preview = await upload(agent, "/api/contacts/import?preview=1", "c.csv", data, mapping=mapping)
    assert preview.status_code == 200, preview.text
    assert preview.json()["accepted"] == 2 and preview.json()["preview"] is True
    assert preview.json()["rejected"] == [
        {"row": 2, "column": "B", "reason": "not a phone number: '12'"}
    ]
    assert (await agent.api("GET", "/api/contacts")).json()["items"] == []

    stored = await upload(agent, "/api/contacts/import", "c.csv", data, mapping=mapping)
    assert stored.json()["created"] == 2
    names = [c["name"] for c in (await agent.api("GET", "/api/contacts")).json()["items"]]
    assert names == ["Іван", "Олена"]
    sales = await upload(
        agent, "/api/sales/import", "s.csv", b"Phone;Date;Amount\n0501234567;2024-03-01;99,90\n"
    )
    assert sales.json()["accepted"] == 1
    olena = (await agent.api("GET", "/api/contacts?q=0501234567")).json()["items"][0]
    stats = (await agent.api("GET", f"/api/contacts/{olena['id']}/stats")).json()
    assert stats["sales"]["total"] == "99.90" and stats["abc"] == "A"
    unreadable = await upload(agent, "/api/contacts/import", "c.pdf", b"%PDF")
    assert unreadable.status_code == 422


async def test_an_answered_call_opens_an_event_that_the_operator_saves_c2_u8(
    agent_factory: AgentFactory, simulator: SimulatorInfo, sim: SimControl
) -> None:
    agent = await started(
        agent_factory,
        simulator,
        create_event_on_answer=True,
        open_contact_on_answer=True,
        event_defaults={"kind": "вхідний", "importance": "high"},
    )
    made = await agent.api(
        "POST", "/api/contacts", {"name": "Іван Петренко", "phones": ["0442249895"]}
    )
    cid = made.json()["id"]
    opened: list[Any] = []
    reader = asyncio.create_task(_collect(agent, "open", opened))
    await wait_until(lambda: agent.agent.hub.subscribers > 0, what="the hub reader")

    uuid = sim.play_call("in", "001", "+380442249895", ring_s=0.1, talk_s=0.3)

    async def open_event() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = (await agent.api("GET", "/api/events?state=open")).json()[
            "items"
        ]
        return items

    async def event_made() -> bool:
        return bool(await open_event())

    await wait_until(event_made, what="the event made on answer")
    [event] = await open_event()
    assert (event["call_uuid"], event["contact_id"], event["kind"]) == (uuid, cid, "вхідний")
    assert event["importance"] == "high" and event["source"] == "answer"
    assert {"kind": "contact", "id": cid, "call_uuid": uuid} in opened
    await wait_until(lambda: len(opened) == 2, what="two open messages")
    assert {"kind": "event", "id": event["id"], "call_uuid": uuid} in opened
    reader.cancel()
    assert agent.agent.services.events.awaiting_event(uuid)  # A5: the dialer waits

    saved = await agent.api("POST", f"/api/events/{event['id']}/save", {"notes": "Замовлення"})
    assert saved.status_code == 200 and saved.json()["state"] == "saved"
    assert not agent.agent.services.events.awaiting_event(uuid)
    again = await agent.api("POST", f"/api/events/{event['id']}/decline")
    assert again.status_code == 409 and again.json()["error"]["code"] == "bad_state"
    await wait_until(lambda: any('"Іван Петренко"' in p for p in agent.popups), what="popups")
    assert agent.popups[0] == 'popup ring in +380442249895 "Іван Петренко"'


async def test_declining_the_event_marks_the_call_unimportant_a5(
    agent_factory: AgentFactory, simulator: SimulatorInfo, sim: SimControl
) -> None:
    agent = await started(agent_factory, simulator, create_event_on_answer=True)
    uuid = sim.play_call("out", "001", "+380671112233", ring_s=0.1, talk_s=0.3)
    events = agent.agent.services.events
    await wait_until(lambda: events.open_event_for(uuid) is not None, what="the open event")
    event = events.open_event_for(uuid)
    declined = await agent.api("POST", f"/api/events/{event.id}/decline")
    assert declined.status_code == 200 and declined.json()["state"] == "declined"
    assert await events.is_unimportant(uuid)
    assert not events.awaiting_event(uuid)


async def test_the_openapi_document_declares_every_contacts_and_events_endpoint(
    agent_factory: AgentFactory, simulator: SimulatorInfo
) -> None:
    agent = await started(agent_factory, simulator)
    document = (await agent.api("GET", "/api/openapi.json")).json()
    paths = document["paths"]
    for path, method in [
        ("/api/contacts", "get"),
        ("/api/contacts", "post"),
        ("/api/contacts/lookup", "get"),
        ("/api/contacts/import", "post"),
        ("/api/contacts/{id}", "put"),
        ("/api/contacts/{id}", "delete"),
        ("/api/contacts/{id}/merge", "post"),
        ("/api/contacts/{id}/stats", "get"),
        ("/api/contacts/{id}/events", "get"),
        ("/api/sales/import", "post"),
        ("/api/events", "get"),
        ("/api/events", "post"),
        ("/api/events/{id}/save", "post"),
        ("/api/events/{id}/decline", "post"),
    ]:
        operation = paths[path][method]
        assert operation["responses"], (path, method)
    assert "multipart/form-data" in paths["/api/contacts/import"]["post"]["requestBody"]["content"]
    assert "404" in paths["/api/contacts/{id}"]["put"]["responses"]


async def _collect(handle: AgentHandle, topic: str, into: list[Any]) -> None:
    """What the web UI hears on the live channel: the hub's messages of one topic."""
    async with handle.agent.hub.subscribe() as queue:
        while True:
            message = await queue.get()
            if message.topic == topic:
                into.append(message.data)
