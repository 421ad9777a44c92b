"""Which pystray backend to use: the one decision, shared by the tray and ``--selftest``.

The desktop shell (agent/desktop/tray.py) and the self-test (agent/selftest.py) must
name the same backend for the same desktop, so the decision lives here, pure
(:func:`choose_backend`): each caller probes its desktop its own way (the tray
imports the GTK typelibs, the self-test only looks for their files and runs each
probe under a timeout) and hands the answers in as ``probe(what)``. The questions
that are the same for both — is there a session bus, does a tray host run — are
answered by the small probes below (jeepney and python-xlib, imported when asked).

pystray's own order changes once ``gi`` is importable, hence an explicit choice:
win32 on Windows; on Linux appindicator when a StatusNotifier host runs, gtk when an
XEmbed tray runs (a menu needs one of these two: the xorg backend has none), xorg
only as the last fallback; ``dummy`` without a display (issue 3 §1, docs/desktop.md
"Which tray is used").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final

SNI_WATCHER: Final = "org.kde.StatusNotifierWatcher"
BACKENDS: Final = ("win32", "appindicator", "gtk", "xorg", "darwin", "dummy")
ENV_BACKEND: Final = "PHONET_TRAY_BACKEND"  # ours wins over pystray's PYSTRAY_BACKEND
# The answers ``probe`` is asked for, in the order they may be asked.
PROBES: Final = ("bus", "appindicator", "gtk", "sni", "xembed")


def choose_backend(system: str, env: Mapping[str, str], probe: Callable[[str], bool]) -> str:
    """pystray's backend for this desktop. ``probe(what)`` answers "bus" (a session
    bus to talk to), "sni" (a StatusNotifier watcher on it), "xembed" (an XEmbed tray
    host), "appindicator" / "gtk" (the typelibs are there). Raises ValueError for an
    unknown backend named in the environment."""
    chosen = env.get(ENV_BACKEND) or env.get("PYSTRAY_BACKEND")
    if chosen:
        if chosen not in BACKENDS:
            raise ValueError(f"unknown tray backend {chosen!r}; one of {', '.join(BACKENDS)}")
        return chosen
    if system == "win32":
        return "win32"
    if system == "darwin":
        return "darwin"
    if not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        return "dummy"
    if not probe("bus"):
        # GTK's backends need a session bus (pystray's GTK notifier; StatusNotifier is
        # D-Bus itself); without one GLib would even start a bus of its own (autolaunch).
        return "xorg"
    has_appindicator = probe("appindicator")
    has_gtk = probe("gtk")
    if has_appindicator and probe("sni"):
        return "appindicator"
    if has_gtk and probe("xembed"):
        return "gtk"
    # No host runs yet: take the backend that docks when one appears.
    if has_appindicator:
        return "appindicator"
    if has_gtk:
        return "gtk"
    return "xorg"


def session_bus_present(env: Mapping[str, str]) -> bool:
    """The session bus's address is known, or its usual socket exists (systemd)."""
    if env.get("DBUS_SESSION_BUS_ADDRESS"):
        return True
    runtime_dir = env.get("XDG_RUNTIME_DIR")
    return bool(runtime_dir) and (Path(runtime_dir or ".") / "bus").exists()


def statusnotifier_host(bus: str = "SESSION") -> bool:
    """A StatusNotifier watcher (KDE, GNOME's AppIndicator extension) owns its name on
    the session bus (``bus``: "SESSION" or a D-Bus address)."""
    from jeepney.bus_messages import message_bus
    from jeepney.io.blocking import open_dbus_connection

    with open_dbus_connection(bus=bus) as conn:
        reply = conn.send_and_get_reply(message_bus.NameHasOwner(SNI_WATCHER), timeout=2)
    return bool(reply.body[0])


def tray_host_window(display_name: str | None = None) -> int:
    """The X window owning ``_NET_SYSTEM_TRAY_S<screen>`` (0: no XEmbed tray host;
    System Tray Protocol Specification, "Locating the system tray")."""
    from Xlib import X, display

    conn = display.Display(display_name)
    try:
        atom = conn.intern_atom(f"_NET_SYSTEM_TRAY_S{conn.get_default_screen()}")
        owner = conn.get_selection_owner(atom)
        return 0 if owner in (X.NONE, 0) else int(owner.id)
    finally:
        conn.close()
