"""What the tray shows, as a pure value computed from the agent's state (B16, U3, B12).

The tray adapter only draws a :class:`TrayView`: which icon, which badge, which
tooltip, which menu. Deciding those is here, with ``now`` as an argument, so the
tests read like the feature list and no GUI is needed to check them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import Any

from agent.core.events import Direction
from agent.core.journal import JournalEntry
from agent.i18n import Translator

# Windows keeps 127 characters of a tray tooltip (NOTIFYICONDATAW.szTip is 128 wide
# characters with the terminating NUL); other hosts show more, but one text fits all.
TOOLTIP_MAX = 127
RECENT_MAX = 10  # issue 3: "Recent numbers (last 10, click to redial)"
DIALER_RUNNING = frozenset({"calling", "in_call", "waiting_event", "between_calls"})


class IconState(StrEnum):
    OFFLINE = "offline"
    CONNECTING = "connecting"
    ONLINE = "online"
    DND = "dnd"
    ON_CALL = "on_call"
    DIALER_RUNNING = "dialer_running"
    DIALER_PAUSED = "dialer_paused"


@dataclass(frozen=True, slots=True)
class DayFigures:
    """Today's figures for the tooltip (B16) and the missed-calls badge."""

    calls: int = 0
    talk_s: int = 0
    completed: int = 0  # talk longer than G4
    missed: int = 0  # incoming, never answered


@dataclass(frozen=True, slots=True)
class LineView:
    number: str
    contact: str | None
    direction: str
    talking: bool


@dataclass(frozen=True, slots=True)
class DialerView:
    """The auto-dialer as the tray needs it (contracts.md §4 ``status.dialer``)."""

    state: str  # idle | calling | in_call | waiting_event | between_calls | paused | outside_hours
    paused_until: datetime | None = None
    progress: tuple[int, int] | None = None  # (done, total) of the active list (B16)


@dataclass(frozen=True, slots=True)
class JobView:
    """A job the tray can run now (issue 6: "Run now" from the tray; J1, J2)."""

    name: str  # history | robot (agent/jobs/service.py JOBS)
    running: bool = False  # a run of this agent is in progress


@dataclass(frozen=True, slots=True)
class TrayView:
    extension: str
    link: str = "offline"  # offline | connecting | online
    connect_wanted: bool = True  # the live link is meant to run (Connect vs Disconnect)
    dnd: bool = False
    dnd_until: datetime | None = None
    dnd_available: bool = False  # a DND combination (U4) is set
    lines: tuple[LineView, ...] = ()
    dialer: DialerView | None = None  # None: this build has no dialer
    jobs: tuple[JobView, ...] = ()  # the jobs' "Run now" entries; () without the jobs area
    figures: DayFigures = DayFigures()
    recent: tuple[str, ...] = ()
    problem: str | None = None  # e.g. "API key refused": shown on the state line
    language: str = "en"  # B7: the menu's, tooltip's and popups' language (en, uk, ru)

    @property
    def online(self) -> bool:
        return self.link == "online"


def icon_state(view: TrayView) -> IconState:
    """One icon per state; the most urgent fact wins (offline hides everything else)."""
    if view.link == "connecting":
        return IconState.CONNECTING
    if not view.online:
        return IconState.OFFLINE
    if view.lines:
        return IconState.ON_CALL
    if view.dnd:
        return IconState.DND
    if view.dialer is not None and view.dialer.state == "paused":
        return IconState.DIALER_PAUSED
    if view.dialer is not None and view.dialer.state in DIALER_RUNNING:
        return IconState.DIALER_RUNNING
    return IconState.ONLINE


def badge_text(missed: int) -> str | None:
    if missed <= 0:
        return None
    return str(missed) if missed < 10 else "9+"


