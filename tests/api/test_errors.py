"""Every answer of the local API that is not a success has the documented error shape
``{"error": {"code", "message", "field"?}}`` and a status the OpenAPI document
declares (contracts.md §4, B9); a failure inside the agent is a 500 in that shape,
told in full in the agent's log with its secrets masked."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.logs import setup_logging
from agent.simulator import SimControl
from tests.api.conftest import Api
from tests.scenarios.conftest import wait_until


def declared(api_doc: dict[str, Any], method: str, path: str) -> set[int]:
    return {int(status) for status in api_doc["paths"][path][method]["responses"]}


def error_of(answer: httpx.Response) -> dict[str, Any]:
    body = answer.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str)
    return error


# ------------------------------------------------------------------ a bug: 500, logged


@pytest.fixture
def agent_log(tmp_path: Path) -> Iterator[Path]:
    """The agent process's logging (agent/logs.py, as the CLI sets it up): agent.log."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, list(root.filters))
    # setup_logging quietens the libraries that log URLs: put their levels back too,
    # or later tests that read their debug trace see nothing.
    named = {n: logging.getLogger(n).level for n in logging.root.manager.loggerDict}
    path = tmp_path / "logs" / "agent.log"
    setup_logging(path, console=False)
    yield path
    for name, level in named.items():
        logging.getLogger(name).setLevel(level)
    for name in set(logging.root.manager.loggerDict) - set(named):
        logging.getLogger(name).setLevel(logging.NOTSET)
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])
    root.filters[:] = saved[2]


class BrokenJournal:
    """The journal with a bug: its page fails, saying something secret."""

    def __init__(self, real: Any, secret: str) -> None:
        self.real = real
        self.secret = secret

    async def page(self, **query: Any) -> Any:
        raise RuntimeError(f"the journal broke while holding {self.secret}")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


async def test_a_failure_inside_a_route_is_a_500_in_the_error_shape_and_in_agent_log(
    api: Api, agent_log: Path
) -> None:
    secret = api.services.agent.options.api_key  # registered for masking by the PBX client
    real = api.services.journal
    api.services.journal = BrokenJournal(real, secret)
    async with api.client() as client:
        try:
            answer = await client.get("/api/journal")
        finally:
            api.services.journal = real
        assert answer.status_code == 500
        error = error_of(answer)
        assert error["code"] == "internal"
        assert "broke" not in error["message"]  # no detail of the bug leaves the agent
        # The agent goes on serving, on the same client.
        assert (await client.get("/api/status")).status_code == 200

    text = agent_log.read_text("utf-8")
    assert "the local API failed on GET /api/journal" in text
    assert "Traceback (most recent call last)" in text
    assert "RuntimeError: the journal broke while holding ***" in text
    assert secret not in text


async def test_what_uvicorn_itself_logs_goes_to_agent_log_masked(api: Api, agent_log: Path) -> None:
    secret = api.services.agent.options.api_key
    logging.getLogger("uvicorn.error").error("uvicorn says %s", secret)
    text = agent_log.read_text("utf-8")
    assert "uvicorn.error: uvicorn says ***" in text
    assert secret not in text


# ------------------------------------------------------------------ hang-up (M2)


async def test_hanging_up_a_call_the_pbx_has_ended_is_a_conflict_not_an_outage_m2(
    api: Api, sim: SimControl
) -> None:
    uuid = sim.play_call("in", "001", "+380442249895", ring_s=None)  # rings until hung up
    await wait_until(lambda: bool(api.services.runtime.phone.line_list), what="the line")
    sim.hangup(uuid)  # the caller gives up: the PBX has ended the call
    answer = await api.post("/api/hangup", {"uuid": uuid})
    assert answer.status_code == 409, answer.text
    error = error_of(answer)
    assert error["code"] == "call_ended"  # message key error.call_ended
    assert error["field"] == "uuid"
    doc = (await api.get("/api/openapi.json")).json()
    assert 409 in declared(doc, "post", "/api/hangup")


