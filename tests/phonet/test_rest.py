"""phonet/rest.py against the real simulator (contracts.md §3) and a raw HTTP server for
answers the simulator never gives. phonet-api.md §1–§2; B15 for the stats."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import pytest

from agent.core.errors import (
    InvalidInput,
    PbxAuthRejected,
    PbxProtocolError,
    PbxSessionExpired,
    PbxUnreachable,
)
from agent.core.events import Direction
from agent.logs import RedactingFilter
from agent.phonet.rest import PhonetRest, epoch_ms
from agent.simulator import SimControl, SimulatorInfo

from .support import eventually, rest_for

WRONG_KEY = "WrongKey0123456789WrongKey012345"


def entries(sim: SimControl, path: str, method: str | None = None) -> list[dict[str, Any]]:
    return [
        r
        for r in sim.requests()
        if r["path"].rstrip("/") == path and (method is None or r["method"] == method)
    ]


AUTHORIZE = "/rest/security/authorize"


# ------------------------------------------------------------------ the session


async def test_one_authorize_serves_many_calls_with_the_session_cookie(
    rest: PhonetRest, sim: SimControl
) -> None:
    users = await rest.users()
    assert [u.ext for u in users] == ["001"]
    await rest.users()
    await rest.active_calls("001")
    assert len(entries(sim, AUTHORIZE)) == 1
    assert [r["status"] for r in entries(sim, "/rest/users")] == [200, 200]
    assert rest.stats.authorizations == 1
    assert rest.stats.requests == 4
    assert rest.stats.last_latency_ms is not None


async def test_authorize_sends_domain_and_key_as_json(rest: PhonetRest, sim: SimControl) -> None:
    await rest.authorize()
    (entry,) = entries(sim, AUTHORIZE)
    body = json.loads(entry["body"])
    assert body == {"domain": "sim.phonet.local", "apiKey": "***"}  # masked by the simulator


async def test_an_expired_session_is_renewed_once_and_the_call_succeeds(
    rest: PhonetRest, sim: SimControl
) -> None:
    await rest.users()
    sim.expire()
    assert [u.ext for u in await rest.users()] == ["001"]
    statuses = [(r["path"], r["status"]) for r in sim.requests()]
    assert statuses == [
        (AUTHORIZE, 200),
        ("/rest/users", 200),
        ("/rest/users", 403),
        (AUTHORIZE, 200),
        ("/rest/users", 200),
    ]
    assert rest.stats.reauthorizations == 1


async def test_parallel_calls_after_an_expiry_authorize_only_once(
    rest: PhonetRest, sim: SimControl
) -> None:
    await rest.users()
    sim.expire()
    results = await asyncio.gather(*(rest.users() for _ in range(5)))
    assert all(r[0].ext == "001" for r in results)
    assert len(entries(sim, AUTHORIZE)) == 2
    assert rest.stats.reauthorizations == 1


async def test_a_wrong_key_is_refused_without_the_key_in_the_message(
    simulator: SimulatorInfo, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with rest_for(simulator, api_key=WRONG_KEY) as rest:
        with pytest.raises(PbxAuthRejected) as caught:
            await rest.users()
    assert "HTTP 403" in str(caught.value)
    assert caught.value.exit_code == 4
    assert WRONG_KEY not in str(caught.value)
    assert WRONG_KEY not in caplog.text


async def test_the_key_and_session_never_reach_the_log(
    simulator: SimulatorInfo, sim: SimControl, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # Every handler of the agent redacts (agent/logs.py); httpcore's debug trace prints
    # response headers, so the session id is registered with the redactor when it comes.
    caplog.handler.addFilter(RedactingFilter())
    async with rest_for(simulator) as rest:
        await rest.users()
        session = rest._session
        sim.expire()
        await rest.users()
        sim.faults(rest_5xx=1)
        with pytest.raises(PbxUnreachable):
            await rest.users()
    assert session and "JSESSIONID" in caplog.text  # the trace was there, masked
    assert simulator.api_key not in caplog.text
    assert session not in caplog.text
    ours = " ".join(r.getMessage() for r in caplog.records if r.name.startswith("agent.phonet"))
    assert "PBX session expired" in ours


# ----------------------------------------------------------------- trouble


async def test_a_5xx_is_unreachable_and_the_next_call_works(
    rest: PhonetRest, sim: SimControl
) -> None:
    await rest.authorize()
    sim.faults(rest_5xx=1)
    with pytest.raises(PbxUnreachable, match="HTTP 5"):
        await rest.users()
    assert rest.stats.errors == 1
    assert "HTTP 5" in (rest.stats.last_error or "")
    assert await rest.users()


async def test_a_5xx_at_authorize_is_unreachable_not_a_refused_key(
    rest: PhonetRest, sim: SimControl
) -> None:
    sim.faults(rest_5xx=1)
    with pytest.raises(PbxUnreachable):
        await rest.users()


async def test_a_slow_answer_within_the_timeout_is_fine(rest: PhonetRest, sim: SimControl) -> None:
    sim.faults(rest_delay_ms=50, rest_delay_n=2)
    assert await rest.users()


async def test_an_answer_slower_than_the_timeout_is_unreachable(
    simulator: SimulatorInfo, sim: SimControl
) -> None:
    async with rest_for(simulator, timeout_s=0.1) as rest:
        await rest.authorize()
        sim.faults(rest_delay_ms=1000, rest_delay_n=1)
        with pytest.raises(PbxUnreachable, match="timed out"):
            await rest.users()


async def test_a_closed_port_is_unreachable() -> None:
    async with PhonetRest(
        domain="nowhere.local", api_key=WRONG_KEY, base_url=f"http://127.0.0.1:{free_port()}"
    ) as rest:
        with pytest.raises(PbxUnreachable, match="network error") as caught:
            await rest.authorize()
    assert caught.value.__cause__ is not None  # raised from the httpx error


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


# ------------------------------------------------------------------- history


def history_record(uuid: int, end_ms: int, direction: int = 2) -> dict[str, Any]:
    """A raw Phonet history record (phonet-api.md §2.3)."""
    return {
        "uuid": f"{uuid:032x}",
        "endAt": end_ms,
        "lgDirection": direction,
        "otherLegNum": "+380441234567",
        "otherLegName": None,
        "leg": {"id": 1, "type": 1, "displayName": "Олена", "ext": "001"},
        "leg2": None,
        "billSecs": 5,
        "duration": 9,
        "disposition": 0,
        "transferHistory": None,
        "audioRecUrl": None,
        "trunk": None,
    }


WINDOW_FROM = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


async def test_history_pages_walk_the_window_until_a_short_page(
    rest: PhonetRest, sim: SimControl
) -> None:
    base = epoch_ms(WINDOW_FROM)
    inside = [history_record(i, base + i * 1000) for i in range(120)]
    outside = [history_record(1000 + i, base - 1 - i) for i in range(3)] + [
        history_record(2000 + i, base + 119_001 + i) for i in range(3)
    ]
    sim.add_history(inside + outside)
    window_to = WINDOW_FROM + timedelta(seconds=119)  # inclusive: the last one is in
    pages = [
        (offset, page)
        async for offset, page in rest.history_pages(
            "company", time_from=WINDOW_FROM, time_to=window_to
        )
    ]
    assert [(offset, len(page)) for offset, page in pages] == [(0, 50), (50, 50), (100, 20)]
    seen = {r.uuid for _, page in pages for r in page}
    assert seen == {f"{i:032x}" for i in range(120)}
    queries = [dict(parse_qsl(r["query"])) for r in entries(sim, "/rest/calls/company.api")]
    assert [q["offset"] for q in queries] == ["0", "50", "100"]
    assert {q["timeFrom"] for q in queries} == {str(base)}
    assert {q["timeTo"] for q in queries} == {str(base + 119_000)}
    assert {q["limit"] for q in queries} == {"50"}


async def test_a_history_page_reads_records_and_directions_go_as_repeated_keys(
    rest: PhonetRest, sim: SimControl
) -> None:
    base = epoch_ms(WINDOW_FROM)
    sim.add_history([history_record(1, base + 10, 2), history_record(2, base + 20, 1)])
    page = await rest.history(
        "company",
        time_from=WINDOW_FROM,
        time_to=WINDOW_FROM + timedelta(minutes=1),
        limit=10,
        directions=[2, 4],
    )
    assert [r.uuid for r in page] == [f"{1:032x}"]
    assert page[0].direction is Direction.OUT
    assert page[0].end_at == WINDOW_FROM + timedelta(milliseconds=10)
    (entry,) = entries(sim, "/rest/calls/company.api")
    assert "directions=2&directions=4" in entry["query"]


async def test_bad_history_records_are_skipped_counted_and_do_not_end_paging(
    rest: PhonetRest, sim: SimControl, caplog: pytest.LogCaptureFixture
) -> None:
    base = epoch_ms(WINDOW_FROM)
    records = [history_record(i, base + i * 1000) for i in range(55)]
    records[3]["disposition"] = None  # on the first page (newest first: index 51)
    sim.add_history(records)
    pages = [
        page
        async for _, page in rest.history_pages(
            "company", time_from=WINDOW_FROM, time_to=WINDOW_FROM + timedelta(minutes=5)
        )
    ]
    assert [len(p) for p in pages] == [50, 4]
    assert rest.stats.rejected_records == 1
    assert "no disposition" in caplog.text


@pytest.mark.parametrize("kind", ["company", "users", "missed"])
async def test_each_history_kind_has_its_path(rest: PhonetRest, sim: SimControl, kind: str) -> None:
    await rest.history(
        kind,  # type: ignore[arg-type]
        time_from=WINDOW_FROM,
        time_to=WINDOW_FROM + timedelta(minutes=1),
    )
    assert entries(sim, f"/rest/calls/{kind}.api")


async def test_history_limits_are_checked_before_asking(rest: PhonetRest) -> None:
    with pytest.raises(ValueError):
        await rest.history("company", time_from=WINDOW_FROM, time_to=WINDOW_FROM, limit=51)
    with pytest.raises(ValueError):
        await rest.history(
            "company", time_from=WINDOW_FROM.replace(tzinfo=None), time_to=WINDOW_FROM
        )


# ------------------------------------------------------------- calls


async def test_make_call_answers_the_uuid_the_pbx_plays_and_hangup_ends_it(
    rest: PhonetRest, sim: SimControl
) -> None:
    sim.script("+380501112233", answer=True, ring_s=None, talk_s=None)
    uuid = await rest.make_call("001", "+380501112233")
    assert len(uuid) == 32 and uuid == uuid.lower()
    (entry,) = entries(sim, "/rest/user/makeCall")
    assert json.loads(entry["body"]) == {"legExt": "001", "otherLegNum": "+380501112233"}
    active = await eventually(lambda: sim.call(uuid)["state"] != "ended" and sim.call(uuid))
    assert active["number"] == "+380501112233"
    calls = await rest.active_calls("001")
    assert [(c.uuid, c.direction, c.outgoing) for c in calls] == [(uuid, Direction.OUT, True)]
    await rest.hangup(uuid)  # an empty answer is fine (phonet-api.md §2.5)
    await eventually(lambda: sim.call(uuid)["state"] == "ended")
    assert [r["method"] for r in entries(sim, f"/rest/calls/active/{uuid}/hangup")] == ["GET"]


async def test_active_calls_show_a_ringing_incoming_call(rest: PhonetRest, sim: SimControl) -> None:
    uuid = sim.play_call("in", "001", "+380441234567", ring_s=None)
    (call,) = await rest.active_calls("001")
    assert (call.uuid, call.direction, call.number, call.outgoing) == (
        uuid,
        Direction.IN,
        "+380441234567",
        False,
    )
    assert call.answer_at is None


async def test_hangup_refuses_what_is_not_a_call_id(rest: PhonetRest) -> None:
    with pytest.raises(InvalidInput):
        await rest.hangup("../../rest/users")


def test_the_audio_url_is_the_public_path(simulator: SimulatorInfo) -> None:
    rest = rest_for(simulator)
    assert rest.audio_url("ab12") == f"{simulator.base_url}/rest/public/calls/ab12/audio"
    asyncio.run(rest.aclose())


def test_the_default_base_url_is_https_on_the_domain() -> None:
    rest = PhonetRest(domain="acme.phonet.com.ua", api_key=WRONG_KEY)
    assert rest.audio_url("ab") == "https://acme.phonet.com.ua/rest/public/calls/ab/audio"
    asyncio.run(rest.aclose())


# ---------------------------------------------------------------------- TLS


async def test_tls_with_the_simulator_ca_file(tls_simulator: SimulatorInfo) -> None:
    assert tls_simulator.base_url.startswith("https://")
    async with rest_for(tls_simulator) as rest:
        assert [u.ext for u in await rest.users()] == ["001"]


async def test_tls_without_the_ca_is_an_unreachable_tls_error(
    tls_simulator: SimulatorInfo,
) -> None:
    async with rest_for(tls_simulator, ca_file=None) as rest:  # the OS store: unknown CA
        with pytest.raises(PbxUnreachable, match="TLS error"):
            await rest.authorize()


# ------------------------------------------------- answers the simulator never gives


@dataclass
class Canned:
    status: int = 200
    body: bytes = b"[]"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class OddPbx:
    """A raw HTTP server on 127.0.0.1 answering canned responses by path."""

    base_url: str
    routes: dict[str, list[Canned]]
    seen: list[str] = field(default_factory=list)

    def on(self, path: str, *answers: Canned) -> None:
        self.routes[path] = list(answers)


SESSION = "SESSIONSECRET0123456789ABCDEF012"


@pytest.fixture
async def odd_pbx() -> AsyncIterator[OddPbx]:
    routes: dict[str, list[Canned]] = {
        AUTHORIZE: [Canned(body=b"{}", headers={"Set-Cookie": f"JSESSIONID={SESSION}; Path=/"})]
    }
    pbx = OddPbx("", routes)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            length = 0
            for line in head[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if length:
                await reader.readexactly(length)
            path = head[0].split(" ")[1].split("?")[0]
            pbx.seen.append(path)
            answers = routes.get(path) or [Canned(404, b"")]
            answer = answers.pop(0) if len(answers) > 1 else answers[0]
            lines = [f"HTTP/1.1 {answer.status} X", f"Content-Length: {len(answer.body)}"]
            lines += [f"{k}: {v}" for k, v in answer.headers.items()]
            lines.append("Connection: close")
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + answer.body)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    pbx.base_url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    yield pbx
    server.close()
    await server.wait_closed()


def odd_rest(pbx: OddPbx) -> PhonetRest:
    return PhonetRest(domain="odd.local", api_key=WRONG_KEY, base_url=pbx.base_url)


async def test_a_body_that_is_not_json_is_a_protocol_error(odd_pbx: OddPbx) -> None:
    odd_pbx.on("/rest/users", Canned(body=b"<html>maintenance</html>"))
    async with odd_rest(odd_pbx) as rest:
        with pytest.raises(PbxProtocolError, match="not JSON"):
            await rest.users()


async def test_a_body_of_the_wrong_shape_is_a_protocol_error(odd_pbx: OddPbx) -> None:
    odd_pbx.on("/rest/calls/active/v3", Canned(body=b'{"items": []}'))
    async with odd_rest(odd_pbx) as rest:
        with pytest.raises(PbxProtocolError, match="expected a JSON array"):
            await rest.active_calls("001")


async def test_authorize_without_a_session_cookie_is_a_protocol_error(odd_pbx: OddPbx) -> None:
    odd_pbx.on(AUTHORIZE, Canned(body=b"{}"))
    async with odd_rest(odd_pbx) as rest:
        with pytest.raises(PbxProtocolError, match="session cookie"):
            await rest.authorize()


async def test_authorize_401_is_a_refused_key(odd_pbx: OddPbx) -> None:
    odd_pbx.on(AUTHORIZE, Canned(401, b""))
    async with odd_rest(odd_pbx) as rest:
        with pytest.raises(PbxAuthRejected):
            await rest.authorize()


async def test_a_session_refused_twice_is_expired_and_the_id_is_not_in_the_message(
    odd_pbx: OddPbx, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    odd_pbx.on("/rest/users", Canned(403, f"JSESSIONID={SESSION} is dead".encode()))
    async with odd_rest(odd_pbx) as rest:
        with pytest.raises(PbxSessionExpired) as caught:
            await rest.users()
    assert odd_pbx.seen == [AUTHORIZE, "/rest/users", AUTHORIZE, "/rest/users"]
    assert SESSION not in str(caught.value) and SESSION not in caplog.text
    assert WRONG_KEY not in caplog.text


async def test_a_redirect_counts_as_a_dead_session(odd_pbx: OddPbx) -> None:
    # phonet-api.md §4.2: one integrator re-authorizes on 302 [I].
    odd_pbx.on("/rest/users", Canned(302, b"", {"Location": "/login"}), Canned(body=b"[]"))
    async with odd_rest(odd_pbx) as rest:
        assert await rest.users() == []
    assert odd_pbx.seen.count(AUTHORIZE) == 2


async def test_another_4xx_is_a_protocol_error_naming_the_status(odd_pbx: OddPbx) -> None:
    odd_pbx.on("/rest/user/makeCall", Canned(400, b"bad number"))
    async with odd_rest(odd_pbx) as rest:
        with pytest.raises(PbxProtocolError, match="HTTP 400"):
            await rest.make_call("001", "12")


async def test_make_call_without_a_uuid_is_a_protocol_error(odd_pbx: OddPbx) -> None:
    odd_pbx.on("/rest/user/makeCall", Canned(body=b"{}"))
    async with odd_rest(odd_pbx) as rest:
        with pytest.raises(PbxProtocolError, match="no uuid"):
            await rest.make_call("001", "+380501112233")


async def test_paging_that_does_not_advance_is_stopped(odd_pbx: OddPbx) -> None:
    page = [history_record(i, 1_700_000_000_000 + i) for i in range(50)]
    odd_pbx.on("/rest/calls/company.api", Canned(body=json.dumps(page).encode()))
    async with odd_rest(odd_pbx) as rest:
        with pytest.raises(PbxProtocolError, match="does not advance"):
            async for _ in rest.history_pages(
                "company", time_from=WINDOW_FROM, time_to=WINDOW_FROM
            ):
                pass
    assert odd_pbx.seen.count("/rest/calls/company.api") == 2
