"""Acting as the user and looking at the screen, for the desktop tests.

- :func:`wait_icon`: screenshot the tray until the icon shows a state's colour (each
  state has its own, agent/desktop/icons.py), and keep the screenshot as an artifact;
- :func:`menu_keys` + :func:`use_menu`: open the tray menu with a real right click and
  walk it with the keyboard, the path computed from the pure menu model;
- :class:`SelectionOwner`: owns the X PRIMARY or CLIPBOARD selection with a text, as
  an editor holding selected or copied text would (ICCCM §2).
"""

from __future__ import annotations

import select
import threading
from datetime import UTC
from pathlib import Path
from typing import Any

from PIL import Image

from agent.desktop.icons import COLOURS
from agent.desktop.menu import SEPARATOR, Entry, build_menu
from agent.desktop.view import IconState, JobView, TrayView, dialer_view
from tests.desktop.session import DesktopSession, wait_for

TRAY_BOX = (0, 0, 40, 32)  # trayer's strip at the top left: our icon docks there
ICON_AT = (16, 16)


def colour_share(
    path: Path, colour: tuple[int, int, int, int], box: tuple[int, ...] = TRAY_BOX
) -> float:
    """How much of the tray strip is (close to) this colour."""
    with Image.open(path) as image:
        data = image.convert("RGB").crop(box).tobytes()
    r, g, b = colour[:3]
    count = len(data) // 3
    near = sum(
        1
        for i in range(0, len(data), 3)
        if abs(data[i] - r) + abs(data[i + 1] - g) + abs(data[i + 2] - b) < 60
    )
    return near / max(count, 1)


def wait_icon(desktop: DesktopSession, state: IconState, name: str, timeout: float = 20.0) -> Path:
    """Screenshot until the tray icon shows ``state``; the last screenshot is kept."""
    path = desktop.artifacts / f"{name}.png"

    def shows() -> bool:
        desktop.run(["import", "-window", "root", str(path)], check=True)
        return colour_share(path, COLOURS[state]) > 0.12

    wait_for(shows, timeout, f"the tray icon to show {state} (see {path})")
    print(f"screenshot: {path}")
    return path


def menu_for(status: dict[str, Any], **overrides: Any) -> tuple[Entry, ...]:
    """The menu a running agent shows, from its ``/api/status`` (the dialer and the
    jobs are wired; the robot import is not set up in these tests)."""
    fields: dict[str, Any] = {
        "extension": status["extension"],
        "link": status["link"],
        "dnd": status["dnd"]["on"],
        "dnd_available": True,
        "dialer": dialer_view(status.get("dialer"), present=True),
        "jobs": (JobView("history"),),
    }
    return build_menu(TrayView(**{**fields, **overrides}), UTC)


def menu_keys(entries: tuple[Entry, ...], *path: str) -> list[str]:
    """The keys that reach an entry of an open GTK menu: Down skips separators and
    disabled entries; Right opens a submenu (its first entry selected); Return runs."""
    keys: list[str] = []
    current = entries
    for depth, text in enumerate(path):
        usable = [e for e in current if e is not SEPARATOR and e.text != "-" and e.enabled]
        index = next(i for i, e in enumerate(usable) if e.text == text)
        keys += ["Down"] * (index + 1 if depth == 0 else index)
        target = usable[index]
        if depth < len(path) - 1:
            assert target.submenu is not None, text
            keys.append("Right")
            current = target.submenu
    keys.append("Return")
    return keys


def use_menu(desktop: DesktopSession, keys: list[str], name: str) -> Path:
    """Right-click the tray icon, screenshot the open menu, then press the keys."""
    x, y = ICON_AT
    shot = desktop.artifacts / f"{name}.png"

    def light_below_tray() -> bool:  # the menu's background where the screen is black
        desktop.run(["import", "-window", "root", str(shot)], check=True)
        with Image.open(shot) as image:
            pixel = image.convert("RGB").getpixel((60, 60))
        return isinstance(pixel, tuple) and min(pixel) > 200

    assert not light_below_tray(), f"something covers the screen below the tray: {shot}"
    desktop.run(["xdotool", "mousemove", str(x), str(y), "click", "3"], check=True)

    def menu_open() -> bool:
        # Keys sent before the menu grabs the keyboard are lost: wait for its grab too.
        return light_below_tray() and keyboard_grabbed(desktop.env["DISPLAY"])

    wait_for(menu_open, 10, "the tray menu to open and grab the keyboard")
    print(f"screenshot: {shot}")
    for key in keys:
        desktop.run(["xdotool", "key", key], check=True)
    return shot


def keyboard_grabbed(display_name: str) -> bool:
    """True while another client (an open GTK menu) holds the keyboard grab."""
    from Xlib import X, display

    conn = display.Display(display_name)
    try:
        root = conn.screen().root
        status = root.grab_keyboard(True, X.GrabModeAsync, X.GrabModeAsync, X.CurrentTime)
        if status == X.GrabSuccess:
            conn.ungrab_keyboard(X.CurrentTime)
        conn.sync()
        return bool(status == X.AlreadyGrabbed)
    finally:
        conn.close()


class SelectionOwner:
    """Holds an X selection with a text and answers conversion requests on a thread."""

    def __init__(self, display_name: str, selection: str, text: str) -> None:
        from Xlib import X, display

        self.text = text.encode()
        self.conn = display.Display(display_name)
        self.window = self.conn.screen().root.create_window(0, 0, 1, 1, 0, X.CopyFromParent)
        self.selection = self.conn.intern_atom(selection)
        self.window.set_selection_owner(self.selection, X.CurrentTime)
        self.conn.sync()
        assert self.conn.get_selection_owner(self.selection) == self.window
        self._stop = False
        self.served = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        from Xlib import X, Xatom
        from Xlib.protocol import event

        utf8 = self.conn.intern_atom("UTF8_STRING")
        targets = self.conn.intern_atom("TARGETS")
        while not self._stop:
            _readable, _, _ = select.select([self.conn.fileno()], [], [], 0.1)
            while self.conn.pending_events():
                request: Any = self.conn.next_event()
                if request.type != X.SelectionRequest:
                    continue
                prop = request.property or request.target
                if request.target in (utf8, Xatom.STRING):
                    request.requestor.change_property(prop, request.target, 8, self.text)
                elif request.target == targets:
                    request.requestor.change_property(prop, Xatom.ATOM, 32, [utf8, Xatom.STRING])
                else:
                    prop = X.NONE
                notify = event.SelectionNotify(
                    time=request.time,
                    requestor=request.requestor,
                    selection=request.selection,
                    target=request.target,
                    property=prop,
                )
                request.requestor.send_event(notify)
                self.conn.sync()
                self.served += 1

    def close(self) -> None:
        self._stop = True
        self._thread.join(5)
        self.conn.close()
