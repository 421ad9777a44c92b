"""Smoke test of the real window: ``phonet-agent window`` with pywebview's GTK backend
(WebKit2GTK 4.1) under Xvfb, started by the agent's own launcher (the token over
stdin), driven through WebKit's remote inspector protocol — the WebKit counterpart of
the DevTools protocol (``WEBKIT_INSPECTOR_HTTP_SERVER``; Playwright's CDP cannot attach
to WebKitGTK) — and photographed with ``import -window root``.

Qt (QtWebEngine, DevTools proper) is an optional extra kept out of CI (contracts.md §1);
this test uses GTK, which Debian provides.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from agent.simulator import SimControl, SimulatorInfo
from agent.window import gtk_available
from tests.scenarios.conftest import AgentFactory, agent_factory, wait_until  # noqa: F401

pytestmark = pytest.mark.desktop

ARTIFACTS = Path(__file__).resolve().parents[2] / "tests" / "artifacts" / "webui"
START_S = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def xvfb() -> Iterator[str]:
    if not shutil.which("Xvfb"):
        pytest.skip("Xvfb is not installed")
    if not gtk_available():
        pytest.skip("GTK/WebKit2 4.1 typelibs or Debian's gi are not available")
    read, write = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as pipe:
        display = f":{pipe.readline().strip()}"
    try:
        yield display
    finally:
        server.terminate()
        server.wait(10)


class Inspector:
    """A page of the window over WebKit's inspector protocol (Target-wrapped)."""

    def __init__(self, ws: Any, target: str) -> None:
        self.ws = ws
        self.target = target
        self.next_id = 100

    @classmethod
    async def attach(cls, port: int, page_url: str) -> tuple[Any, str]:
        async with httpx.AsyncClient() as client:
            listing = (await client.get(f"http://127.0.0.1:{port}/")).text
        for row in listing.split("<tr>"):
            socket_path = re.search(r"(socket/\d+/\d+/WebPage)", row)
            if socket_path and page_url in row:
                ws = await websockets.connect(
                    f"ws://127.0.0.1:{port}/{socket_path.group(1)}", proxy=None, max_size=None
                )
                while True:
                    message = json.loads(await ws.recv())
                    if message.get("method") == "Target.targetCreated":
                        return ws, message["params"]["targetInfo"]["targetId"]
        raise LookupError(f"no inspectable page at {page_url}")

    async def evaluate(self, expression: str) -> Any:
        self.next_id += 1
        inner = {
            "id": self.next_id,
            "method": "Runtime.evaluate",
            "params": {"expression": expression, "returnByValue": True},
        }
        await self.ws.send(
            json.dumps(
                {
                    "id": self.next_id,
                    "method": "Target.sendMessageToTarget",
                    "params": {"targetId": self.target, "message": json.dumps(inner)},
                }
            )
        )
        while True:
            message = json.loads(await asyncio.wait_for(self.ws.recv(), 30))
            if message.get("method") != "Target.dispatchMessageFromTarget":
                continue
            reply = json.loads(message["params"]["message"])
            if reply.get("id") == self.next_id:
                result = reply["result"]
                if result.get("wasThrown"):
                    raise AssertionError(f"{expression!r} threw {result['result']}")
                return result["result"].get("value")


async def test_the_real_window_opens_on_the_agent_and_dials(
    agent_factory: AgentFactory,  # noqa: F811
    simulator: SimulatorInfo,
    sim: SimControl,
    xvfb: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handle = await agent_factory(simulator)
    await handle.online()
    agent = handle.agent
    assert agent.api is not None
    inspector_port = free_port()
    monkeypatch.setenv("DISPLAY", xvfb)
    monkeypatch.setenv("PHONET_AGENT_WINDOW_GUI", "gtk")
    monkeypatch.setenv("WEBKIT_INSPECTOR_HTTP_SERVER", f"127.0.0.1:{inspector_port}")
    launcher = agent.services.window
    try:
        assert launcher.open()
        await wait_until(lambda: agent.services.hub.subscribers >= 1, START_S, "the page online")
        ws = target = None

        async def attached() -> bool:
            nonlocal ws, target
            try:
                ws, target = await Inspector.attach(inspector_port, agent.api.url)
            except (OSError, LookupError, httpx.HTTPError):
                return False
            return True

        await wait_until(attached, START_S, "the inspector")
        page = Inspector(ws, target)
        await wait_until(
            lambda: page.evaluate("document.body.dataset.ready === '1'"), START_S, "the page"
        )
        assert await page.evaluate("sessionStorage.getItem('phonet-agent.token')") == (
            agent.api.token
        )
        assert agent.api.token not in await page.evaluate("location.href")
        sim.script("+380501234567", answer=False, ring_s=5)
        await page.evaluate(
            "document.querySelector('#number').value = '050 123 45 67';"
            "document.querySelector('#dial').click(); true"
        )
        await wait_until(
            lambda: any(r["path"].startswith("/rest/user/makeCall") for r in sim.requests()),
            what="makeCall from the window",
        )
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / "window-gtk.png"
        if shutil.which("import"):
            subprocess.run(["import", "-window", "root", str(shot)], check=True, timeout=30)
            print(f"screenshot: {shot}")
        # A click on a popup while the window is open: the same window shows that call.
        uuid = "ab" * 16
        pid = launcher.pid
        assert launcher.open(f"call:{uuid}")
        assert launcher.pid == pid
        await wait_until(
            lambda: page.evaluate(f"location.hash.includes('{uuid}')"), what="the deep link"
        )
        await ws.close()
    finally:
        launcher.close()
    assert not launcher.running