async def test_hanging_up_a_call_the_pbx_never_had_is_a_conflict_too_m2(api: Api) -> None:
    answer = await api.post("/api/hangup", {"uuid": "1eec609c693b481eb0b8df3b26f3dcf1"})
    assert answer.status_code == 409, answer.text
    assert error_of(answer)["code"] == "call_ended"


async def test_an_unreachable_pbx_is_still_503_for_a_hang_up_m2(api: Api, sim: SimControl) -> None:
    sim.faults(rest_5xx=10)
    answer = await api.post("/api/hangup", {"uuid": "1eec609c693b481eb0b8df3b26f3dcf1"})
    assert answer.status_code == 503, answer.text
    assert error_of(answer)["code"] == "pbx_unreachable"


# ------------------------------------------------------------------ found by schemathesis


async def test_an_id_that_is_not_a_plain_number_is_not_found_when_merging_contacts(
    api: Api,
) -> None:
    # "²" is a digit to str.isdigit but not to int(): it used to be an undeclared 400.
    answer = await api.post("/api/contacts/%C2%B2/merge", {"ids": [552, 1688]})
    assert answer.status_code == 404, answer.text
    assert error_of(answer)["field"] == "id"
    doc = (await api.get("/api/openapi.json")).json()
    assert 404 in declared(doc, "post", "/api/contacts/{id}/merge")


@pytest.mark.parametrize(
    "path", ["/api/sales/import", "/api/contacts/import", "/api/dial-list/import"]
)
async def test_an_upload_that_is_not_a_readable_form_is_invalid_input_on_its_field(
    api: Api, path: str
) -> None:
    boundary = "0013c17252556877eb2cdb1605720b20"
    body = (
        f"--{boundary}\r\n".encode()
        + "剅ò\x8dª".encode()
        + b"\xf1\xa9\xba\xa8\x1f\xc2\xa0,"
        + f"--{boundary}--\r\n".encode()
    )
    async with api.client() as client:
        answer = await client.post(
            path,
            params={"preview": 1},
            content=body,
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
    assert answer.status_code == 422, answer.text
    error = error_of(answer)
    assert error["code"] == "upload_unreadable"  # message key error.upload_unreadable
    assert error["field"] == "file"
    doc = (await api.get("/api/openapi.json")).json()
    assert 422 in declared(doc, "post", path)


@pytest.mark.parametrize("chunked", [False, True], ids=["length-given", "chunked"])
async def test_a_file_over_the_upload_limit_is_refused_and_the_next_import_works(
    api: Api, chunked: bool
) -> None:
    """F1: a 70 MB file is refused on its field, whether the request says its length
    (refused before reading) or streams it (refused once the body passes the limit)."""
    boundary = "limitlimitlimit"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        'filename="big.csv"\r\nContent-Type: text/csv\r\n\r\nName;Phone\r\n'
    ).encode()
    row = b"x" * 1000 + b";0501234567\r\n"
    rows = 70 * 1000 * 1024 // len(row)  # 70 MB: past the 64 MB limit and the form slack
    tail = f"\r\n--{boundary}--\r\n".encode()

    async def stream() -> Any:
        yield head
        for _ in range(rows // 1000):
            yield row * 1000
        yield tail

    content: Any = stream() if chunked else head + row * rows + tail
    async with api.client() as client:
        answer = await client.post(
            "/api/contacts/import",
            params={"preview": 1},
            content=content,
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
    assert answer.status_code == 422, answer.text[:300]
    error = error_of(answer)
    assert (error["code"], error["field"]) == ("file.too_large", "file")
    assert "64 MB" in error["message"]

    small = {"file": ("people.csv", "Name;Phone\nІван;0442249895\n".encode(), "text/csv")}
    async with api.client() as client:
        answer = await client.post("/api/contacts/import", params={"preview": 1}, files=small)
    assert answer.status_code == 200, answer.text
