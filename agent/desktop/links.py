"""Click-to-dial from anywhere (B1): the clipboard, the selected text, a global hotkey.

``tel:``/``callto:`` links reach the agent through the command line
(``phonet-agent tel:…`` → agent/local_client.py → ``POST /api/dial``); this module
holds the parts that need the desktop:

- :func:`find_number`: the number to dial in a piece of copied or selected text;
- :func:`read_selection`: the clipboard, or the selected text (X11's PRIMARY
  selection; on Windows the selection is copied with a simulated Ctrl+C first);
- :class:`HotkeyListener`: a global hotkey (default Ctrl+Alt+D): X11 ``XGrabKey`` on
  the root window (python-xlib comes with pystray on Linux), Windows ``RegisterHotKey``.

Each listener runs on a thread of its own with its own display connection, and only
hands the selected text to a callback (which passes it to the agent's loop).
"""

from __future__ import annotations

import logging
import os
import re
import select
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from agent.core.hotkeys import Hotkey
from agent.core.numbers import DialTarget, InvalidNumber, parse_dial_target

log = logging.getLogger(__name__)

MAX_TEXT = 2000  # a selection longer than this is not a number someone meant to dial
SELECTION_TIMEOUT_S = 2.0
_URL = re.compile(r"(?i)\b(?:tel|callto):[^\s<>\"']+")
_CANDIDATE = re.compile(r"(?:\+|\b)\d[\d\s().\-/]{3,24}\d(?:\s*(?:x|ext\.?|доб\.?)\s*\d{1,6})?")


# ------------------------------------------------------------------ the number in a text


def find_number(text: str, region: str) -> DialTarget | InvalidNumber:
    """The first dialable number in the text: the whole text, a tel:/callto: link in
    it, or the first run of digits that reads as a phone number."""
    text = (text or "").strip()[:MAX_TEXT]
    if not text:
        return InvalidNumber("nothing is selected", "number.empty")
    whole = parse_dial_target(text, region)
    if isinstance(whole, DialTarget):
        return whole
    for match in [*_URL.finditer(text), *_CANDIDATE.finditer(text)]:
        found = parse_dial_target(match.group(0).strip(), region)
        if isinstance(found, DialTarget):
            return found
    return InvalidNumber("no phone number in the text", "number.none_in_text")


# ------------------------------------------------------------------ hotkeys


# Hotkey and parse_hotkey live in the core: the settings check refuses a bad one when
# saved (agent/core/hotkeys.py); re-exported here for the desktop's users.


class HotkeyListener:
    """A global hotkey; ``on_press`` runs on the listener's own thread."""

    def __init__(self, hotkey: Hotkey, on_press: Callable[[], None]) -> None:
        self.hotkey = hotkey
        self.on_press = on_press
        self.error: str | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._stop_r, self._stop_w = os.pipe() if sys.platform != "win32" else (-1, -1)
        self._thread_id = 0

    def start(self, timeout: float = 5.0) -> bool:
        """Grab the key; False (and ``error`` says why) when it cannot be had."""
        target = self._run_windows if sys.platform == "win32" else self._run_x11
        self._thread = threading.Thread(target=target, name="hotkey", daemon=True)
        self._thread.start()
        self._ready.wait(timeout)
        return self.error is None and self._ready.is_set()

    def stop(self) -> None:
        if self._thread is None:
            return
        if sys.platform == "win32":
            import ctypes

            ctypes.windll.user32.PostThreadMessageW(self._thread_id, 0x0012, 0, 0)  # WM_QUIT
        else:
            os.write(self._stop_w, b"x")
        self._thread.join(5)
        if sys.platform != "win32":
            os.close(self._stop_r)
            os.close(self._stop_w)

    def _pressed(self) -> None:
        try:
            self.on_press()
        except Exception:
            log.exception("the hotkey's action failed")

    # ---------------------------------------------------------------- X11

    def _run_x11(self) -> None:
        try:
            from Xlib import XK, X, display, error

            conn = display.Display()
        except Exception as exc:
            self.error = f"no X display: {exc}"
            self._ready.set()
            return
        try:
            root = conn.screen().root
            keysym = XK.string_to_keysym(
                self.hotkey.key.upper() if len(self.hotkey.key) > 1 else self.hotkey.key
            )
            keycode = conn.keysym_to_keycode(keysym)
            if not keycode:
                self.error = f"no key {self.hotkey.key!r} on this keyboard"
                return
            mask = 0
            for mod in self.hotkey.modifiers:
                mask |= {
                    "ctrl": X.ControlMask,
                    "alt": X.Mod1Mask,
                    "shift": X.ShiftMask,
                    "super": X.Mod4Mask,
                }[mod]
            catcher = error.CatchError(error.BadAccess)
            # Caps Lock and Num Lock (Mod2) change the state: grab every combination.
            for extra in (0, X.LockMask, X.Mod2Mask, X.LockMask | X.Mod2Mask):
                root.grab_key(
                    keycode, mask | extra, True, X.GrabModeAsync, X.GrabModeAsync, onerror=catcher
                )
            conn.sync()
            if catcher.get_error() is not None:
                self.error = f"{self.hotkey} is taken by another application"
                return
            self._ready.set()
            self._x11_loop(conn, keycode, X.KeyPress)
        finally:
            self._ready.set()
            conn.close()

    def _x11_loop(self, conn: Any, keycode: int, key_press: int) -> None:
        while True:
            while conn.pending_events():
                event = conn.next_event()
                if event.type == key_press and event.detail == keycode:
                    self._pressed()
            readable, _, _ = select.select([conn.fileno(), self._stop_r], [], [])
            if self._stop_r in readable:
                return

    # ---------------------------------------------------------------- Windows

    def _run_windows(self) -> None:
        if sys.platform == "win32":
            import ctypes
            from ctypes import wintypes

            user32 = ctypes.windll.user32
            self._thread_id = ctypes.windll.kernel32.GetCurrentThreadId()
            mods = 0x4000  # MOD_NOREPEAT
            for mod in self.hotkey.modifiers:
                mods |= {"alt": 0x1, "ctrl": 0x2, "shift": 0x4, "super": 0x8}[mod]
            key = self.hotkey.key
            vk = ord(key.upper()) if len(key) == 1 else 0x70 + int(key[1:]) - 1  # VK_F1..
            if not user32.RegisterHotKey(None, 1, mods, vk):
                self.error = f"{self.hotkey} is taken by another application"
                self._ready.set()
                return
            self._ready.set()
            msg = wintypes.MSG()
            try:
                while user32.GetMessageW(ctypes.byref(msg), None, 0, 0) > 0:
                    if msg.message == 0x0312:  # WM_HOTKEY
                        self._pressed()
            finally:
                user32.UnregisterHotKey(None, 1)


