"""Click-to-dial from anywhere (B1; issue 3 §4): tel: links on the command line, the
clipboard, the global hotkey on the selected text, the recent numbers.

The menu tests come first: the menu's shape depends on the recent numbers.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.desktop.conftest import ROOT, RunningAgent
from tests.desktop.helpers import SelectionOwner, menu_for, menu_keys, use_menu
from tests.desktop.session import DesktopSession, Notice, wait_for
from tests.desktop.test_popups_live import newest

pytestmark = pytest.mark.desktop

NUMBER = "+380442249895"
AGENT_SETTINGS = {"hotkey": "<ctrl>+<alt>+d"}


def dialled(agent: RunningAgent) -> list[str]:
    return [json.loads(r["body"])["otherLegNum"] for r in agent.requests("/rest/user/makeCall")]


def test_dial_clipboard_number_from_the_menu(agent: RunningAgent, desktop: DesktopSession) -> None:
    owner = SelectionOwner(desktop.env["DISPLAY"], "CLIPBOARD", "tel:%2B380442249895")
    try:
        keys = menu_keys(menu_for(agent.status()), "Dial clipboard number")
        use_menu(desktop, keys, "menu-5-dial-clipboard")
        wait_for(lambda: dialled(agent) == [NUMBER], 15, "makeCall with the clipboard's number")
    finally:
        owner.close()


def test_redial_from_the_menu_dials_the_last_number_again(
    agent: RunningAgent, desktop: DesktopSession
) -> None:
    agent.sim.script(NUMBER, answer=False, ring_s=0.05)
    assert agent.api("POST", "/api/dial", {"number": NUMBER}).status_code == 202
    wait_for(lambda: dialled(agent) == [NUMBER], 15, "the first call")
    wait_for(lambda: not agent.status()["lines"], 15, "the first call to end")

    menu = menu_for(agent.status(), recent=(NUMBER,))
    use_menu(desktop, menu_keys(menu, f"Redial {NUMBER}"), "menu-6-redial")
    wait_for(lambda: dialled(agent) == [NUMBER, NUMBER], 15, "the redial")


def test_a_tel_link_on_the_command_line_reaches_the_running_agent(
    agent: RunningAgent, desktop: DesktopSession
) -> None:
    """RFC 3966 visual separators; forwarded through api.json (contracts.md §2, §4)."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "agent",
            "tel:+380-44-224-98-95",
            "--data-dir",
            str(agent.data_dir.root),
        ],
        env={**desktop.env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    wait_for(lambda: dialled(agent) == [NUMBER], 15, "makeCall with the number")


def test_a_tel_link_with_an_extension_says_in_a_popup_that_the_extension_was_not_dialled(
    agent: RunningAgent, desktop: DesktopSession
) -> None:
    """RFC 3966 ``;ext=``: the PBX API places the call but cannot send tones into it (no
    DTMF endpoint, phonet-api.md), so the number is dialled and the operator is told."""
    assert desktop.recorder is not None
    mark = desktop.recorder.mark()
    done = subprocess.run(
        [sys.executable, "-m", "agent", "tel:+380-44-224-98-95;ext=12",
         "--data-dir", str(agent.data_dir.root)],
        env={**desktop.env, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=30, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    wait_for(lambda: dialled(agent) == [NUMBER], 15, "makeCall with the number alone")
    popup = newest(desktop, mark, f"Calling {NUMBER}")
    assert popup.body.startswith("Extension 12 was not dialled"), popup.body
    desktop.screenshot("popup-extension-not-dialled")
    desktop.close_all_popups()


def test_the_hotkey_dials_the_selected_text_after_a_confirm_popup(
    agent: RunningAgent, desktop: DesktopSession
) -> None:
    """The selected text (X PRIMARY) → the normalised number and the contact in a popup
    → Dial → makeCall."""
    wait_for(lambda: "dials the selected text" in agent.log(), 15, "the hotkey grabbed")
    owner = SelectionOwner(desktop.env["DISPLAY"], "PRIMARY", "call me: 044 224-98-95 today")
    try:
        assert desktop.recorder is not None
        mark = desktop.recorder.mark()
        desktop.run(["xdotool", "key", "ctrl+alt+d"], check=True)

        def asked() -> Notice | None:
            assert desktop.recorder is not None
            return next(
                (
                    n
                    for n in desktop.recorder.since(mark)
                    if n.summary == f"Dial {NUMBER}?" and n.id is not None
                ),
                None,
            )

        notice: Notice = wait_for(asked, 15, "the confirm popup")
        assert notice.actions.get("yes") == "Dial" and NUMBER in notice.body
        desktop.screenshot("hotkey-confirm")
        assert dialled(agent) == []  # nothing before the operator says so
        desktop.pick_action("yes")
        wait_for(lambda: dialled(agent) == [NUMBER], 15, "makeCall after Dial")
    finally:
        owner.close()
