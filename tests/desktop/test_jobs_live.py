"""Run now from the tray's real menu (issue 6: "Run now" of the history import from the
tray; J1): a right click, Jobs → Import PBX history now, the import runs against the
simulator and a popup on the real notification server says how it ended."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.desktop.conftest import RunningAgent
from tests.desktop.helpers import menu_for, menu_keys, use_menu
from tests.desktop.session import DesktopSession
from tests.desktop.test_popups_live import newest
from tests.jobs.support import raw_record

pytestmark = pytest.mark.desktop


def test_import_pbx_history_now_from_the_menu_ends_in_a_popup_with_the_counts(
    agent: RunningAgent, desktop: DesktopSession
) -> None:
    assert desktop.recorder is not None
    now = datetime.now(UTC)
    agent.sim.add_history([raw_record(i, end_at=now - timedelta(minutes=i)) for i in (1, 2)])
    mark = desktop.recorder.mark()

    keys = menu_keys(menu_for(agent.status()), "Jobs", "Import PBX history now")
    use_menu(desktop, keys, "menu-7-jobs-history")

    popup = newest(desktop, mark, "PBX history import")
    assert popup.app_name == "Phonet Agent"
    assert popup.body.startswith("Done: 2 calls read, 2 imported"), popup.body
    assert agent.requests("/rest/calls/company.api")  # the PBX's history (phonet-api.md §2.3)
    runs = agent.api("GET", "/api/jobs/history/runs").json()["items"]
    assert [(r["trigger"], r["state"]) for r in runs][:1] == [("manual", "ok")]
    desktop.screenshot("popup-jobs-history-done")
    desktop.close_all_popups()
