"""The Jobs view (G2, G6, J1, J2, B5; issue 6 items 1, 2 and 4): each job's switch and
schedule, "Run now" with the run's live progress, the last runs with their counts, and
the team online on this database — reached from the Health page, outside the tab row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.simulator import SimControl
from agent.storage.jobs_repository import Heartbeat, JobsRepository
from tests.jobs.support import raw_record
from tests.license.support import give_seats
from tests.scenarios.conftest import wait_until
from tests.webui.conftest import UI, UIFactory

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

# Every text the history job's progress line ever showed, so a progress that came and
# went between two looks is still seen.
PROGRESS_TEXTS = """
window.__progress = [];
new MutationObserver(() => {
  const el = document.querySelector('#job-progress-history:not([hidden]) .job-counts');
  if (el && window.__progress[window.__progress.length - 1] !== el.textContent) {
    window.__progress.push(el.textContent);
  }
}).observe(document, { childList: true, subtree: true, characterData: true, attributes: true });
"""


def add_calls(sim: SimControl, count: int) -> None:
    now = datetime.now(UTC)
    sim.add_history([raw_record(i, end_at=now - timedelta(minutes=i)) for i in range(1, count + 1)])


async def job(ui: UI, name: str) -> dict[str, Any]:
    response = await ui.api("GET", "/api/jobs")
    found: dict[str, Any] = next(j for j in response.json()["items"] if j["name"] == name)
    return found


async def test_run_now_shows_the_history_imports_live_progress_then_the_run_j1(
    ui_factory: UIFactory, sim: SimControl
) -> None:
    add_calls(sim, 180)  # four pages of 50 (phonet-api.md §2.3)
    ui = await ui_factory()
    await ui.page.add_init_script(PROGRESS_TEXTS)
    await ui.open("health")
    await ui.page.click("#health-jobs-link")
    await ui.page.wait_for_selector("#view[data-view='jobs'][data-ready='1']")
    await ui.page.wait_for_selector("#job-history #job-run-history:not([disabled])")
    active = await ui.page.eval_on_selector("nav.tabs a.active", "a => a.dataset.view")
    assert active == "health"  # a section of Health: the tab row keeps its width
    assert await ui.page.is_checked("#job-switch-history") is False
    assert "No runs yet" in await ui.page.inner_text("#job-runs-history")
    sim.faults(rest_delay_ms=400)  # a slow PBX: the import takes a few seconds
    await ui.page.click("#job-run-history")
    await ui.page.wait_for_selector("#job-progress-history:not([hidden])")
    assert await ui.page.is_disabled("#job-run-history")
    await ui.page.wait_for_function(
        "() => window.__progress.some(text => /imported: [1-9]/.test(text))", timeout=30_000
    )
    await ui.screenshot("jobs-running")
    await ui.page.wait_for_selector("#job-runs-history .job-run[data-state='ok']", timeout=30_000)
    sim.faults(rest_delay_ms=0)
    run = await ui.page.inner_text("#job-runs-history .job-run[data-state='ok'] summary")
    assert "Done" in run and "imported: 180" in run
    await ui.page.wait_for_selector("#job-progress-history", state="hidden")
    assert not await ui.page.is_disabled("#job-run-history")
    progress = await ui.page.evaluate("window.__progress")
    assert any(text != progress[-1] for text in progress), progress  # it moved
    await ui.page.click("#job-runs-history .job-run summary")  # the run's details
    details = await ui.page.inner_text("#job-runs-history .job-run[open] dl")
    assert "Run now" in details and "calls read: 180" in details
    await ui.screenshot("jobs")
    ui.assert_clean()


async def test_the_switch_turns_a_job_on_and_a_job_that_cannot_run_says_why_g2_g6(
    ui_factory: UIFactory,
) -> None:
    ui = await ui_factory(team={"history_schedule": "every 2 h"})
    await ui.open("jobs")
    await ui.page.wait_for_selector("#job-robot")
    robot = await ui.page.inner_text("#job-robot")
    assert "robot's server and user are not set" in robot  # G6's problem, as the agent says
    assert await ui.page.is_disabled("#job-run-robot")
    assert "every 2 h" in await ui.page.inner_text("#job-history dl")
    await ui.page.check("#job-switch-history")
    await ui.page.wait_for_selector(".toast.ok")

    async def planned() -> bool:
        found = await job(ui, "history")
        return bool(found["enabled"] and found["next_run_at"])

    await wait_until(planned, what="the history job planned")
    await ui.page.wait_for_function(
        "() => !/Switched off|Not planned/"
        ".test(document.querySelector('#job-history dl').textContent)"
    )
    await ui.page.uncheck("#job-switch-history")

    async def unplanned() -> bool:
        return not (await job(ui, "history"))["enabled"]

    await wait_until(unplanned, what="the history job switched off")
    ui.assert_clean()


async def test_the_team_online_on_this_database_is_listed_b5(
    ui_factory: UIFactory, sim: SimControl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim.add_user("002", "Petro", "petro@example.com")
    team = {"extension_users": {"001": "Olena", "002": "Petro"}}
    url = f"sqlite:///{tmp_path / 'team.db'}"
    give_seats(url, 2, monkeypatch)  # without a key a database is one seat (U10)
    ui = await ui_factory(db_url=url, team=team)
    await ui_factory(db_url=url, team=team, ext="002", online=False)

    async def both() -> bool:
        response = await ui.api("GET", "/api/team/presence")
        return len(response.json()["items"]) == 2

    await wait_until(both, what="two agents' heartbeats")
    await ui.open("jobs")
    await ui.page.wait_for_selector("#presence-list li[data-ext='002']")
    mine = await ui.page.inner_text("#presence-list li.self")
    assert "Olena" in mine and "this computer" in mine
    assert "Petro" in await ui.page.inner_text("#presence-list li[data-ext='002']")
    await ui.page.locator("#team-presence").scroll_into_view_if_needed()
    await ui.screenshot("jobs-team")
    ui.assert_clean()


async def test_problems_holders_counts_and_a_busy_job_are_said_in_the_operators_language(
    ui_factory: UIFactory,
) -> None:
    team = {"robot_server": "sql.example", "robot_user": "sa"}
    ui = await ui_factory(team=team, operator={"language": "uk"})
    storage = ui.agent.storage
    repo = JobsRepository(storage.db)
    now = datetime.now(UTC)
    # Another agent's keyring holds the robot password (G6); its heartbeat names it.
    petro = Heartbeat("agent-petro", "d", "002", "Петро", "desk-petro", 2, "", "online", now, now)
    await storage.run(repo.beat, petro)
    await storage.run(
        repo.set_holders, "agent-petro", {"robot-password:robot/sql.example/sa": True}, now=now
    )
    # A finished history run that met unreadable PBX records, and one running elsewhere.
    claim = lambda agent, host: storage.run(  # noqa: E731
        repo.claim,
        "history",
        holder=agent,
        host=host,
        period=datetime.now(UTC),
        now=datetime.now(UTC),
        ttl=timedelta(minutes=5),
        trigger="schedule",
        manual=True,
    )
    done = await claim("agent-old", "desk-old")
    counts = {"records": 3, "imported": 1, "skipped_unreadable": 2}
    await storage.run(repo.finish, "history", done.run_id, now=now, state="ok", counts=counts)
    assert (await claim("agent-7", "desk-7")).granted

    await ui.open("jobs")
    await ui.page.wait_for_selector("#job-robot dl")
    robot = await ui.page.inner_text("#job-robot dl")
    assert "не містить пароля робота для sa@sql.example" in robot  # problem_key, translated
    assert "Петро (desk-petro)" in robot  # a holder by operator and computer
    await ui.page.wait_for_selector("#job-runs-history .job-run[data-state='ok']")
    await ui.page.click("#job-runs-history .job-run[data-state='ok'] summary")
    details = await ui.page.inner_text("#job-runs-history .job-run[open] dl")
    assert "записи, які не вдалося прочитати (див. лог): 2" in details
    # "Run now" pressed just before the page learned of the run on desk-7: the 409.
    await ui.page.wait_for_selector("#job-progress-history:not([hidden])")
    await ui.page.eval_on_selector("#job-run-history", "b => { b.disabled = false; b.click(); }")
    toast = await ui.page.wait_for_selector(".toast.error")
    assert await toast.inner_text() == "Уже виконується на desk-7"
    # The browser logs the refused request itself; nothing else went wrong.
    ui.errors.remove(
        "console.error: Failed to load resource: the server responded with a"
        " status of 409 (Conflict)"
    )
    ui.assert_clean()
