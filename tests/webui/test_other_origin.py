"""A page served from another origin cannot call the local API (contracts.md §4, B9):
not to read (CORS and the Origin check), not to act (a "simple" cross-site POST that
needs no CORS preflight is refused by the Origin check), not on the live channel —
even when that page somehow holds the token."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
import uvicorn
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from agent.simulator import SimControl
from tests.webui.conftest import UIFactory

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

EVIL = """<!doctype html><html><body><script>
const api = "%(api)s", token = "%(token)s";
window.results = {};
async function attempt(name, fn) {
  try { window.results[name] = await fn(); } catch (e) { window.results[name] = "blocked: " + e; }
}
(async () => {
  await attempt("read", async () => {
    const r = await fetch(api + "/api/settings", { headers: { Authorization: "Bearer " + token } });
    return "read " + r.status + " " + (await r.text());
  });
  await attempt("dial", async () => {
    const r = await fetch(api + "/api/dial", {
      method: "POST", mode: "no-cors",
      headers: { "Content-Type": "text/plain" },
      body: JSON.stringify({ number: "+380501234567" }),
    });
    return "sent, opaque=" + (r.type === "opaque");
  });
  await attempt("live", () => new Promise((resolve) => {
    const ws = new WebSocket(api.replace("http", "ws") + "/api/live?token=" + token);
    ws.onmessage = (m) => resolve("message " + m.data.slice(0, 40));
    ws.onclose = () => resolve("closed");
  }));
  window.done = true;
})();
</script></body></html>"""


@pytest_asyncio.fixture(loop_scope="module")
async def other_origin() -> AsyncIterator[Any]:
    """A second web server on another port of 127.0.0.1: another origin."""
    page: dict[str, str] = {"html": ""}

    async def index(request: Any) -> HTMLResponse:
        return HTMLResponse(page["html"])

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(Starlette(routes=[Route("/", index)]), lifespan="off", log_level="warning")
    )
    task = asyncio.ensure_future(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    yield page, f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


async def test_a_page_from_another_origin_can_neither_read_nor_act(
    ui_factory: UIFactory, other_origin: Any, sim: SimControl
) -> None:
    page_html, origin = other_origin
    ui = await ui_factory()
    page_html["html"] = EVIL % {"api": ui.url, "token": ui.token}
    await ui.page.goto(origin + "/")
    await ui.page.wait_for_function("() => window.done === true")
    results = await ui.page.evaluate("() => window.results")
    assert results["read"].startswith("blocked"), results
    assert results["live"] == "closed", results
    makes = [r for r in sim.requests() if r["path"].startswith("/rest/user/makeCall")]
    assert results["dial"] == "sent, opaque=true", results  # it went out, and was refused
    assert makes == [], "a cross-site POST reached the PBX"
