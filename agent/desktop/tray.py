"""The tray icon (pystray) on the main thread, driven only from its own thread (issue 3).

The agent's loop computes a :class:`~agent.desktop.view.TrayView` and calls
:meth:`Tray.show` from its own thread; the tray *posts* the change onto the tray
thread (GLib's idle queue for the GTK backends, a window message for win32, a
serial worker for xorg, whose pystray methods marshal themselves). Driving an icon
from a foreign thread was flaky (desktop-testing.md), so nothing else touches it.

The backend is chosen explicitly by agent/tray_backend.py (the same decision
``--selftest`` reports), answered by this module's probes of the desktop. Re-docking
when the tray host comes back: win32 handles ``TaskbarCreated``, GtkStatusIcon
re-docks by itself, appindicator re-registers with a new watcher; for xorg a watcher
re-docks the icon.
"""

from __future__ import annotations

import importlib
import logging
import os
import queue
import select
import sys
import threading
import warnings
from collections.abc import Callable
from dataclasses import replace
from datetime import tzinfo
from typing import Any

from agent.desktop.icons import render
from agent.desktop.menu import Command, build_menu, to_pystray
from agent.desktop.view import IconState, TrayView, icon_state, tooltip
from agent.tray_backend import session_bus_present, statusnotifier_host, tray_host_window

log = logging.getLogger(__name__)

HOST_POLL_S = 2.0
XORG_JOIN_S = 2.0
XORG_REPAINT_S = (1.0, 3.0)  # xorg: paint again after docking (see TrayIcon.run)


# ------------------------------------------------------------------ backend choice
# The decision itself is agent/tray_backend.py's (shared with --selftest); the probes
# that answer it on this desktop are here.


def probe_desktop(what: str) -> bool:
    """The real probes of :func:`agent.tray_backend.choose_backend` (Linux)."""
    try:
        if what == "appindicator":
            return _gi_has("AyatanaAppIndicator3", "0.1") or _gi_has("AppIndicator3", "0.1")
        if what == "gtk":
            return _gi_has("Gtk", "3.0")
        if what == "bus":
            return session_bus_present(os.environ)
        if what == "sni":
            return statusnotifier_host()
        if what == "xembed":
            return tray_host_window() != 0
    except Exception as exc:  # a probe that fails answers "no", and says why in debug
        log.debug("tray probe %s failed: %s", what, exc)
    return False


def _gi_has(namespace: str, version: str) -> bool:
    import gi  # Debian's, no stubs

    try:
        gi.require_version(namespace, version)
        with warnings.catch_warnings():
            # PyGObject 3.42's importer predates exec_module and says so on Python 3.11.
            warnings.simplefilter("ignore", ImportWarning)
            importlib.import_module(f"gi.repository.{namespace}")
    except (ValueError, ImportError):
        return False
    return True


def load_pystray(backend: str) -> Any:
    """Import pystray with this backend (it picks one at import: set it explicitly)."""
    os.environ["PYSTRAY_BACKEND"] = backend
    return importlib.import_module("pystray")


# ------------------------------------------------------------------ the tray


