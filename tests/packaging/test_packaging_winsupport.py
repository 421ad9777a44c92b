"""agent/winsupport.py: importable everywhere, Windows-only where it must be, and in
step with installer.iss (the mutexes, the quit event, the AppUserModelID, the Run value)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from agent import winsupport
from agent.core.errors import AgentError

ROOT = Path(__file__).resolve().parents[2]
ISS = (ROOT / "installer.iss").read_text(encoding="utf-8")
HOLDER = (ROOT / "packaging" / "smoke" / "mutex-holder.iss").read_text(encoding="utf-8")


def _define(name: str) -> str:
    match = re.search(rf'^#define {name} "([^"]*)"', ISS, re.M)
    assert match, name
    return match.group(1)


def test_the_installer_watches_the_mutexes_the_agent_holds() -> None:
    app_mutex = re.search(r"^AppMutex=(.*)$", ISS, re.M)
    assert app_mutex
    names = app_mutex.group(1).replace("{#AppMutexName}", _define("AppMutexName")).split(",")
    assert tuple(names) == winsupport.MUTEX_NAMES


def test_installer_and_agent_share_the_quit_event_aumid_and_run_value() -> None:
    assert _define("QuitEventName") == winsupport.QUIT_EVENT_NAME
    assert _define("AppUserModelID") == winsupport.APP_USER_MODEL_ID
    assert _define("RunValueName") == winsupport.RUN_VALUE_NAME == "Phonet Agent"
    assert _define("RunKey") == winsupport.RUN_KEY
    assert '--autostart"; Tasks: autostart' in ISS


def test_the_smoke_tests_stand_in_agent_uses_the_same_names() -> None:
    for name in winsupport.MUTEX_NAMES:
        assert f"CreateMutex('{name}')" in HOLDER
    assert f"'{winsupport.QUIT_EVENT_NAME}'" in HOLDER


def test_the_app_user_model_id_has_no_spaces() -> None:
    assert " " not in winsupport.APP_USER_MODEL_ID


def test_the_autostart_command_quotes_the_exe_and_starts_quietly() -> None:
    exe = Path("C:/Users/op/AppData/Local/Programs/Phonet Agent/agent.exe")

    assert winsupport.autostart_command(exe) == f'"{exe}" --autostart'


def test_tel_and_callto_arguments_are_recognised() -> None:
    assert winsupport.is_protocol_url("tel:+380441234567")
    assert winsupport.is_protocol_url("CALLTO:0441234567")
    assert not winsupport.is_protocol_url("--autostart")


def test_the_restart_manager_is_told_apart_from_a_logoff() -> None:
    assert winsupport.reason_for_end_session(0x1) == "restart-manager"
    assert winsupport.reason_for_end_session(0x80000000) == "session-end"


@pytest.mark.skipif(sys.platform == "win32", reason="the non-Windows behaviour")
def test_outside_windows_the_windows_parts_refuse_clearly() -> None:
    assert not winsupport.is_agent_running()
    calls = [
        winsupport.hold_instance_mutexes,
        winsupport.request_quit,
        lambda: winsupport.QuitListener(lambda _reason: None),
        lambda: winsupport.SessionEndHook(lambda _reason: None),
        winsupport.set_app_user_model_id,
        winsupport.read_autostart,
        lambda: winsupport.set_autostart(True),
        winsupport.windows_keyring,
        winsupport.webview2_version,
    ]
    for call in calls:
        with pytest.raises(winsupport.NotOnWindows, match="only on Windows"):
            call()
    assert issubclass(winsupport.NotOnWindows, AgentError)


def test_uninstall_removes_the_toast_keys_the_notifier_writes() -> None:
    """issue 9 item 3: desktop-notifier writes HKCU\\Software\\Classes\\AppUserModelId\\
    <app_name>; the agent and --selftest name it after the AppUserModelID, whose key the
    uninstaller deletes, and the key earlier selftests wrote under the product name goes
    on install and uninstall."""
    toast_key = r'Subkey: "Software\Classes\AppUserModelId\{#AppUserModelID}"'
    assert re.search(re.escape(toast_key) + r".*Flags: uninsdeletekey", ISS)
    legacy = r'Subkey: "Software\Classes\AppUserModelId\{#AppName}"; '
    assert legacy + "Flags: deletekey dontcreatekey uninsdeletekey" in ISS
    assert _define("AppName") == winsupport.APP_NAME
