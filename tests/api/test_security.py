"""The local API refuses what a hostile page or process could send (contracts.md §4, B9):
no token, a wrong token, a foreign Origin, a Host other than 127.0.0.1/localhost
(DNS rebinding) — on plain requests and on the live channel alike."""

from __future__ import annotations

import httpx
import pytest
import websockets

from tests.api.conftest import Api


async def test_an_api_request_without_the_token_is_refused(api: Api) -> None:
    async with httpx.AsyncClient(base_url=api.url) as client:
        response = await client.get("/api/settings")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


async def test_a_wrong_token_is_refused(api: Api) -> None:
    async with httpx.AsyncClient(
        base_url=api.url, headers={"Authorization": "Bearer not-the-token"}
    ) as client:
        response = await client.get("/api/health")
    assert response.status_code == 401


@pytest.mark.parametrize("origin", ["http://evil.example", "http://127.0.0.1:1", "null"])
async def test_a_request_from_a_foreign_origin_is_refused_even_with_the_token(
    api: Api, origin: str
) -> None:
    async with api.client(headers={"Origin": origin}) as client:
        response = await client.get("/api/settings")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden_origin"


async def test_the_agents_own_origin_is_accepted(api: Api) -> None:
    async with api.client(headers={"Origin": f"http://localhost:{api.port}"}) as client:
        response = await client.get("/api/ui")
    assert response.status_code == 200


async def test_a_rebound_host_name_is_refused_dns_rebinding(api: Api) -> None:
    async with api.client(headers={"Host": f"attacker.example:{api.port}"}) as client:
        response = await client.get("/api/status")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden_host"


async def test_the_page_itself_is_refused_under_a_rebound_host_name(api: Api) -> None:
    async with httpx.AsyncClient(
        base_url=api.url, headers={"Host": f"attacker.example:{api.port}"}
    ) as client:
        assert (await client.get("/")).status_code == 403
        assert (await client.get("/i18n/en.json")).status_code == 403


async def test_the_live_channel_needs_the_token(api: Api) -> None:
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with api.live(token="wrong"):
            pass
    assert refused.value.response.status_code == 403


async def test_the_live_channel_refuses_a_foreign_origin(api: Api) -> None:
    with pytest.raises(websockets.InvalidStatus):
        async with api.live(origin=websockets.Origin("http://evil.example")):
            pass


async def test_the_openapi_document_and_the_messages_need_no_token(api: Api) -> None:
    async with httpx.AsyncClient(base_url=api.url) as client:
        assert (await client.get("/api/openapi.json")).status_code == 200
        messages = await client.get("/i18n/uk.json")
    assert messages.status_code == 200
    assert messages.json()["nav.phone"] == "Телефон"


async def test_the_page_never_carries_the_token_and_reads_it_from_the_fragment(
    api: Api,
) -> None:
    async with httpx.AsyncClient(base_url=api.url) as client:
        page = await client.get("/")
        script = await client.get("/js/api.js")
    assert page.status_code == 200 and api.token not in page.text
    assert "sessionStorage" in script.text and "replaceState" in script.text
