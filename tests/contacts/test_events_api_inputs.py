"""What ``POST /api/events`` and ``PUT /api/events/{id}`` refuse (contacts.md "Events";
G5: an event's call id holds at most 40 characters and names the call it records).

An event made by hand is about someone: a number, a contact or a call. A body that
names none of them is refused as a contact with no name, company or phone is, and a
call id the event cannot hold, or one that is not the event's, is refused naming the
field instead of being dropped without a word.
"""

from __future__ import annotations

from typing import Any

from agent.simulator import SimulatorInfo
from tests.scenarios.conftest import AgentFactory, AgentHandle

CALL = "a1" * 16
TOO_LONG = "c" * 60  # G5: more than the 40 characters an event's call id holds


async def started(agent_factory: AgentFactory, simulator: SimulatorInfo) -> AgentHandle:
    handle = await agent_factory(simulator, team={"completed_talk_s": 0})
    await handle.online()
    return handle


async def made(handle: AgentHandle, body: dict[str, Any]) -> dict[str, Any]:
    response = await handle.api("POST", "/api/events", body)
    assert response.status_code == 201, response.text
    event: dict[str, Any] = response.json()
    return event


def refusal(response: Any) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


async def test_an_event_with_no_number_contact_or_call_is_refused_and_nothing_is_stored(
    agent_factory: AgentFactory, simulator: SimulatorInfo
) -> None:
    agent = await started(agent_factory, simulator)
    for body in ({}, {"notes": "call back", "kind": "call"}, {"number": "", "call_uuid": ""}):
        error = refusal(await agent.api("POST", "/api/events", body))
        assert error["code"] == "event_empty", body
        assert error["field"] == "number"
        assert error["message"] == "an event needs a number, a contact or a call"
    assert (await agent.api("GET", "/api/events")).json()["total"] == 0


async def test_an_event_about_a_number_a_contact_or_a_call_is_made(
    agent_factory: AgentFactory, simulator: SimulatorInfo
) -> None:
    agent = await started(agent_factory, simulator)
    contact = (await agent.api("POST", "/api/contacts", {"name": "Олена"})).json()
    assert (await made(agent, {"number": "0501110001"}))["number"] == "+380501110001"
    assert (await made(agent, {"contact_id": contact["id"]}))["contact_id"] == contact["id"]
    assert (await made(agent, {"call_uuid": CALL}))["call_uuid"] == CALL


async def test_a_call_id_longer_than_40_characters_is_refused_when_made_g5(
    agent_factory: AgentFactory, simulator: SimulatorInfo
) -> None:
    agent = await started(agent_factory, simulator)
    error = refusal(
        await agent.api("POST", "/api/events", {"number": "0501110001", "call_uuid": TOO_LONG})
    )
    assert error["field"] == "call_uuid"
    assert (await agent.api("GET", "/api/events")).json()["total"] == 0


async def test_an_edit_with_a_call_id_longer_than_40_characters_is_refused_g5(
    agent_factory: AgentFactory, simulator: SimulatorInfo
) -> None:
    agent = await started(agent_factory, simulator)
    event = await made(agent, {"number": "0501110001", "call_uuid": CALL, "state": "open"})
    for method, path in (
        ("PUT", f"/api/events/{event['id']}"),
        ("POST", f"/api/events/{event['id']}/save"),
    ):
        body = {"notes": "changed", "call_uuid": TOO_LONG}
        error = refusal(await agent.api(method, path, body))
        assert error["field"] == "call_uuid", path
        assert "40" in error["message"]
    stored = (await agent.api("GET", f"/api/events/{event['id']}")).json()
    assert (stored["call_uuid"], stored["notes"], stored["state"]) == (CALL, "", "open")


async def test_an_edit_cannot_move_an_event_to_another_call_g5(
    agent_factory: AgentFactory, simulator: SimulatorInfo
) -> None:
    agent = await started(agent_factory, simulator)
    event = await made(agent, {"number": "0501110001", "call_uuid": CALL})
    moved = await agent.api("PUT", f"/api/events/{event['id']}", {"call_uuid": "b2" * 16})
    error = refusal(moved)
    assert error["field"] == "call_uuid"
    assert error["message"] == "an event's call_uuid cannot be changed"
    assert (await agent.api("GET", f"/api/events/{event['id']}")).json()["call_uuid"] == CALL


async def test_an_edit_that_sends_the_event_back_with_its_own_call_id_is_taken(
    agent_factory: AgentFactory, simulator: SimulatorInfo
) -> None:
    """A client that edits the event it read and sends it all back (the call id as the
    PBX writes it, dashed and in capitals, or null on an event without a call)."""
    agent = await started(agent_factory, simulator)
    event = await made(agent, {"number": "0501110001", "call_uuid": CALL})
    dashed = f"{CALL[:8]}-{CALL[8:12]}-{CALL[12:16]}-{CALL[16:20]}-{CALL[20:]}".upper()
    edited = await agent.api(
        "PUT", f"/api/events/{event['id']}", {**event, "call_uuid": dashed, "notes": "ok"}
    )
    assert edited.status_code == 200, edited.text
    assert (edited.json()["call_uuid"], edited.json()["notes"]) == (CALL, "ok")
    plain = await made(agent, {"number": "0501110002"})
    again = await agent.api("PUT", f"/api/events/{plain['id']}", {**plain, "notes": "ok"})
    assert again.status_code == 200, again.text


async def test_an_unknown_event_is_not_found_whatever_call_id_the_edit_names(
    agent_factory: AgentFactory, simulator: SimulatorInfo
) -> None:
    agent = await started(agent_factory, simulator)
    missing = await agent.api("PUT", "/api/events/999", {"call_uuid": TOO_LONG})
    assert missing.status_code == 404, missing.text