def clock(seconds: int) -> str:
    """Talk time as H:MM:SS (or M:SS under an hour)."""
    hours, rest = divmod(max(seconds, 0), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def texts(view: TrayView) -> Translator:
    """The tray's words in the view's language (B7: ``operator.language``, else the OS's)."""
    return Translator(view.language)


def state_text(view: TrayView, tz: tzinfo) -> str:
    """The first menu line and the tooltip's head: extension and what is true now."""
    t = texts(view)
    parts = [t("tray.state.ext", ext=view.extension)]
    if view.link == "connecting":
        parts.append(t("tray.state.connecting"))
    elif not view.online:
        parts.append(_why_down(view, t))
    else:
        parts.append(t("tray.state.online"))
        if view.lines:
            line = view.lines[0]
            who = line.contact or line.number
            parts.append(t("tray.state.talking" if line.talking else "tray.state.calling", who=who))
        if view.dnd:
            until = view.dnd_until.astimezone(tz).strftime("%H:%M") if view.dnd_until else None
            parts.append(t("tray.state.dnd_until", time=until) if until else t("tray.state.dnd"))
        if view.dialer is not None and view.dialer.state == "paused":
            paused = view.dialer.paused_until
            parts.append(
                t("tray.state.dialer_paused_until", time=f"{paused.astimezone(tz):%H:%M}")
                if paused
                else t("tray.state.dialer_paused")
            )
        elif view.dialer is not None and view.dialer.state in DIALER_RUNNING:
            parts.append(t("tray.state.dialer_on"))
    return " · ".join(parts)


# The reasons the agent gives for a link that is down (agent/phonet/live.py KEY_REFUSED,
# agent/app.py's Disconnect) in the operator's words; others are technical and shown
# as they are, after "offline".
_KNOWN_REASONS = {
    "API key refused": "tray.state.key_refused",
    "disconnected by the operator": "tray.state.disconnected",
}


def _why_down(view: TrayView, t: Translator) -> str:
    if view.problem is None:
        return t("tray.state.offline" if view.connect_wanted else "tray.state.disconnected")
    known = _KNOWN_REASONS.get(view.problem)
    return t(known) if known else f"{t('tray.state.offline')} ({view.problem})"


def tooltip(view: TrayView, tz: tzinfo) -> str:
    """State and today's figures (B16), cut to what every tray host shows."""
    t = texts(view)
    f = view.figures
    figures = [t("tray.today", calls=f.calls, talk=clock(f.talk_s), completed=f.completed)]
    if f.missed:
        figures.append(t("tray.missed", n=f.missed))
    progress = view.dialer.progress if view.dialer is not None else None
    if progress is not None and progress[1] > 0:
        done, total = progress
        figures.append(t("tray.dialer_progress", done=done, total=total))
    state = state_text(view, tz)
    text = "\n".join(["Phonet Agent", state, *figures])
    if len(text) <= TOOLTIP_MAX:
        return text
    # Too long (Ukrainian and Russian run longer): the figures stay whole; the name goes
    # first, then the state line's tail (the icon shows the state as well).
    rest = "\n".join(figures)
    room = TOOLTIP_MAX - len(rest) - 1
    cut = False
    while len(state) + (4 if cut else 0) > room and " · " in state:
        state, cut = state.rsplit(" · ", 1)[0], True  # whole parts go, the last first
    if cut:
        state += " · …"
    text = f"{state}\n{rest}"
    return text if len(text) <= TOOLTIP_MAX else text[: TOOLTIP_MAX - 1] + "…"


# ------------------------------------------------------------------ from the agent


def day_start(now: datetime, tz: tzinfo) -> datetime:
    """Midnight of ``now``'s day in the team's time zone (features.md, Defaults)."""
    local = now.astimezone(tz)
    return datetime.combine(local.date(), time(0), tzinfo=tz)


def tomorrow_at(now: datetime, tz: tzinfo, hour: int = 9) -> datetime:
    """B12 "until tomorrow 09:00", in the team's time zone."""
    local = now.astimezone(tz)
    return datetime.combine(local.date() + timedelta(days=1), time(hour), tzinfo=tz)


def day_figures(
    entries: Iterable[JournalEntry], *, since: datetime, completed_talk_s: int
) -> DayFigures:
    """Today's calls of the journal (finished ones; ``since`` is :func:`day_start`)."""
    calls = talk = completed = missed = 0
    for entry in entries:
        if entry.end_at is None or entry.end_at < since:
            continue
        calls += 1
        talk += entry.talk_s
        if entry.talk_s > completed_talk_s:  # G4: "more than", manual §1.1
            completed += 1
        if entry.direction is Direction.IN and entry.answer_at is None and entry.talk_s == 0:
            missed += 1
    return DayFigures(calls=calls, talk_s=talk, completed=completed, missed=missed)


def recent_numbers(dialled: Iterable[str], journal: Iterable[JournalEntry]) -> tuple[str, ...]:
    """Numbers dialled in this run first, then the journal's, newest first, no repeats."""
    seen: list[str] = []
    for number in [*dialled, *(e.number for e in journal if e.direction is not Direction.IN)]:
        if number and number not in seen:
            seen.append(number)
        if len(seen) == RECENT_MAX:
            break
    return tuple(seen)


def dialer_view(status: Mapping[str, Any] | None, present: bool) -> DialerView | None:
    """``status.dialer`` (contracts.md §4) as the tray's value; None without a dialer."""
    if not present:
        return None
    status = status or {}
    until = status.get("paused_until")
    return DialerView(
        state=str(status.get("state") or "idle"),
        paused_until=datetime.fromisoformat(until) if isinstance(until, str) else None,
        progress=_progress(status.get("progress")),
    )


def _progress(value: Any) -> tuple[int, int] | None:
    """``status.dialer.progress`` ``{"done", "total"}`` (agent/dialer/progress.py)."""
    if isinstance(value, Mapping):
        done, total = value.get("done"), value.get("total")
        if isinstance(done, int) and isinstance(total, int):
            return done, total
    return None


def lines_view(lines: Iterable[Mapping[str, Any]]) -> tuple[LineView, ...]:
    """``status.lines`` (contracts.md §4), the talking line first."""
    views = [
        LineView(
            number=str(line.get("number") or ""),
            contact=line.get("contact") or None,
            direction=str(line.get("direction") or ""),
            talking=bool(line.get("talking")),
        )
        for line in lines
    ]
    return tuple(sorted(views, key=lambda v: not v.talking))
