"""Call popups (agent/desktop/popups.py; C3, B6, B12, B13): what they say, and the
adapter itself in this process on the real notification server (flood control,
buttons reaching the actions, the fallback when no server answers)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agent.core.errors import LicenseError
from agent.core.events import Direction
from agent.core.popups import Popup, PopupKind
from agent.desktop.actions import error_text
from agent.desktop.popup_text import MAX_BUTTONS, popup_text
from agent.desktop.popups import MAX_VISIBLE, DesktopPopups, notify_once
from agent.desktop.shell import refusal_text
from agent.i18n import Translator
from tests.desktop.session import DesktopSession, bare_bus

NUMBER = "+380442249895"


def popup(kind: PopupKind, direction: Direction = Direction.IN, **kw: object) -> Popup:
    return Popup(
        call_uuid=str(kw.pop("uuid", "c1")), kind=kind, direction=direction, number=NUMBER, **kw
    )  # type: ignore[arg-type]


def buttons(p: Popup) -> list[str]:
    return [bid for bid, _ in popup_text(p, timeout_s=8).buttons]


def test_each_phase_says_what_happens_with_number_direction_and_contact_c3() -> None:
    ring = popup_text(
        popup(PopupKind.RING, contact="Ivan", company="ACME", context=("last call 12.03",)),
        timeout_s=8,
    )
    assert ring.title == "Incoming call from Ivan"
    assert ring.body == f"{NUMBER} (incoming)\nIvan — ACME\nlast call 12.03"
    assert ring.timeout_s == 0  # a ring stays until the call moves on
    assert (
        popup_text(popup(PopupKind.DIAL, Direction.OUT), timeout_s=8).title == f"Calling {NUMBER}"
    )
    assert popup_text(popup(PopupKind.ANSWER), timeout_s=8).title == f"Talking with {NUMBER}"
    ended = popup_text(popup(PopupKind.HANGUP, talk_s=83), timeout_s=8)
    assert ended.title == "Call ended · 1:23" and ended.timeout_s == 8
    assert popup_text(popup(PopupKind.HANGUP), timeout_s=8).title == f"Missed call from {NUMBER}"
    assert popup_text(popup(PopupKind.HANGUP, Direction.OUT), timeout_s=8).title == "No answer"
    answered_briefly = popup(PopupKind.HANGUP, talk_s=0)  # answered: not missed
    assert popup_text(answered_briefly, timeout_s=8).title == "Call ended · 0:00"


def test_buttons_per_phase_b6() -> None:
    assert buttons(popup(PopupKind.RING)) == ["hangup"]
    assert buttons(popup(PopupKind.RING, contact="Ivan")) == ["hangup", "open_contact"]
    assert buttons(popup(PopupKind.ANSWER, contact="Ivan")) == [
        "hangup",
        "create_event",
        "open_contact",
    ]
    assert buttons(popup(PopupKind.HANGUP)) == ["call_back", "create_event"]
    assert buttons(popup(PopupKind.HANGUP, talk_s=5)) == ["create_event"]
    for kind in PopupKind:
        assert len(buttons(popup(kind, contact="x"))) <= MAX_BUTTONS  # Windows: five at most


def test_popups_speak_the_operators_language_b7() -> None:
    uk = Translator("uk")
    ring = popup_text(popup(PopupKind.RING, contact="Іван", company="ACME"), timeout_s=8, t=uk)
    assert ring.title == "Вхідний дзвінок від Іван"
    assert ring.body == f"{NUMBER} (вхідний)\nІван — ACME"
    assert ring.buttons == (("hangup", "Покласти"), ("open_contact", "Відкрити контакт"))
    ru = Translator("ru")
    missed = popup_text(popup(PopupKind.HANGUP), timeout_s=8, t=ru)
    assert (missed.title, missed.buttons) == (
        f"Пропущенный звонок от {NUMBER}",
        (("call_back", "Перезвонить"), ("create_event", "Создать событие")),
    )
    assert popup_text(popup(PopupKind.HANGUP, talk_s=83), timeout_s=8, t=ru).title == (
        "Звонок завершён · 1:23"
    )
    out = popup_text(popup(PopupKind.DIAL, Direction.OUT), timeout_s=8, t=uk)
    assert (out.title, out.body) == (f"Дзвінок на {NUMBER}", f"{NUMBER} (вихідний)")
    assert popup_text(popup(PopupKind.HANGUP, Direction.OUT), timeout_s=8, t=uk).title == (
        "Немає відповіді"
    )


def test_an_error_reads_in_the_operators_language_and_a_refusal_keeps_its_detail() -> None:
    refused = LicenseError("the licence refused the start: all 1 licences are in use")
    assert error_text(refused, Translator("en")) == str(refused)
    assert error_text(refused, Translator("uk")) == "Ліцензія цього не дозволяє"
    detail = "The licence refused the start: all 1 licences are in use"
    assert refusal_text(refused, Translator("en")) == detail
    assert refusal_text(refused, Translator("ru")) == f"Лицензия этого не позволяет\n{detail}"


def test_context_lines_are_few() -> None:
    many = popup(PopupKind.RING, context=tuple(f"line {i}" for i in range(10)))
    assert popup_text(many, timeout_s=8).body.count("\n") == 3


# ------------------------------------------------------------------ the adapter, live


class Actions:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.event = asyncio.Event()

    def _note(self, what: str, arg: str) -> None:
        self.calls.append((what, arg))
        self.event.set()

    def hang_up(self, call_uuid: str) -> None:
        self._note("hang_up", call_uuid)

    def call_back(self, number: str) -> None:
        self._note("call_back", number)

    def open_contact(self, number: str) -> None:
        self._note("open_contact", number)

    def create_event(self, call_uuid: str, number: str, direction: str) -> None:
        self._note("create_event", call_uuid)

    def open_call(self, call_uuid: str) -> None:
        self._note("open_call", call_uuid)


@pytest.fixture
async def live_popups(
    desktop: DesktopSession, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[DesktopPopups, Actions, list[tuple[str, str]]]]:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", desktop.env["DBUS_SESSION_BUS_ADDRESS"])
    desktop.close_all_popups()
    actions = Actions()
    fallback: list[tuple[str, str]] = []
    popups = DesktopPopups(
        actions=actions,
        dnd=lambda: False,
        timeout_s=lambda: 0,
        fallback=lambda title, body: fallback.append((title, body)),
    )
    await popups.start()
    yield popups, actions, fallback
    await popups.close()


async def until(condition: object, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.02)


@pytest.mark.desktop
async def test_a_burst_of_calls_never_floods_the_screen(
    live_popups: tuple[DesktopPopups, Actions, list[tuple[str, str]]], desktop: DesktopSession
) -> None:
    popups, _, fallback = live_popups
    assert desktop.recorder is not None
    mark = desktop.recorder.mark()
    for i in range(8):
        popups.show(popup(PopupKind.RING, uuid=f"call{i}"))
        popups.show(popup(PopupKind.ANSWER, uuid=f"call{i}"))  # replaces a ring not yet sent
    await until(lambda: popups.sent >= MAX_VISIBLE and not popups._wanted)

    ours = [n for n in desktop.recorder.since(mark) if n.app_name == "Phonet Agent"]
    await until(lambda: len([n for n in desktop.recorder.since(mark) if n.open]) <= MAX_VISIBLE)
    assert len([n for n in ours if n.summary.startswith("Incoming")]) <= 1  # coalesced
    assert fallback == []
    assert desktop.dunst_count() <= MAX_VISIBLE


@pytest.mark.desktop
async def test_a_button_reaches_the_actions_with_its_call(
    live_popups: tuple[DesktopPopups, Actions, list[tuple[str, str]]], desktop: DesktopSession
) -> None:
    popups, actions, _ = live_popups
    popups.show(popup(PopupKind.HANGUP, uuid="missed1"))
    await until(lambda: popups.sent == 1)
    await asyncio.to_thread(desktop.pick_action, "call_back")
    await asyncio.wait_for(actions.event.wait(), 10)
    assert actions.calls == [("call_back", NUMBER)]


@pytest.mark.desktop
async def test_no_notification_server_means_the_fallback_said_once(
    desktop: DesktopSession,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    shown: list[str] = []
    with bare_bus(tmp_path) as address:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        popups = DesktopPopups(
            actions=Actions(),
            dnd=lambda: False,
            timeout_s=lambda: 8,
            fallback=lambda title, body: shown.append(title),
            console=shown.append,
        )
        with caplog.at_level(logging.WARNING, logger="agent.desktop.popups"):
            await popups.start()
            popups.show(popup(PopupKind.RING, uuid="a"))
            popups.show(popup(PopupKind.RING, uuid="b"))
            await until(lambda: len(shown) == 4)
        await popups.close()
    assert popups.available is False
    assert shown == [
        f"popup ring in {NUMBER}",
        f"Incoming call from {NUMBER}",
        f"popup ring in {NUMBER}",
        f"Incoming call from {NUMBER}",
    ]
    warnings = [r for r in caplog.records if "not available" in r.getMessage()]
    assert len(warnings) == 1
    assert popups.ask("Dial?", "x", ("Dial", lambda: None)) is False  # no confirm possible


@pytest.mark.desktop
async def test_a_message_before_any_popups_are_wired_goes_to_the_fallback_without_a_server(
    desktop: DesktopSession, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A start refused before the desktop was wired still says why (issue 3)."""
    told: list[tuple[str, str]] = []
    with bare_bus(tmp_path) as address:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        shown = await notify_once("Phonet Agent did not start", "why", lambda *m: told.append(m))
    assert shown is False
    assert told == [("Phonet Agent did not start", "why")]


@pytest.mark.desktop
async def test_a_message_before_any_popups_are_wired_reaches_the_server(
    desktop: DesktopSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert desktop.recorder is not None
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", desktop.env["DBUS_SESSION_BUS_ADDRESS"])
    recorder = desktop.recorder
    mark = recorder.mark()
    assert await notify_once("Phonet Agent did not start", "why", lambda *_: None) is True
    await until(lambda: [n.body for n in recorder.since(mark) if n.summary.endswith("start")])
    desktop.close_all_popups()
