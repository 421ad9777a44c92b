"""Connection health and the diagnostics bundle (B15): the figures the page shows, and a
zip for support in which no secret survives."""

from __future__ import annotations

import io
import json
import zipfile

from agent.logs import redact_value
from agent.simulator import SimControl
from tests.api.conftest import Api
from tests.scenarios.conftest import wait_until


async def test_health_tells_the_link_rest_and_runtime_figures(api: Api, sim: SimControl) -> None:
    sim.play_call("in", "001", "+380442249895", ring_s=0.05, answer=False)
    await wait_until(lambda: api.services.runtime.stats.frames >= 2, what="frames to arrive")
    body = (await api.get("/api/health")).json()
    assert body["link"]["state"] == "online"
    assert body["link"]["connects"] == 1
    assert body["link"]["last_event_at"] is not None
    assert body["rest"]["authorizations"] >= 1
    assert body["rest"]["last_latency_ms"] is not None
    assert body["rest"]["reauthorizations"] == 0
    assert body["runtime"]["frames"] >= 2
    assert body["agent"]["extension"] == "001" and body["agent"]["database"] == "sqlite"
    assert body["jobs"] == [] or all(isinstance(job, dict) for job in body["jobs"])


async def test_a_re_authorisation_is_counted(api: Api, sim: SimControl) -> None:
    rest = api.services.agent.rest
    await wait_until(lambda: rest.stats.authorizations >= 1, what="the first authorisation")
    sim.expire()
    sim.script("+380501234567", answer=False, ring_s=0.05)
    assert (await api.post("/api/dial", {"number": "+380501234567"})).status_code == 202
    body = (await api.get("/api/health")).json()
    assert body["rest"]["reauthorizations"] == 1


async def test_the_diagnostics_bundle_holds_logs_settings_versions_and_no_secret(
    api: Api,
) -> None:
    secret = "live-key-that-must-never-leak-42"
    redact_value(secret)
    logs = api.services.agent.options.data_dir.logs
    (logs / "agent.log").write_text(
        f"2025-01-01 INFO connecting with apiKey={secret}\n"
        f"2025-01-01 INFO the key {secret} again, and Bearer {api.token}\n",
        encoding="utf-8",
    )
    await api.put("/api/settings", {"operator": {"api_key": secret}})
    response = await api.get("/api/health/diagnostics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert "attachment" in response.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(response.content)) as bundle:
        names = set(bundle.namelist())
        texts = {name: bundle.read(name).decode("utf-8") for name in names}
    assert {"README.txt", "health.json", "settings.json", "status.json", "versions.json"} <= names
    assert "logs/agent.log" in names
    for name, text in texts.items():
        assert secret not in text, name
        assert api.token not in text, name
    assert "***" in texts["logs/agent.log"]
    settings = json.loads(texts["settings.json"])
    assert settings["operator"]["api_key"] == {"set": True}
    assert json.loads(texts["versions.json"])["libraries"]["starlette"]
