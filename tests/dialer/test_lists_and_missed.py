"""Dial lists (M6: several lists, one active; add, move, delete, skip; fill from a file,
from missed calls, from contacts), missed calls handled by themselves and claimed by a
teammate (M7, B10), the one callback queue (B11), and the API's OpenAPI coverage."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from agent.core.call_events import EventDraft, EventState
from agent.files import Sheet, write_xlsx
from agent.simulator import SimControl, SimulatorInfo
from agent.storage import Storage
from agent.storage.missed_repository import MissedRepository
from tests.dialer.support import add, by_number, dialer_agent, entries, ok
from tests.scenarios.conftest import AgentFactory, AgentHandle, wait_until

A, B, C = "+380501110001", "+380501110002", "+380501110003"
CALLER = "+380671112233"


async def upload(
    handle: AgentHandle, name: str, data: bytes, query: str = "", mapping: str | None = None
) -> httpx.Response:
    assert handle.agent.api is not None
    form = {"mapping": mapping} if mapping else None
    async with httpx.AsyncClient(base_url=handle.agent.api.url) as client:
        return await client.post(
            f"/api/dial-list/import{query}",
            files={"file": (name, data)},
            data=form,
            headers={"Authorization": f"Bearer {handle.agent.api.token}"},
        )


async def test_several_lists_one_active_and_entries_moved_skipped_deleted_m6(
    agent_factory: AgentFactory, simulator: SimulatorInfo
) -> None:
    agent = await dialer_agent(agent_factory, simulator)
    await add(agent, A, B, C)  # the active list is made ("Main") when there is none
    second = await ok(agent, "POST", "/api/dial-lists", {"name": "Cold leads", "active": True})
    lists = (await ok(agent, "GET", "/api/dial-lists"))["items"]
    assert [(x["name"], x["active"], x["total"]) for x in lists] == [
        ("Main", False, 3),
        ("Cold leads", True, 0),
    ]
    assert await entries(agent) == []
    main = lists[0]["id"]
    rows = await entries(agent, main)
    assert [(r["position"], r["number"], r["state"]) for r in rows] == [
        (1, A, "pending"), (2, B, "pending"), (3, C, "pending"),
    ]  # fmt: skip
    await ok(agent, "POST", f"/api/dial-list/entries/{rows[2]['id']}/move", {"direction": "up"})
    skipped = await ok(agent, "POST", f"/api/dial-list/entries/{rows[0]['id']}/skip", {})
    assert skipped["state"] == "skipped"
    await ok(agent, "DELETE", f"/api/dial-list/entries/{rows[1]['id']}")
    assert [(r["number"], r["state"]) for r in await entries(agent, main)] == [
        (A, "skipped"), (C, "pending"),
    ]  # fmt: skip
    missing = await agent.api("DELETE", f"/api/dial-list/entries/{rows[1]['id']}")
    assert missing.status_code == 404
    await ok(agent, "POST", f"/api/dial-lists/{main}/activate", {})
    assert len(await entries(agent)) == 2
    await ok(agent, "DELETE", f"/api/dial-lists/{second['id']}")
    assert [x["name"] for x in (await ok(agent, "GET", "/api/dial-lists"))["items"]] == ["Main"]
    replaced = await ok(
        agent, "POST", "/api/dial-list", {"entries": [{"number": B}], "mode": "replace"}
    )
    assert replaced == {"accepted": 1, "rejected": []}
    assert [r["number"] for r in await entries(agent)] == [B]
    again = await add(agent, B)
    assert again["rejected"] == [{"row": 1, "column": "number", "reason": "already in the list"}]


async def test_a_csv_file_fills_the_list_with_each_bad_row_reported_and_contacts_found_m6(
    agent_factory: AgentFactory, simulator: SimulatorInfo
) -> None:
    agent = await dialer_agent(agent_factory, simulator)
    contact = await ok(agent, "POST", "/api/contacts", {"name": "Ірина", "phones": [{"number": B}]})
    text = (
        "Клієнт;Телефон;Коментар\n"
        "Петро;050 111 00 01;first\n"
        ";0501110002;\n"
        "Марія;абв;\n"
        "Олег;(050) 111-00-01;twice\n"
        "Ніна;;\n"
    )
    data = text.encode("utf-8")
    preview = await upload(agent, "leads.csv", data, "?preview=1")
    assert preview.status_code == 200, preview.text
    expected_rejects = [
        {"row": 4, "column": "Телефон", "reason": "not a phone number: 'абв'"},
        {"row": 5, "column": "Телефон", "reason": "duplicate of row 2"},
        {"row": 6, "column": "Телефон", "reason": "empty required field"},
    ]
    assert preview.json() == {"accepted": 2, "rejected": expected_rejects}
    assert await entries(agent) == [], "a preview stores nothing"
    stored = await upload(agent, "leads.csv", data)
    assert stored.json()["accepted"] == 2
    rows = await by_number(agent)
    assert rows[A]["contact"] == {"id": None, "name": "Петро"} and rows[A]["detail"] == "first"
    assert rows[B]["contact"] == {"id": contact["id"], "name": "Ірина"}


async def test_an_xlsx_file_with_a_mapping_fills_the_list_m6(
    agent_factory: AgentFactory, simulator: SimulatorInfo
) -> None:
    agent = await dialer_agent(agent_factory, simulator)
    stream = io.BytesIO()
    write_xlsx(stream, [Sheet("Calls", ["A", "B"], [["x", "0501110003"], ["y", "12"]])])
    response = await upload(agent, "calls.xlsx", stream.getvalue(), mapping='{"number": "B"}')
    assert response.json() == {
        "accepted": 1,
        "rejected": [{"row": 3, "column": "B", "reason": "not a phone number: '12'"}],
    }
    bad = await upload(agent, "calls.xlsx", stream.getvalue(), mapping='{"number": "Q"}')
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "number"
    assert [r["number"] for r in await entries(agent)] == [C]


async def test_contacts_fill_the_list_with_all_their_numbers(
    agent_factory: AgentFactory, simulator: SimulatorInfo
) -> None:
    agent = await dialer_agent(agent_factory, simulator)
    made = await ok(
        agent, "POST", "/api/contacts",
        {"name": "Acme", "phones": [{"number": A, "kind": "work"}, {"number": B}]},
    )  # fmt: skip
    result = await ok(
        agent, "POST", "/api/dial-list/fill",
        {"source": "contacts", "contact_ids": [made["id"], 999999]},
    )  # fmt: skip
    assert result == {
        "accepted": 2,
        "rejected": [{"row": 2, "column": "contact_id", "reason": "no contact 999999"}],
    }
    rows = await by_number(agent)
    assert rows[A]["detail"] == "work" and rows[B]["contact"]["name"] == "Acme"


async def test_a_number_naming_a_contact_that_is_not_there_is_refused_m6(
    agent_factory: AgentFactory, simulator: SimulatorInfo
) -> None:
    agent = await dialer_agent(agent_factory, simulator)
    result = await ok(
        agent, "POST", "/api/dial-list",
        {"entries": [{"number": A, "contact_id": 999999}, {"number": B}]},
    )  # fmt: skip
    assert result == {
        "accepted": 1,
        "rejected": [{"row": 1, "column": "contact_id", "reason": "no contact 999999"}],
    }
    assert list(await by_number(agent)) == [B]


async def test_the_list_names_the_contact_the_popup_names_by_the_ranking_rule_m6(
    agent_factory: AgentFactory, simulator: SimulatorInfo
) -> None:
    agent = await dialer_agent(agent_factory, simulator)
    older = {"name": "Old Co", "phones": [{"number": A, "kind": "office"}]}
    mine = {"name": "My client", "phones": [{"number": A, "kind": "mobile"}]}
    older = await ok(agent, "POST", "/api/contacts", older)
    mine = await ok(agent, "POST", "/api/contacts", {**mine, "responsible_ext": "001"})
    # Ranking (docs/contacts.md): the operator's own contact first, then the most recent.
    popup = await ok(agent, "GET", f"/api/contacts/lookup?number={A}")
    assert [m["id"] for m in popup["matches"]] == [mine["id"], older["id"]]
    await add(agent, A)
    row = (await by_number(agent))[A]
    assert (row["contact"], row["detail"]) == ({"id": mine["id"], "name": "My client"}, "mobile")
    # A big file matches by number alone (no details): the same contact.
    directory = agent.agent.services.dialer.lists.directory()
    assert (await directory.match_numbers([A], full=False))[A].id == mine["id"]


async def test_an_entry_given_a_contact_without_its_number_shows_no_other_numbers_detail_m6(
    agent_factory: AgentFactory, simulator: SimulatorInfo
) -> None:
    agent = await dialer_agent(agent_factory, simulator)
    phones = [{"number": A, "kind": "office"}, {"number": B, "kind": "cell"}]
    made = await ok(agent, "POST", "/api/contacts", {"name": "Acme", "phones": phones})
    body = {
        "entries": [
            {"number": C, "contact_id": made["id"]},
            {"number": B, "contact_id": made["id"]},
        ]
    }
    assert (await ok(agent, "POST", "/api/dial-list", body))["accepted"] == 2
    rows = await by_number(agent)
    assert (rows[C]["contact"]["id"], rows[C]["detail"]) == (made["id"], None)
    assert rows[B]["detail"] == "cell", "a number of the contact shows its own detail"


async def test_fill_from_planned_events_takes_the_operators_own_and_unassigned_ones_m6(
    agent_factory: AgentFactory, simulator: SimulatorInfo
) -> None:
    agent = await dialer_agent(agent_factory, simulator)
    soon = datetime.now(UTC) + timedelta(hours=1)
    events = agent.agent.services.events
    for number, operator in ((A, "001"), (B, "002"), (C, "")):  # "": nobody's
        draft = EventDraft(operator, number=number, planned_at=soon, state=EventState.SAVED)
        await events.create_event(draft)
    filled = await ok(agent, "POST", "/api/dial-list/fill", {"source": "planned"})
    assert filled == {"accepted": 2, "rejected": []}
    rows = await by_number(agent)
    assert sorted(rows) == [A, C], "a teammate's planned call stays theirs (manual §6)"
    assert rows[A]["next_dial_at"] == soon.isoformat() and rows[A]["planned_event"]
    # Asked for, the whole team's: the teammate's event comes too.
    refused = await agent.api("POST", "/api/dial-list/fill", {"source": "planned", "scope": "x"})
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "scope"
    team = await ok(agent, "POST", "/api/dial-list/fill", {"source": "planned", "scope": "team"})
    assert team["accepted"] == 1 and B in await by_number(agent)


async def missed_call(agent: AgentHandle, sim: SimControl, number: str) -> dict[str, Any]:
    uuid = sim.play_call("in", "001", number, ring_s=0.1, answer=False)
    found: list[dict[str, Any]] = []

    async def listed() -> bool:
        found[:] = [
            m for m in (await ok(agent, "GET", "/api/missed"))["items"] if m["uuid"] == uuid
        ]
        return bool(found)

    await wait_until(listed, what=f"the missed call {uuid}")
    return found[0]


async def test_a_missed_call_is_handled_by_itself_once_the_number_is_called_back_b10(
    agent_factory: AgentFactory, simulator: SimulatorInfo, sim: SimControl
) -> None:
    agent = await dialer_agent(agent_factory, simulator)
    missed = await missed_call(agent, sim, CALLER)
    assert (missed["handled"], missed["claimed_by"], missed["outcome"]) == (
        False, None, "no_answer",
    )  # fmt: skip
    claimed = await ok(agent, "POST", "/api/missed/claim", {"number": "067 111 22 33"})
    assert claimed["claimed_by"] == "001"
    sim.script(CALLER, answer=True, ring_s=0.1, talk_s=0.2)
    await ok(agent, "POST", "/api/dial", {"number": CALLER})

    async def handled() -> bool:
        items = (await ok(agent, "GET", "/api/missed"))["items"]
        return any(m["uuid"] == missed["uuid"] and m["handled"] for m in items)

    await wait_until(handled, what="the missed call handled by the call back")
    row = next(m for m in (await ok(agent, "GET", "/api/missed"))["items"])
    assert row["claimed_by"] is None and row["handled_at"] is not None


async def test_a_missed_call_is_handled_when_the_next_call_from_it_is_answered_b10(
    agent_factory: AgentFactory, simulator: SimulatorInfo, sim: SimControl
) -> None:
    agent = await dialer_agent(agent_factory, simulator)
    missed = await missed_call(agent, sim, CALLER)
    sim.play_call("in", "001", CALLER, ring_s=0.1, answer=True, talk_s=0.2)

    async def handled() -> bool:
        items = (await ok(agent, "GET", "/api/missed"))["items"]
        return any(m["uuid"] == missed["uuid"] and m["handled"] for m in items)

    await wait_until(handled, what="handled by the answered call")


async def test_a_number_a_teammate_claimed_cannot_be_claimed_or_filled_b10(
    agent_factory: AgentFactory, simulator: SimulatorInfo, sim: SimControl, tmp_path: Path
) -> None:
    shared = f"sqlite:///{tmp_path / 'team.db'}"
    agent = await dialer_agent(agent_factory, simulator, db_url=shared)
    await missed_call(agent, sim, CALLER)
    # A teammate's agent on the same database claims the number (its own connection).
    async with Storage(shared) as teammate:
        repo = MissedRepository(teammate.db)
        now = datetime.now(UTC)
        held = await teammate.run(repo.claim, CALLER, "002", now, now + timedelta(hours=1))
        assert held.claimed_by == "002"
        refused = await agent.api("POST", "/api/missed/claim", {"number": CALLER})
        assert refused.status_code == 409 and "002" in refused.json()["error"]["message"]
        listed = (await ok(agent, "GET", "/api/missed?scope=team"))["items"]
        assert listed[0]["claimed_by"] == "002"
        fill = await ok(
            agent, "POST", "/api/dial-list/fill", {"source": "missed", "from": "journal"}
        )
        assert fill["accepted"] == 0, "a teammate's claim keeps the number out of my list"
        assert await teammate.run(repo.release, CALLER, "002")
    assert (await ok(agent, "POST", "/api/missed/claim", {"number": CALLER}))["claimed_by"] == "001"


async def test_missed_calls_from_the_pbx_fill_the_list_and_the_callback_queue_merges_b11(
    agent_factory: AgentFactory, simulator: SimulatorInfo, sim: SimControl
) -> None:
    agent = await dialer_agent(agent_factory, simulator)
    await missed_call(agent, sim, CALLER)
    fill = await ok(agent, "POST", "/api/dial-list/fill", {"source": "missed"})
    assert fill == {"accepted": 1, "rejected": []}
    assert [r["number"] for r in await entries(agent)] == [CALLER]
    sim.script(A, answer=False, ring_s=0.1)
    second = await ok(agent, "POST", "/api/dial-lists", {"name": "retry"})
    await add(agent, A, list_id=second["id"])
    await ok(agent, "POST", "/api/dialer/start", {"list": second["id"]})

    async def postponed() -> bool:
        rows = await entries(agent, second["id"])
        return bool(rows[0]["state"] == "postponed")

    await wait_until(postponed, what="A postponed")
    queue = (await ok(agent, "GET", "/api/callbacks"))["items"]
    assert [(i["kind"], i["number"]) for i in queue] == [("missed", CALLER), ("dial_list", A)]
    dues = [datetime.fromisoformat(i["due_at"]) for i in queue]
    assert dues == sorted(dues)


async def test_status_and_the_hub_show_the_dialer(
    agent_factory: AgentFactory, simulator: SimulatorInfo, sim: SimControl
) -> None:
    agent = await dialer_agent(agent_factory, simulator)
    assert (await ok(agent, "GET", "/api/status"))["dialer"] == {
        "state": "idle", "paused_until": None, "list_id": None,
    }  # fmt: skip
    heard: list[dict[str, Any]] = []
    async with agent.agent.hub.subscribe() as queue:
        sim.script(A, answer=True, ring_s=0.1, talk_s=1.1)
        await add(agent, A)
        await ok(agent, "POST", "/api/dialer/start", {})

        async def done() -> bool:
            while not queue.empty():
                message = queue.get_nowait()
                if message.topic == "dialer":
                    heard.append(message.data)
            return any(h["finished"] for h in heard)

        await wait_until(done, what="the dialer's hub messages")
    states = [h["state"] for h in heard]
    assert "calling" in states and "in_call" in states and states[-1] == "idle"
    status = await ok(agent, "GET", "/api/status")
    assert status["dialer"]["list_id"] == heard[-1]["list_id"]


async def test_every_dialer_endpoint_is_in_the_openapi_document_with_its_bodies(
    agent_factory: AgentFactory, simulator: SimulatorInfo
) -> None:
    agent = await agent_factory(simulator)
    doc = (await agent.api("GET", "/api/openapi.json")).json()
    paths = doc["paths"]
    for path, method in [
        ("/api/dialer/start", "post"), ("/api/dialer/pause", "post"),
        ("/api/dialer/resume", "post"), ("/api/dialer/stop", "post"),
        ("/api/dialer/skip", "post"), ("/api/dialer", "get"), ("/api/dial-lists", "get"),
        ("/api/dial-lists", "post"), ("/api/dial-list", "get"), ("/api/dial-list", "post"),
        ("/api/dial-list/import", "post"), ("/api/dial-list/fill", "post"),
        ("/api/dial-list/sort", "post"), ("/api/missed", "get"), ("/api/missed/claim", "post"),
        ("/api/callbacks", "get"), ("/api/dnc", "post"), ("/api/dnc/{number}", "delete"),
        ("/api/dial-list/entries/{id}/move", "post"),
    ]:  # fmt: skip
        assert method in paths[path], (path, method)
    assert "multipart/form-data" in paths["/api/dial-list/import"]["post"]["requestBody"]["content"]
    pause = paths["/api/dialer/pause"]["post"]
    assert "minutes" in pause["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert "409" in pause["responses"]
