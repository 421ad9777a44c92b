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
    SetDnd,
    build_menu,
    default_command,
    find,
    to_pystray,
)
from agent.desktop.view import DialerView, TrayView

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
