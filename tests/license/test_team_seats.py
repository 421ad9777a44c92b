"""Seats in team mode (U10, B5; issue 8 item 4): two, three and four real agents on one
PostgreSQL, counted by the team's heartbeats (issue 6, agent/jobs/presence.py),
against the real simulator. A seat is freed when its agent quits or disconnects, or
when its heartbeat goes stale (a crashed agent); agents starting together never both
take the last seat; a Connect after a Disconnect asks for a seat again.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import agent as agent_package
from agent.core.errors import LicenseError
from agent.license.keys import ENV_PUBLIC_KEY
from agent.simulator import SimControl, SimulatorInfo
from agent.storage import Storage
from agent.storage.jobs_repository import Heartbeat, JobsRepository
from tests.license.conftest import CODE, Vendor
from tests.scenarios.conftest import AgentFactory, AgentHandle, wait_until

pytestmark = pytest.mark.postgres

OPERATORS = {"001": "Олена Коваль", "002": "Петро Бондар", "003": "Іван Шевчук"}


@pytest.fixture
def team(sim: SimControl) -> dict[str, str]:
    for ext, name in OPERATORS.items():
        if ext != "001":
            sim.add_user(ext, name, f"{ext}@demo.ua")
    # The team's extension → operator names (G3), shown in the seat holders.
    return dict(OPERATORS)


async def start(
    agent_factory: AgentFactory, simulator: SimulatorInfo, db: str, ext: str, names: dict[str, str]
) -> AgentHandle:
    handle = await agent_factory(simulator, ext=ext, db_url=db, team={"extension_users": names})
    await handle.online()
    # Wait until its own heartbeat is in the database, so the next agent counts it.
    presence = handle.agent.services.presence
    own = presence.identity.agent_id

    async def beating() -> bool:
        return any(beat.agent_id == own for beat in await presence.heartbeats())

    await wait_until(beating, what=f"the heartbeat of {ext}")
    return handle


async def licence(handle: AgentHandle) -> dict[str, Any]:
    response = await handle.api("GET", "/api/license")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def install(handle: AgentHandle, vendor: Vendor, count: int) -> None:
    client_id = (await licence(handle))["client_id"]
    response = await handle.api("POST", "/api/license", {"key": vendor.key(client_id, CODE, count)})
    assert response.status_code == 200, response.text


async def test_without_a_key_a_team_database_runs_one_seat_and_the_second_agent_is_refused(
    pg_url: str,  # first: the database outlives the agents on it
    agent_factory: AgentFactory,
    simulator: SimulatorInfo,
    team: dict[str, str],
    test_pubkey: str,
) -> None:
    await start(agent_factory, simulator, pg_url, "001", team)
    with pytest.raises(LicenseError) as refused:
        await agent_factory(simulator, ext="002", db_url=pg_url)
    assert refused.value.exit_code == 5
    assert (
        "no licence key is installed: running as one seat, and that seat is in use, "
        "by 001 Олена Коваль on " in str(refused.value)
    )


async def test_two_seats_admit_two_agents_refuse_the_third_and_a_quit_frees_a_seat(
    pg_url: str,  # first: the database outlives the agents on it
    agent_factory: AgentFactory,
    simulator: SimulatorInfo,
    team: dict[str, str],
    vendor: Vendor,
    test_pubkey: str,
) -> None:
    olena = await start(agent_factory, simulator, pg_url, "001", team)
    await install(olena, vendor, count=2)
    petro = await start(agent_factory, simulator, pg_url, "002", team)

    # U10: the licence tab lists the others connected now, not the current operator.
    assert [h["ext"] for h in (await licence(petro))["active"]] == ["001"]
    await wait_until(lambda: _active_exts(olena, ["002"]), what="olena's tab to list petro")
    assert (await licence(olena))["active"][0]["name"] == "Петро Бондар"

    with pytest.raises(LicenseError) as refused:
        await agent_factory(simulator, ext="003", db_url=pg_url)
    message = str(refused.value)
    assert "all 2 licences are in use, by 001 Олена Коваль on " in message
    assert ", 002 Петро Бондар on " in message

    await petro.agent.stop()  # a clean exit leaves the presence list at once
    ivan = await start(agent_factory, simulator, pg_url, "003", team)
    assert [h["ext"] for h in (await licence(ivan))["active"]] == ["001"]


async def _active_exts(handle: AgentHandle, expected: list[str]) -> bool:
    return [h["ext"] for h in (await licence(handle))["active"]] == expected


async def test_three_seats_admit_three_agents_and_a_raised_count_admits_a_fourth(
    pg_url: str,  # first: the database outlives the agents on it
    agent_factory: AgentFactory,
    simulator: SimulatorInfo,
    sim: SimControl,
    team: dict[str, str],
    vendor: Vendor,
    test_pubkey: str,
) -> None:
    sim.add_user("004", "Марія", "004@demo.ua")
    first = await start(agent_factory, simulator, pg_url, "001", team)
    await install(first, vendor, count=3)
    await start(agent_factory, simulator, pg_url, "002", team)
    third = await start(agent_factory, simulator, pg_url, "003", team)
    assert sorted(h["ext"] for h in (await licence(third))["active"]) == ["001", "002"]
    with pytest.raises(LicenseError, match="all 3 licences are in use"):
        await agent_factory(simulator, ext="004", db_url=pg_url)
    await install(third, vendor, count=4)  # U10: a new key raises the count
    fourth = await start(agent_factory, simulator, pg_url, "004", team)
    assert (await licence(fourth))["count"] == 4


async def test_one_operator_on_a_second_machine_takes_no_second_seat(
    pg_url: str,  # first: the database outlives the agents on it
    agent_factory: AgentFactory,
    simulator: SimulatorInfo,
    team: dict[str, str],
    vendor: Vendor,
    test_pubkey: str,
) -> None:
    olena = await start(agent_factory, simulator, pg_url, "001", team)
    await install(olena, vendor, count=1)
    again = await start(agent_factory, simulator, pg_url, "001", team)
    assert (await licence(again))["active"] == []


async def test_a_stale_heartbeat_frees_its_seat(
    pg_url: str,  # first: the database outlives the agents on it
    agent_factory: AgentFactory,
    simulator: SimulatorInfo,
    team: dict[str, str],
    vendor: Vendor,
    test_pubkey: str,
) -> None:
    olena = await start(agent_factory, simulator, pg_url, "001", team)
    await install(olena, vendor, count=2)
    stale_after = olena.agent.services.presence.stale_after
    now = datetime.now(UTC)

    def crashed(ext: str, seen_at: datetime) -> Heartbeat:
        """What an agent that died without leaving keeps in the database: its last beat."""
        return Heartbeat(
            agent_id=f"crashed-{ext}", domain=simulator.domain, ext=ext, operator=team[ext],
            host="desk-9", pid=4242, version=agent_package.__version__, link_state="online",
            started_at=now - timedelta(hours=1), seen_at=seen_at,
        )  # fmt: skip

    with Storage.open_sync(pg_url) as storage:
        repo = JobsRepository(storage.db)
        storage.call(repo.beat, crashed("002", now))  # still fresh: it holds its seat
    with pytest.raises(
        LicenseError, match=r"by 001 Олена Коваль on .*, 002 Петро Бондар on desk-9"
    ):
        await agent_factory(simulator, ext="003", db_url=pg_url)

    with Storage.open_sync(pg_url) as storage:
        repo = JobsRepository(storage.db)
        storage.call(repo.beat, crashed("002", now - stale_after - timedelta(seconds=1)))
    ivan = await start(agent_factory, simulator, pg_url, "003", team)
    assert [h["ext"] for h in (await licence(ivan))["active"]] == ["001"]


async def test_run_exits_5_when_the_licence_refuses_the_start(
    pg_url: str,  # first: the database outlives the agents on it
    agent_factory: AgentFactory,
    simulator: SimulatorInfo,
    team: dict[str, str],
    vendor: Vendor,
    test_pubkey: str,
    tmp_path: Path,
) -> None:
    """contracts.md §2: exit 5, "the licence refused the start", and it says who holds
    the seats; the real console process, headless."""
    olena = await start(agent_factory, simulator, pg_url, "001", team)
    await install(olena, vendor, count=1)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DISPLAY", "WAYLAND_DISPLAY", "PHONET_AGENT_DATA_DIR")
    }
    env |= {"PHONET_API_KEY": simulator.api_key, ENV_PUBLIC_KEY: vendor.public_hex}
    command = [
        sys.executable, "-m", "agent", "run", "--headless",
        "--data-dir", str(tmp_path / "petro"), "--db", pg_url,
        "--base-url", simulator.base_url, "--domain", simulator.domain, "--ext", "002",
    ]  # fmt: skip
    # The agent's loop must keep serving while the child asks the database: run it aside.
    done = await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, text=True, timeout=90
    )
    assert done.returncode == 5, done.stderr
    assert "phonet-agent: the licence refused the start: the one licence is in use" in done.stderr
    assert "by 001 Олена Коваль on " in done.stderr
    assert "web-ui:" not in done.stdout


async def test_agents_starting_together_for_the_last_seat_admit_exactly_one(
    pg_url: str,  # first: the database outlives the agents on it
    agent_factory: AgentFactory,
    simulator: SimulatorInfo,
    sim: SimControl,
    team: dict[str, str],
    vendor: Vendor,
    test_pubkey: str,
    tmp_path: Path,
) -> None:
    """Each agent takes its seat and writes its first beat in one step under the seat
    lock, so the last seat goes to one of them, whichever comes first."""
    sim.add_user("004", "Марія", "004@demo.ua")
    olena = await start(agent_factory, simulator, pg_url, "001", team)
    await install(olena, vendor, count=2)
    names = {**team, "004": "Марія"}
    results = await asyncio.gather(
        *(
            agent_factory(
                simulator,
                ext=ext,
                db_url=pg_url,
                team={"extension_users": names},
                data_dir=tmp_path / f"racer-{ext}",  # each its own identity
            )
            for ext in ("002", "003", "004")
        ),
        return_exceptions=True,
    )
    started = [r for r in results if isinstance(r, AgentHandle)]
    refused = [r for r in results if isinstance(r, LicenseError)]
    assert (len(started), len(refused)) == (1, 2), results
    winner = started[0].agent.options.ext
    for error in refused:
        assert "all 2 licences are in use, by 001 Олена Коваль on " in str(error)
        assert f", {winner} {names[winner]} on " in str(error)
    await wait_until(lambda: _active_exts(olena, [winner]), what="olena's tab to list the winner")


async def test_a_connect_after_a_disconnect_asks_for_a_seat_again(
    pg_url: str,  # first: the database outlives the agents on it
    agent_factory: AgentFactory,
    simulator: SimulatorInfo,
    sim: SimControl,
    team: dict[str, str],
    test_pubkey: str,
) -> None:
    """U10 ("active" = connected to the PBX): a Disconnect gives the seat back; the
    Connect after it (/api/connect, the tray's Connect) is checked like a start, and
    refused it stays offline saying who holds the seat."""
    olena = await start(agent_factory, simulator, pg_url, "001", team)
    assert (await olena.api("POST", "/api/disconnect")).status_code == 200
    petro = await start(agent_factory, simulator, pg_url, "002", team)  # the one seat
    assert (await licence(petro))["active"] == []  # olena is not connected
    told = TrayNotices(olena.agent.runtime.popups)  # as the tray's popups (issue 3)
    olena.agent.runtime.popups = told

    response = await olena.api("POST", "/api/connect")
    assert response.status_code == 202

    async def refused() -> bool:
        status = await olena.status()
        return status["link"] == "offline" and bool(status.get("link_reason"))

    await wait_until(refused, what="olena's connect to be refused")
    reason = (await olena.status())["link_reason"]
    assert reason.startswith(
        "the licence refused the connection: no licence key is installed: running as one "
        "seat, and that seat is in use, by 002 Петро Бондар on "
    )
    assert olena.agent.link_status()[:2] == ("offline", False)
    assert [c["subscriber"] for c in sim.connections()] == ["002"]  # olena never connected
    assert [h["ext"] for h in (await licence(petro))["active"]] == []
    ((title, body),) = told.notices  # the tray shows it as it shows a refused start
    assert title == "The licence does not allow this"
    assert body.startswith("The licence refused the connection: ") and "002 Петро Бондар" in body

    await petro.agent.stop()  # the seat is free again: the next Connect gets it
    assert (await olena.api("POST", "/api/connect")).status_code == 202
    await olena.online()
    assert (await olena.status())["link_reason"] is None


async def test_an_agent_started_without_connecting_holds_no_seat_until_its_connect(
    pg_url: str,  # first: the database outlives the agents on it
    agent_factory: AgentFactory,
    simulator: SimulatorInfo,
    team: dict[str, str],
    test_pubkey: str,
) -> None:
    """U3 auto-connect off: the start is checked (a full licence refuses it), but an
    agent that is not connected holds no seat; its Connect asks for one."""
    olena = await agent_factory(
        simulator,
        ext="001",
        db_url=pg_url,
        team={"extension_users": team},
        operator={"auto_connect": False},
    )
    petro = await start(agent_factory, simulator, pg_url, "002", team)  # the one seat
    assert (await licence(petro))["active"] == []
    assert (await olena.api("POST", "/api/connect")).status_code == 202

    async def refused() -> bool:
        return "by 002 Петро Бондар on " in str((await olena.status()).get("link_reason"))

    await wait_until(refused, what="olena's connect to be refused")
    assert (await olena.status())["link"] == "offline"


class TrayNotices:
    """The agent's popups with the tray's ``info`` (agent/desktop/popups.py), recorded."""

    def __init__(self, popups: Any) -> None:
        self.popups = popups
        self.notices: list[tuple[str, str]] = []

    def show(self, popup: Any) -> None:
        self.popups.show(popup)

    def info(self, title: str, body: str) -> None:
        self.notices.append((title, body))