class Tray:
    """One icon. :meth:`run` blocks the main thread; everything else is thread-safe."""

    def __init__(
        self,
        backend: str,
        *,
        run_command: Callable[[Command], None],
        tz: Callable[[], tzinfo],
        name: str = "phonet-agent",
    ) -> None:
        self.backend = backend
        self.pystray = load_pystray(backend)
        self._run_command = run_command
        self._tz = tz
        self._icon_key: tuple[IconState, int] | None = None
        self._last: TrayView | None = None
        self._ready = threading.Event()
        self._stopped = threading.Event()
        self._stop_asked = threading.Event()
        self._early: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._worker: queue.Queue[Callable[[], None] | None] | None = None
        self.icon = self.pystray.Icon(
            name, render(IconState.OFFLINE), "Phonet Agent", menu=self.pystray.Menu()
        )
        self._win32_queue: queue.Queue[Callable[[], None]] = queue.Queue()
        if backend == "xorg":
            _dock_once(self.icon)
        if backend == "win32":
            self._win32_message = _win32_dispatch(self.icon, self._drain_win32)

    @property
    def has_menu(self) -> bool:
        return bool(getattr(self.icon, "HAS_MENU", False))

    @property
    def has_balloon(self) -> bool:
        return bool(getattr(self.icon, "HAS_NOTIFICATION", False))

    # ---------------------------------------------------------------- main thread

    def run(self, on_ready: Callable[[], None] | None = None) -> None:
        """The tray's loop on the main thread, until :meth:`stop`."""

        def setup(icon: Any) -> None:
            icon.visible = True
            with self._lock:
                self._ready.set()
                early, self._early = self._early, []
            for fn in early:
                self.post(fn)
            if self.backend == "xorg":
                threading.Thread(target=self._watch_host, name="tray-host", daemon=True).start()
                # A draw that comes before the host maps the docked window is lost and
                # no Expose follows: the icon stays a blank square (seen in CI). Paint
                # again once the host has had time to map it.
                for delay in XORG_REPAINT_S:
                    timer = threading.Timer(delay, lambda: self.post(self._repaint))
                    timer.daemon = True
                    timer.start()
            if on_ready is not None:
                on_ready()

        if self.backend in ("xorg", "dummy", "darwin"):
            self._worker = queue.Queue()
            threading.Thread(target=self._serial, name="tray-serial", daemon=True).start()
        try:
            if self.backend == "xorg":
                self._run_xorg(setup)
            else:
                self.icon.run(setup=setup)
        finally:
            self._stopped.set()
            if self._worker is not None:
                self._worker.put(None)

    def _run_xorg(self, setup: Callable[[Any], None]) -> None:
        """pystray's xorg loop ends when it sees its window destroyed, and sometimes
        misses that at stop (about 1 stop in 5 here). Its loop is plain Xlib, fine on
        any thread: run it on a daemon thread and let the main thread leave on stop."""
        loop = threading.Thread(
            target=self.icon.run, kwargs={"setup": setup}, name="tray-xorg", daemon=True
        )
        loop.start()
        while loop.is_alive() and not self._stop_asked.wait(0.5):
            pass
        loop.join(XORG_JOIN_S)

    # ---------------------------------------------------------------- any thread

    def post(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the tray's thread (queued until the tray runs)."""
        with self._lock:
            if not self._ready.is_set():
                self._early.append(fn)
                return
        if self._stopped.is_set():
            return
        if self.backend in ("gtk", "appindicator"):
            from gi.repository import GLib

            GLib.idle_add(_once(fn))
        elif self.backend == "win32":
            self._win32_queue.put(fn)
            self._win32_message()
        elif self._worker is not None:
            self._worker.put(fn)

    def show(self, view: TrayView) -> None:
        """Draw this state: icon, badge, tooltip and menu (any thread)."""
        self.post(lambda: self._apply(view))

    def balloon(self, title: str, text: str) -> None:
        """The tray's own notification (the popups' fallback where it exists)."""
        self.post(lambda: self.icon.notify(text, title))

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self.post(self.icon.stop)
        self._stop_asked.set()
        if not self._ready.is_set():
            self._stopped.set()

    def wait_ready(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    def wait_stopped(self, timeout: float) -> bool:
        return self._stopped.wait(timeout)

    # ---------------------------------------------------------------- tray thread

    def _apply(self, view: TrayView) -> None:
        state = icon_state(view)
        key = (state, min(view.figures.missed, 10))
        if key != self._icon_key:
            self._icon_key = key
            self.icon.icon = render(state, view.figures.missed)
        title = tooltip(view, self._tz())
        if self.backend == "xorg":  # the window name is a latin-1 STRING property there
            title = title.encode("latin-1", "replace").decode("latin-1")
        self.icon.title = title
        if self._last is None or _menu_changed(self._last, view):
            self.icon.menu = to_pystray(
                build_menu(view, self._tz()), self.pystray, self._run_command
            )
        self._last = view

    def _serial(self) -> None:
        assert self._worker is not None
        while (fn := self._worker.get()) is not None:
            _once(fn)()

    def _drain_win32(self) -> None:
        while True:
            try:
                fn = self._win32_queue.get_nowait()
            except queue.Empty:
                return
            _once(fn)()

    def _watch_host(self) -> None:
        """xorg only: dock again when a tray host starts. A new host announces itself
        with a MANAGER client message on the root window (System Tray Protocol
        Specification, "Locating the system tray"); its window id may equal the old one's."""
        from Xlib import X, display

        try:
            conn = display.Display()
        except Exception as exc:
            log.info("cannot watch for tray hosts: %s", exc)
            return
        try:
            root = conn.screen().root
            manager = conn.intern_atom("MANAGER")
            selection = conn.intern_atom(f"_NET_SYSTEM_TRAY_S{conn.get_default_screen()}")
            root.change_attributes(event_mask=X.StructureNotifyMask)
            conn.sync()
            while not self._stopped.is_set():
                while conn.pending_events():
                    event = conn.next_event()
                    if (
                        event.type == X.ClientMessage
                        and event.client_type == manager
                        and event.data[1][1] == selection
                    ):
                        log.info("a tray host appeared; docking the icon again")
                        self.post(self._redock)
                select.select([conn.fileno()], [], [], HOST_POLL_S)
        finally:
            conn.close()

    def _repaint(self) -> None:
        self.icon._update_icon()  # docks only when not docked (_dock_once), then draws

    def _redock(self) -> None:
        self.icon._systray_manager = None  # the old host is gone, whatever its id was
        self.icon._update_icon()


def _menu_changed(old: TrayView, new: TrayView) -> bool:
    # The figures only change the tooltip; rebuilding a menu under an open one is jarring.
    return replace(old, figures=new.figures) != new


def _once(fn: Callable[[], None]) -> Callable[[], bool]:
    """A callable for an idle queue: runs ``fn`` once, logs a failure, never repeats."""

    def call() -> bool:
        try:
            fn()
        except Exception:
            log.exception("tray update failed")
        return False  # GLib: remove the idle source

    return call


def _dock_once(icon: Any) -> None:
    """pystray's xorg backend asks to dock on every icon update, and a doubled request
    sometimes leaves the icon invisible (desktop-testing.md: about 1 start in 12). Dock
    only when not docked to the current tray host."""
    original = icon._dock_window

    def dock_window() -> None:
        current = icon._systray_manager
        owner = icon._get_systray_manager()
        if current is not None and owner is not None and owner.id == current.id:
            return
        icon._systray_manager = None
        original()

    icon._dock_window = dock_window


def _win32_dispatch(icon: Any, drain: Callable[[], None]) -> Callable[[], None]:
    """A private window message on pystray's own window runs our queue on its thread."""
    message = 0x0400 + 0x50  # WM_USER + 0x50: clear of pystray's WM_USER + 10/11
    icon._message_handlers[message] = lambda _w, _l: drain()

    def wake() -> None:
        hwnd = getattr(icon, "_hwnd", None)
        if hwnd and sys.platform == "win32":
            import ctypes

            ctypes.windll.user32.PostMessageW(hwnd, message, 0, 0)

    return wake
