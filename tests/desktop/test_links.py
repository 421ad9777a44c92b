"""Click-to-dial parts (agent/desktop/links.py; B1): the number in a text, the hotkey
notation, and, on the real X server, the selection reader and the global hotkey."""

from __future__ import annotations

import threading

import pytest

from agent.core.errors import InvalidInput
from agent.core.hotkeys import Hotkey, parse_hotkey
from agent.core.numbers import DialTarget, InvalidNumber
from agent.desktop.links import HotkeyListener, find_number, read_selection
from tests.desktop.helpers import SelectionOwner
from tests.desktop.session import DesktopSession, wait_for

NUMBER = "+380442249895"


@pytest.mark.parametrize(
    "text",
    [
        "+380 44 224 98 95",
        "044 224-98-95",
        "  (044) 224 98 95\n",
        "Call me at +38 (044) 224-98-95 tomorrow",
        "tel:+380-44-224-98-95",
        "see tel:%2B380442249895 or mail",
        "callto://+380442249895",
        "Тел.: 044 224 98 95, Іван",
    ],
)
def test_the_number_is_found_in_what_was_selected(text: str) -> None:
    found = find_number(text, "UA")
    assert isinstance(found, DialTarget) and found.number == NUMBER


def test_extensions_and_service_codes_are_dialled_as_typed() -> None:
    assert find_number("001", "UA") == find_number(" 001 ", "UA")
    code = find_number("*78", "UA")
    assert isinstance(code, DialTarget) and code.number == "*78"


@pytest.mark.parametrize("text", ["", "   ", "hello world", "order 12", "x" * 5000])
def test_text_without_a_number_is_a_clear_value_not_an_exception(text: str) -> None:
    assert isinstance(find_number(text, "UA"), InvalidNumber)


def test_hotkeys_are_read_in_the_settings_notation() -> None:
    assert parse_hotkey("<ctrl>+<alt>+d") == Hotkey(frozenset({"ctrl", "alt"}), "d")
    assert parse_hotkey("Ctrl+Shift+F9") == Hotkey(frozenset({"ctrl", "shift"}), "f9")
    assert str(parse_hotkey("<alt>+<ctrl>+d")) == "<alt>+<ctrl>+d"
    for bad in ("d", "<ctrl>", "<ctrl>+dd", "<ctrl>+<hyper>+d", "<ctrl>+d+e"):
        with pytest.raises(InvalidInput):
            parse_hotkey(bad)


@pytest.mark.desktop
def test_the_selected_text_and_the_clipboard_are_read_from_their_owners(
    desktop: DesktopSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISPLAY", desktop.env["DISPLAY"])
    primary = SelectionOwner(desktop.env["DISPLAY"], "PRIMARY", "Іван: 044 224 98 95")
    clipboard = SelectionOwner(desktop.env["DISPLAY"], "CLIPBOARD", "tel:+380442249895")
    try:
        assert read_selection("primary") == "Іван: 044 224 98 95"
        assert read_selection("clipboard") == "tel:+380442249895"
    finally:
        primary.close()
        clipboard.close()


@pytest.mark.desktop
def test_the_global_hotkey_fires_with_caps_lock_and_num_lock_too(
    desktop: DesktopSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISPLAY", desktop.env["DISPLAY"])
    pressed = threading.Event()
    count: list[int] = []

    def on_press() -> None:
        count.append(1)
        pressed.set()

    listener = HotkeyListener(parse_hotkey("<ctrl>+<alt>+k"), on_press)
    assert listener.start(), listener.error
    try:
        desktop.run(["xdotool", "key", "ctrl+alt+k"], check=True)
        assert pressed.wait(10)
        desktop.run(["xdotool", "key", "Num_Lock"], check=True)
        desktop.run(["xdotool", "key", "ctrl+alt+k"], check=True)
        wait_for(lambda: len(count) == 2, 10, "the second press with Num Lock on")
        desktop.run(["xdotool", "key", "Num_Lock"], check=True)
        second = HotkeyListener(parse_hotkey("<ctrl>+<alt>+k"), on_press)
        assert not second.start()  # another application holds it: said, not raised
        assert "taken" in (second.error or "")
        second.stop()
    finally:
        listener.stop()
