"""The tray menu: first a pure model of the state, then the pystray adapter (issue 3).

:func:`build_menu` turns a :class:`~agent.desktop.view.TrayView` into menu entries
whose actions are :data:`Command` values (requests, imperative, frozen); the tray
runs a command by handing it to the agent's loop. :func:`to_pystray` is the only
place that knows pystray's menu classes. The menu follows the state live: the tray
rebuilds it whenever the view changes (``update_menu``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from agent.desktop.view import DIALER_RUNNING, TrayView, state_text, texts
from agent.i18n import Translator

# ------------------------------------------------------------------ commands


@dataclass(frozen=True, slots=True)
class OpenWindow:
    view: str | None = None  # None: the window's home; "settings"; "call"…


@dataclass(frozen=True, slots=True)
class DialClipboard:
    pass


@dataclass(frozen=True, slots=True)
class Dial:
    number: str


@dataclass(frozen=True, slots=True)
class SetDnd:
    """DND on or off (U4, B12); ``minutes`` or ``until_tomorrow`` set its timer."""

    on: bool
    minutes: int | None = None
    until_tomorrow: bool = False


@dataclass(frozen=True, slots=True)
class Dialer:
    """Auto-dial (M6, A1–A3): ``start`` | ``pause`` | ``resume`` | ``stop``."""

    action: str
    minutes: int | None = None


@dataclass(frozen=True, slots=True)
class RunJob:
    """Run a job now (issue 6; J1 history import, J2 robot import)."""

    job: str


@dataclass(frozen=True, slots=True)
class Connect:
    pass


@dataclass(frozen=True, slots=True)
class Disconnect:
    pass


@dataclass(frozen=True, slots=True)
class Quit:
    pass


Command = OpenWindow | DialClipboard | Dial | SetDnd | Dialer | RunJob | Connect | Disconnect | Quit

PAUSE_MINUTES = (5, 10, 15, 30, 60)  # issue 3 (A2: "N minutes picked from a list")


# ------------------------------------------------------------------ entries


@dataclass(frozen=True, slots=True)
class Entry:
    text: str
    command: Command | None = None
    enabled: bool = True
    checked: bool | None = None
    default: bool = False  # the left-click action
    submenu: tuple[Entry, ...] | None = None


SEPARATOR = Entry("-")


def build_menu(view: TrayView, tz: tzinfo) -> tuple[Entry, ...]:
    """The whole menu for this state, top to bottom, in the view's language (B7)."""
    t = texts(view)
    redial = view.recent[0] if view.recent else None
    entries: list[Entry] = [
        Entry(state_text(view, tz), enabled=False),
        SEPARATOR,
        Entry(t("tray.open_window"), OpenWindow(), default=True),
        Entry(t("tray.dial_clipboard"), DialClipboard(), enabled=view.online),
        Entry(
            t("tray.recent"),
            enabled=bool(view.recent),
            submenu=tuple(Entry(n, Dial(n), enabled=view.online) for n in view.recent) or None,
        ),
        Entry(
            t("tray.redial_number", number=redial) if redial else t("tray.redial"),
            Dial(redial) if redial else None,
            enabled=view.online and redial is not None,
        ),
        SEPARATOR,
        Entry(t("tray.dnd"), enabled=view.online, submenu=_dnd_menu(view, t)),
    ]
    if view.dialer is not None:
        entries.append(Entry(t("tray.dialer"), enabled=view.online, submenu=_dialer_menu(view, t)))
    if view.jobs:
        entries.append(Entry(t("tray.jobs"), submenu=_jobs_menu(view, t)))
    entries += [
        SEPARATOR,
        Entry(t("tray.settings"), OpenWindow("settings")),
        Entry(t("tray.disconnect"), Disconnect())
        if view.connect_wanted
        else Entry(t("tray.connect"), Connect()),
        Entry(t("tray.quit"), Quit()),
    ]
    return tuple(entries)


def _dnd_menu(view: TrayView, t: Translator) -> tuple[Entry, ...]:
    can = view.dnd_available
    return (
        Entry(t("tray.dnd_on"), SetDnd(True), enabled=can and not view.dnd, checked=view.dnd),
        Entry(t("tray.dnd_off"), SetDnd(False), enabled=view.dnd, checked=not view.dnd),
        Entry(t("tray.dnd_30m"), SetDnd(True, minutes=30), enabled=can),
        Entry(t("tray.dnd_1h"), SetDnd(True, minutes=60), enabled=can),
        Entry(t("tray.dnd_tomorrow"), SetDnd(True, until_tomorrow=True), enabled=can),
    )


def _dialer_menu(view: TrayView, t: Translator) -> tuple[Entry, ...]:
    assert view.dialer is not None
    state = view.dialer.state
    running = state in DIALER_RUNNING or state == "outside_hours"
    paused = state == "paused"
    return (
        Entry(t("tray.dialer_start"), Dialer("start"), enabled=state == "idle"),
        Entry(
            t("tray.dialer_pause"),
            enabled=running,
            submenu=tuple(
                Entry(t("dialer.minutes", n=m), Dialer("pause", minutes=m), enabled=running)
                for m in PAUSE_MINUTES
            ),
        ),
        Entry(t("tray.dialer_resume"), Dialer("resume"), enabled=paused),
        Entry(t("tray.dialer_stop"), Dialer("stop"), enabled=running or paused),
    )


def _jobs_menu(view: TrayView, t: Translator) -> tuple[Entry, ...]:
    """Run now: the PBX history import (J1), the robot import (J2) where it is set up.
    Neither needs the live link (REST and MS SQL); a job running here is greyed out."""
    return tuple(
        Entry(t(f"tray.job.{job.name}"), RunJob(job.name), enabled=not job.running)
        for job in view.jobs
    )


def find(entries: tuple[Entry, ...], *path: str) -> Entry:
    """The entry at a path of texts (tests, and the tray's default action)."""
    current: tuple[Entry, ...] | None = entries
    found: Entry | None = None
    for text in path:
        found = next((e for e in current or () if e.text == text), None)
        if found is None:
            raise KeyError(" > ".join(path))
        current = found.submenu
    assert found is not None
    return found


def default_command(entries: tuple[Entry, ...]) -> Command | None:
    return next((e.command for e in entries if e.default), None)


# ------------------------------------------------------------------ pystray


def to_pystray(entries: tuple[Entry, ...], pystray: Any, run: Callable[[Command], None]) -> Any:
    """A ``pystray.Menu`` for the entries; activating one calls ``run(command)``.

    Called on the tray thread; ``run`` only hands the command over (never blocks).
    """
    return pystray.Menu(*(_item(entry, pystray, run) for entry in entries))


def _item(entry: Entry, pystray: Any, run: Callable[[Command], None]) -> Any:
    if entry is SEPARATOR or entry.text == "-":
        return pystray.Menu.SEPARATOR
    command = entry.command
    kwargs: dict[str, Any] = {"enabled": entry.enabled, "default": entry.default}
    if entry.checked is not None:
        checked = entry.checked
        kwargs["checked"] = lambda _item: checked
        kwargs["radio"] = True
    if entry.submenu:
        return pystray.MenuItem(entry.text, to_pystray(entry.submenu, pystray, run), **kwargs)

    def activate(_icon: Any, _item: Any) -> None:
        if command is not None:
            run(command)

    return pystray.MenuItem(entry.text, activate, **kwargs)
