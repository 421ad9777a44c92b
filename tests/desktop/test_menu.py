"""The tray menu as a pure model of the state (agent/desktop/menu.py; issue 3 §1)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC

import pytest

from agent.desktop.menu import (
    SEPARATOR,
    Connect,
    Dial,
    DialClipboard,
    Dialer,
    Disconnect,
    OpenWindow,
    Quit,
    RunJob,
    SetDnd,
    build_menu,
    default_command,
    find,
    to_pystray,
)
from agent.desktop.popup_text import job_result_text
from agent.desktop.view import DialerView, JobView, TrayView
from agent.i18n import Translator

ONLINE = TrayView(extension="001", link="online", dnd_available=True)


def texts(view: TrayView) -> list[str]:
    return [e.text for e in build_menu(view, UTC)]


def test_the_menu_lists_the_issues_items_in_order() -> None:
    view = TrayView(extension="001", link="online", dnd_available=True, dialer=DialerView("idle"))
    assert texts(view) == [
        "Ext 001 · online",
        "-",
        "Open window",
        "Dial clipboard number",
        "Recent numbers",
        "Redial",
        "-",
        "Do not disturb",
        "Auto-dial",
        "-",
        "Settings",
        "Disconnect",
        "Quit",
    ]


def test_the_left_click_opens_the_window() -> None:
    assert default_command(build_menu(ONLINE, UTC)) == OpenWindow()


def test_the_state_line_is_not_clickable() -> None:
    first = build_menu(ONLINE, UTC)[0]
    assert first.enabled is False and first.command is None


def test_recent_numbers_redial_and_clipboard_follow_the_state() -> None:
    menu = build_menu(TrayView(extension="001", link="online", recent=("+1", "+2")), UTC)
    assert find(menu, "Redial +1").command == Dial("+1")
    assert find(menu, "Recent numbers", "+2").command == Dial("+2")
    assert find(menu, "Dial clipboard number").command == DialClipboard()
    offline = build_menu(TrayView(extension="001", recent=("+1",)), UTC)
    assert not find(offline, "Redial +1").enabled
    assert not find(offline, "Dial clipboard number").enabled
    empty = build_menu(ONLINE, UTC)
    assert not find(empty, "Recent numbers").enabled and not find(empty, "Redial").enabled


def test_dnd_offers_on_off_and_the_b12_timers() -> None:
    menu = build_menu(ONLINE, UTC)
    dnd = find(menu, "Do not disturb")
    assert [(e.text, e.command, e.enabled) for e in dnd.submenu or ()] == [
        ("On", SetDnd(True), True),
        ("Off", SetDnd(False), False),
        ("For 30 minutes", SetDnd(True, minutes=30), True),
        ("For 1 hour", SetDnd(True, minutes=60), True),
        ("Until tomorrow 09:00", SetDnd(True, until_tomorrow=True), True),
    ]
    on = build_menu(TrayView(extension="001", link="online", dnd=True, dnd_available=True), UTC)
    assert find(on, "Do not disturb", "Off").enabled and find(on, "Do not disturb", "On").checked


def test_dnd_without_a_combination_u4_cannot_be_switched_on() -> None:
    menu = build_menu(TrayView(extension="001", link="online"), UTC)
    assert not find(menu, "Do not disturb", "On").enabled
    assert not find(menu, "Do not disturb", "For 1 hour").enabled


def test_auto_dial_exists_only_with_a_dialer_and_follows_its_state() -> None:
    assert "Auto-dial" not in texts(ONLINE)

    def enabled(state: str) -> dict[str, bool]:
        view = TrayView(extension="001", link="online", dialer=DialerView(state))
        return {e.text: e.enabled for e in find(build_menu(view, UTC), "Auto-dial").submenu or ()}

    assert enabled("idle") == {"Start": True, "Pause": False, "Resume": False, "Stop": False}
    assert enabled("calling") == {"Start": False, "Pause": True, "Resume": False, "Stop": True}
    assert enabled("paused") == {"Start": False, "Pause": False, "Resume": True, "Stop": True}
    running = build_menu(
        TrayView(extension="001", link="online", dialer=DialerView("in_call")), UTC
    )
    pauses = find(running, "Auto-dial", "Pause").submenu or ()
    assert [e.command for e in pauses] == [Dialer("pause", m) for m in (5, 10, 15, 30, 60)]


def test_connect_or_disconnect_follows_the_wanted_link_u3() -> None:
    assert find(build_menu(ONLINE, UTC), "Disconnect").command == Disconnect()
    stopped = TrayView(extension="001", connect_wanted=False)
    assert find(build_menu(stopped, UTC), "Connect").command == Connect()
    assert find(build_menu(stopped, UTC), "Quit").command == Quit()
    assert find(build_menu(stopped, UTC), "Settings").command == OpenWindow("settings")


def test_the_pystray_adapter_hands_commands_over(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYSTRAY_BACKEND", "dummy")  # no display needed to build a menu
    import pystray

    ran: list[object] = []
    menu = to_pystray(build_menu(ONLINE, UTC), pystray, ran.append)
    items = list(menu.items)
    assert items[1] is pystray.Menu.SEPARATOR
    quit_item = next(i for i in items if i is not SEPARATOR and getattr(i, "text", "") == "Quit")
    quit_item(None)
    assert ran == [Quit()]
    default = next(i for i in items if getattr(i, "default", False))
    assert default.text == "Open window"


def test_the_menu_speaks_ukrainian_and_russian_with_the_same_commands_b7() -> None:
    view = TrayView(
        extension="001", link="online", dnd_available=True, dialer=DialerView("calling"),
        recent=("+380442249895",),
    )  # fmt: skip
    english = build_menu(view, UTC)
    ukrainian = build_menu(replace(view, language="uk"), UTC)
    assert [e.text for e in ukrainian] == [
        "Вн. 001 · на зв'язку · автообдзвін працює",
        "-",
        "Відкрити вікно",
        "Набрати номер з буфера обміну",
        "Нещодавні номери",
        "Повторити +380442249895",
        "-",
        "Не турбувати",
        "Автообдзвін",
        "-",
        "Налаштування",
        "Від'єднатися",
        "Вийти",
    ]
    assert [e.command for e in ukrainian] == [e.command for e in english]
    russian = build_menu(replace(view, language="ru"), UTC)
    dnd = find(russian, "Не беспокоить").submenu or ()
    assert [e.text for e in dnd] == [
        "Включить", "Выключить", "На 30 минут", "На 1 час", "До завтра 09:00",
    ]  # fmt: skip
    dialer = find(russian, "Автообзвон")
    assert [e.text for e in dialer.submenu or ()] == ["Начать", "Пауза", "Продолжить", "Остановить"]
    assert find(russian, "Автообзвон", "Пауза", "15 мин").command == Dialer("pause", 15)
    offline = build_menu(TrayView(extension="001", connect_wanted=False, language="ru"), UTC)
    assert find(offline, "Подключиться").command == Connect()
    assert find(offline, "Выйти").command == Quit()


# ------------------------------------------------------------------ jobs (issue 6)


def test_jobs_offers_run_now_for_the_history_import_after_auto_dial() -> None:
    view = TrayView(
        extension="001", link="online", dialer=DialerView("idle"), jobs=(JobView("history"),)
    )
    menu = build_menu(view, UTC)
    assert [e.text for e in menu].index("Jobs") == [e.text for e in menu].index("Auto-dial") + 1
    jobs = find(menu, "Jobs")
    assert [(e.text, e.command, e.enabled) for e in jobs.submenu or ()] == [
        ("Import PBX history now", RunJob("history"), True),
    ]


def test_the_robot_import_is_offered_only_when_it_is_set_up_and_a_running_job_is_greyed() -> None:
    both = (JobView("history", running=True), JobView("robot"))
    menu = build_menu(TrayView(extension="001", jobs=both), UTC)  # offline: REST still works
    assert [(e.text, e.command, e.enabled) for e in find(menu, "Jobs").submenu or ()] == [
        ("Import PBX history now", RunJob("history"), False),
        ("Import robot results now", RunJob("robot"), True),
    ]
    assert "Jobs" not in texts(ONLINE)  # no jobs area, no entry


def test_jobs_speak_the_operators_language_b7() -> None:
    view = TrayView(extension="001", language="uk", jobs=(JobView("history"), JobView("robot")))
    jobs = find(build_menu(view, UTC), "Завдання")
    assert [e.text for e in jobs.submenu or ()] == [
        "Імпортувати історію АТС зараз",
        "Імпортувати результати робота зараз",
    ]


def test_a_finished_run_says_its_counts_or_why_it_did_not_finish() -> None:
    t = Translator("en")
    history = {"state": "ok", "counts": {"records": 7, "imported": 5, "events": 2}}
    assert job_result_text("history", history, t) == (
        "Done: 7 calls read, 5 imported, 2 events created."
    )
    robot = {
        "state": "ok",
        "counts": {"rows": 9, "events": 4, "skipped_unmapped": 2, "skipped_repeated": 2,
                   "invalid": 1},
    }  # fmt: skip
    assert job_result_text("robot", robot, t) == "Done: 9 rows read, 4 events created, 5 skipped."
    failed = {"state": "failed", "error": "HTTP 503 from the PBX", "counts": {}}
    assert job_result_text("history", failed, t) == "Failed: HTTP 503 from the PBX"
    assert job_result_text("robot", {"state": "lost"}, t) == "Stopped before it finished."
    ru = job_result_text("history", history, Translator("ru"))
    assert ru == "Готово: прочитано звонков — 7, импортировано — 5, создано событий — 2."