# ------------------------------------------------------------------ clipboard and selection


def read_selection(which: str = "clipboard") -> str | None:
    """The clipboard's text (``which="clipboard"``) or the selected text (``"primary"``).

    None when there is none or it cannot be read. Blocking (up to a second or two):
    call it from a worker thread, never from the agent's loop or the tray's thread.
    """
    try:
        if sys.platform == "win32":
            if which == "primary":
                _windows_copy_selection()
            return _windows_clipboard()
        if os.environ.get("DISPLAY"):
            return _x11_selection("PRIMARY" if which == "primary" else "CLIPBOARD")
        if os.environ.get("WAYLAND_DISPLAY") and shutil.which("wl-paste"):
            args = ["wl-paste", "--no-newline"] + (["--primary"] if which == "primary" else [])
            done = subprocess.run(args, capture_output=True, timeout=SELECTION_TIMEOUT_S)
            return done.stdout.decode("utf-8", "replace") if done.returncode == 0 else None
    except Exception as exc:
        log.info("could not read the %s: %s", which, exc)
    return None


def _x11_selection(name: str) -> str | None:
    """ICCCM §2.4: ask the selection's owner to convert it to UTF-8 text for us."""
    from Xlib import X, display

    conn = display.Display()
    try:
        selection = conn.intern_atom(name)
        if conn.get_selection_owner(selection) in (X.NONE, 0):
            return None
        window = conn.screen().root.create_window(0, 0, 1, 1, 0, X.CopyFromParent)
        prop = conn.intern_atom("PHONET_AGENT_SELECTION")
        for target_name in ("UTF8_STRING", "STRING"):
            target = conn.intern_atom(target_name)
            window.convert_selection(selection, target, prop, X.CurrentTime)
            conn.flush()
            event = _wait_selection_notify(conn, window.id)
            if event is None:
                return None
            if event.property == X.NONE:
                continue  # the owner cannot give this target: try the next
            data = window.get_full_property(prop, X.AnyPropertyType)
            if data is None or data.property_type == conn.intern_atom("INCR"):
                return None  # empty, or too large to be a number anyway
            value = data.value
            return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        return None
    finally:
        conn.close()


def _wait_selection_notify(conn: Any, window_id: int) -> Any:
    from Xlib import X

    deadline = time.monotonic() + SELECTION_TIMEOUT_S
    while True:
        while conn.pending_events():
            event = conn.next_event()
            if event.type == X.SelectionNotify and event.requestor.id == window_id:
                return event
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        select.select([conn.fileno()], [], [], left)


def _windows_clipboard() -> str | None:
    if sys.platform == "win32":
        import ctypes

        user32, kernel32 = ctypes.windll.user32, ctypes.windll.kernel32
        kernel32.GlobalLock.restype = ctypes.c_void_p
        user32.GetClipboardData.restype = ctypes.c_void_p
        for _ in range(10):  # another application may hold the clipboard for a moment
            if user32.OpenClipboard(None):
                break
            time.sleep(0.05)
        else:
            return None
        try:
            handle = user32.GetClipboardData(13)  # CF_UNICODETEXT
            if not handle:
                return None
            pointer = kernel32.GlobalLock(ctypes.c_void_p(handle))
            try:
                return ctypes.wstring_at(pointer) if pointer else None
            finally:
                kernel32.GlobalUnlock(ctypes.c_void_p(handle))
        finally:
            user32.CloseClipboard()
    return None


def _windows_copy_selection() -> None:
    """Copy the foreground application's selection: wait until the hotkey's modifiers
    are released (else Ctrl+C would arrive as Ctrl+Alt+C), send Ctrl+C, and wait for
    the clipboard to change."""
    if sys.platform == "win32":
        import ctypes

        user32 = ctypes.windll.user32
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline and any(
            user32.GetAsyncKeyState(vk) & 0x8000 for vk in (0x10, 0x11, 0x12, 0x5B, 0x5C)
        ):
            time.sleep(0.02)
        before = user32.GetClipboardSequenceNumber()
        for vk, up in ((0x11, 0), (0x43, 0), (0x43, 2), (0x11, 2)):  # Ctrl down, C, C up, Ctrl up
            user32.keybd_event(vk, 0, up, 0)
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline and user32.GetClipboardSequenceNumber() == before:
            time.sleep(0.02)
