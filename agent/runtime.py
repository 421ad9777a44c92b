"""The runtime: one asyncio task owns the core's state (architecture.md, "Processes").

It reads the inbox (live frames, link changes, results of its own requests,
operator commands), feeds the pure core, wakes at the core's next deadline, and
runs the effects the core returns. Other threads only put items into the inbox
(``submit`` is thread-safe), so the core needs no locks. It is the error barrier:
one bad item is logged once and the loop goes on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from agent.core.connection import LinkState
from agent.core.effects import (
    AnnounceOutcome,
    Effect,
    FetchActiveCalls,
    FetchHistory,
    FetchPurpose,
    SaveCheckpoint,
    ShowPopup,
    StateChanged,
    StoreCall,
    StoreHistory,
    SwitchDnd,
)
from agent.core.errors import ConfigError, InvalidInput, PbxError, PbxUnreachable
from agent.core.events import (
    CallAnswered,
    CallDialed,
    CallHungUp,
    CallInfo,
    HistoryRecord,
    LinkDown,
    LinkUp,
)
from agent.core.journal import JournalEntry, Source
from agent.core.lines import Line
from agent.core.phone import Phone
from agent.core.popups import CallContext, Popup
from agent.jobs.history_sync import fetch_window

log = logging.getLogger(__name__)


# ------------------------------------------------------------------ ports


class PbxRestPort(Protocol):
    async def make_call(self, ext: str, number: str) -> str: ...
    async def hangup(self, uuid: str) -> None: ...
    async def active_calls(self, own_ext: str) -> list[CallInfo]: ...
    def history_pages(
        self, kind: Any, *, time_from: datetime, time_to: datetime
    ) -> AsyncIterator[tuple[int, list[HistoryRecord]]]: ...


class JournalPort(Protocol):
    async def store(self, entry: JournalEntry) -> None: ...
    async def store_history(self, records: tuple[HistoryRecord, ...], source: Source) -> int: ...
    async def save_checkpoint(self, covered_until: datetime) -> None: ...


class PopupPort(Protocol):
    def show(self, popup: Popup) -> None: ...


class Participant(Protocol):
    """Another piece of core state the runtime owns and wakes (e.g. the dialer).

    ``wake`` runs on the runtime's task, so the participant needs no locks; it
    executes its own effects (awaiting what must keep order, spawning the rest).
    """

    def next_wakeup(self) -> datetime | None: ...
    async def wake(self, now: datetime) -> None: ...


FrameParser = Callable[[str], list[Any] | Any]
ContactLookup = Callable[[CallInfo], Awaitable[CallContext | None]]


# ------------------------------------------------------------------ inbox items


@dataclass(frozen=True, slots=True)
class _Frame:
    text: str
    received_ns: int


@dataclass(frozen=True, slots=True)
class _Link:
    up: bool
    reason: str
    retrying: bool = False  # down, but the live client keeps trying: "connecting"


@dataclass(frozen=True, slots=True)
class _Connecting:
    """The live link was started (Connect, U3): "connecting" until it reports."""


@dataclass(frozen=True, slots=True)
class _HistoryDone:
    purpose: FetchPurpose
    records: list[HistoryRecord] | None  # None: the fetch failed
    time_to: datetime


@dataclass(frozen=True, slots=True)
class _ActiveDone:
    calls: list[CallInfo]
    asked_seq: int


@dataclass(frozen=True, slots=True)
class _Call:
    """Run a function on the runtime's task (operator commands that touch state)."""

    fn: Callable[[], list[Effect]]


_Item = _Frame | _Link | _Connecting | _HistoryDone | _ActiveDone | _Call


@dataclass
class RuntimeStats:
    """For the health page (B15) and the bench: frame -> popup latency."""

    frames: int = 0
    bad_frames: int = 0
    popup_latency_ns: list[int] = field(default_factory=list)
    keep_latencies: bool = False
    connected_at: datetime | None = None
    last_error: str | None = None


class Runtime:
    def __init__(
        self,
        *,
        phone: Phone,
        rest: PbxRestPort,
        journal: JournalPort,
        popups: PopupPort,
        parse_frame: FrameParser,
        parse_dial: Callable[[str], str],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        lookup: ContactLookup | None = None,
        dnd_code: str = "",
    ) -> None:
        self.phone = phone
        self.rest = rest
        self.journal = journal
        self.popups = popups
        self._parse_frame = parse_frame
        self._parse_dial = parse_dial
        self.clock = clock
        self.lookup = lookup  # B13: what our data says about the number, once per call
        self.dnd_code = dnd_code
        self.stats = RuntimeStats()
        self.state_listeners: list[Callable[[], None]] = []
        self.outcome_listeners: list[Callable[[JournalEntry, bool], None]] = []
        self.popup_listeners: list[Callable[[Popup], None]] = []
        self.participants: list[Participant] = []
        # Parts of status() other areas own, by key (the dialer: "dialer").
        self.status_hooks: dict[str, Callable[[], Any]] = {}
        self.recent_numbers: list[str] = []
        self._inbox: asyncio.Queue[_Item] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._started = asyncio.Event()
        self.online = asyncio.Event()  # set while the live link is up
        # contracts.md §4 ``link`` while the phone's link is down: "connecting" while
        # the live client tries (or waits to try again), "offline" when it is stopped
        # or gave up; ``link_reason`` is why it is down (U3: the truth at every moment).
        self.link_down_state = LinkState.OFFLINE
        self.link_reason: str | None = None

    # ------------------------------------------------------------ feeding

    def frame_received(self, text: str) -> None:
        """The live client's callback (same loop): queue, never block."""
        self._inbox.put_nowait(_Frame(text, time.perf_counter_ns()))

    def link_changed(self, up: bool, reason: str = "", *, retrying: bool = False) -> None:
        """The live client's report (agent/phonet/live.py ``LinkChange``): up, or down
        and ``retrying`` (it tries again: "connecting") or not (stopped, gave up)."""
        self._inbox.put_nowait(_Link(up, reason, retrying))

    def link_connecting(self) -> None:
        """The live link was (re)started: "connecting" from now on, in order with the
        reports already queued (a Disconnect's "offline" is overtaken, not lost)."""
        self.link_down_state = LinkState.CONNECTING
        self._inbox.put_nowait(_Connecting())

    def submit(self, fn: Callable[[], list[Effect]]) -> None:
        """Thread-safe: run ``fn`` on the runtime's task and execute its effects."""
        if self._loop is None:
            raise RuntimeError("the runtime is not running")
        self._loop.call_soon_threadsafe(self._inbox.put_nowait, _Call(fn))

    # ------------------------------------------------------------ the loop

    async def run(self, initial: list[Effect] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        self._started.set()
        if initial:
            await self._execute(initial)
        while True:
            item = await self._next_item()
            now = self.clock()
            try:
                effects = await self._handle(item, now) if item is not None else []
                wake = self.phone.next_wakeup()
                if wake is not None and wake <= now:
                    effects += self.phone.wake(now)
                await self._execute(effects, item)
            except Exception as exc:  # the error barrier (architecture.md, rule 6)
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("runtime: an item failed and was skipped")
            await self._wake_participants(now)

    async def _wake_participants(self, now: datetime) -> None:
        for participant in list(self.participants):
            due = participant.next_wakeup()
            if due is None or due > now:
                continue
            try:
                await participant.wake(now)
            except Exception as exc:
                self.stats.last_error = f"{type(participant).__name__}: {exc}"
                log.exception("runtime: %s failed to wake", type(participant).__name__)

    def _next_deadline(self) -> datetime | None:
        times = [self.phone.next_wakeup(), *(p.next_wakeup() for p in self.participants)]
        return min((t for t in times if t is not None), default=None)

    def poke(self) -> None:
        """A participant's deadline changed from outside the runtime task: re-plan."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._inbox.put_nowait, _Call(list))

    async def _next_item(self) -> _Item | None:
        wake = self._next_deadline()
        if wake is None:
            return await self._inbox.get()
        delay = (wake - self.clock()).total_seconds()
        if delay <= 0:
            return self._inbox.get_nowait() if not self._inbox.empty() else None
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
        # that meets an arriving item (CPython gh-86296), and stop() would hang.
        try:
            async with asyncio.timeout(delay):
                return await self._inbox.get()
        except TimeoutError:
            return None

    async def _handle(self, item: _Item, now: datetime) -> list[Effect]:
        match item:
            case _Frame():
                return await self._on_frame(item)
            case _Link(up=True):
                self.stats.connected_at = now
                self.online.set()
                self.link_reason = None
                return self.phone.feed(LinkUp(now))
            case _Link(up=False):
                self.online.clear()
                told = self._link_down(
                    LinkState.CONNECTING if item.retrying else LinkState.OFFLINE,
                    item.reason or None,
                )
                return _with_state_change(self.phone.feed(LinkDown(now, item.reason)), told)
            case _Connecting():
                return self._link_down(LinkState.CONNECTING, self.link_reason)
            case _HistoryDone(records=None):
                return self.phone.history_failed(item.purpose, now)
            case _HistoryDone(records=list() as records):
                return self.phone.history_fetched(item.purpose, records, item.time_to, now)
            case _ActiveDone():
                return self.phone.active_calls(item.calls, now, item.asked_seq)
            case _Call():
                return item.fn()
        return []

    def _link_down(self, state: LinkState, reason: str | None) -> list[Effect]:
        """Note how the link is down; a change the status shows is a StateChanged."""
        before = (self.link_down_state, self.link_reason)
        self.link_down_state, self.link_reason = state, reason
        changed = (state, reason) != before and not self.phone.link_up
        return [StateChanged()] if changed else []

    async def _on_frame(self, frame: _Frame) -> list[Effect]:
        self.stats.frames += 1
        parsed = self._parse_frame(frame.text)
        if not isinstance(parsed, list):
            self.stats.bad_frames += 1
            log.warning("skipped a live frame: %s", parsed)
            return []
        effects: list[Effect] = []
        for event in parsed:
            if isinstance(event, CallDialed | CallAnswered | CallHungUp):
                await self._look_up(event.call)
            effects += self.phone.feed(event)
        return effects

    async def _look_up(self, call: CallInfo) -> None:
        """Once per call, before its first popup: inline, so events keep their order."""
        if self.lookup is None or self.phone.knows_context(call.uuid):
            return
        try:
            context = await self.lookup(call)
        except Exception:
            log.exception("contact lookup failed for a call; the popup goes without it")
            context = None
        self.phone.note_context(call.uuid, context or CallContext())

    # ------------------------------------------------------------ effects

    async def _execute(self, effects: list[Effect], item: _Item | None = None) -> None:
        # Popups first: the operator waits for them, the journal does not.
        for effect in effects:
            if isinstance(effect, ShowPopup):
                self._show(effect.popup, item)
        for effect in effects:
            match effect:
                case ShowPopup():
                    pass
                case StoreCall():
                    self._background(self.journal.store(effect.entry), "journal write")
                case StoreHistory():
                    self._background(
                        self.journal.store_history(effect.records, effect.source), "journal merge"
                    )
                case FetchHistory():
                    self._background(self._fetch_history(effect), "history fetch")
                case FetchActiveCalls():
                    self._background(self._fetch_active(effect.seq), "active calls")
                case SaveCheckpoint():
                    self._background(
                        self.journal.save_checkpoint(effect.covered_until), "checkpoint"
                    )
                case SwitchDnd():
                    self._background(self._dial_dnd_code(), "DND switch")
                case AnnounceOutcome():
                    for listener in list(self.outcome_listeners):
                        listener(effect.entry, effect.provisional)
                case StateChanged():
                    self._state_changed()

    def _show(self, popup: Popup, item: _Item | None) -> None:
        try:
            self.popups.show(popup)
        except Exception:
            log.exception("popup failed")
        if isinstance(item, _Frame):
            latency = time.perf_counter_ns() - item.received_ns
            if self.stats.keep_latencies:
                self.stats.popup_latency_ns.append(latency)
        for listener in list(self.popup_listeners):
            listener(popup)

    def _state_changed(self) -> None:
        for listener in list(self.state_listeners):
            try:
                listener()
            except Exception:
                log.exception("state listener failed")

    async def _fetch_history(self, effect: FetchHistory) -> None:
        # The same pager as the history import (J1): agent/jobs/history_sync.py.
        records: list[HistoryRecord] | None
        try:
            records = await fetch_window(self.rest, effect.time_from, effect.time_to)
        except PbxError as exc:
            log.info("history fetch (%s) failed: %s", effect.purpose, exc)
            records = None
        self._inbox.put_nowait(_HistoryDone(effect.purpose, records, effect.time_to))

    async def _fetch_active(self, asked_seq: int) -> None:
        try:
            calls = await self.rest.active_calls(self.phone.config.own_ext)
        except PbxError as exc:
            log.info("active calls fetch failed: %s", exc)
            return
        self._inbox.put_nowait(_ActiveDone(calls, asked_seq))

    def _background(self, coro: Coroutine[Any, Any, Any], what: str) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._task_done(t, what))

    def _task_done(self, task: asyncio.Task[Any], what: str) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            self.stats.last_error = f"{what}: {type(exc).__name__}"
            log.error("%s failed: %s", what, exc, exc_info=exc)

    async def drain(self) -> None:
        """Wait for the background work started so far (clean exit, tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # ------------------------------------------------------------ commands

    async def dial(self, text: str) -> str:
        """Dial a number in any format or a tel: URL; returns the call's uuid (C1, B1)."""
        number = self._parse_dial(text)  # raises InvalidInput
        if not self.phone.link_up:
            raise PbxUnreachable("not connected to the PBX")
        uuid = await self.rest.make_call(self.phone.config.own_ext, number)
        self._remember(number)
        return uuid

    async def hangup(self, uuid: str | None = None) -> str:
        """Hang up the given line, else the talking one, else the only one (M2)."""
        target = uuid or self._default_line()
        if target is None:
            raise InvalidInput("there is no call to hang up", message_key="error.no_line")
        await self.rest.hangup(target)
        return target

    async def set_dnd(self, on: bool, until: datetime | None = None) -> None:
        """DND on (until a time) or off: dials the U4 combination when needed (B12)."""
        if on and not self.dnd_code:
            raise ConfigError(
                "no DND combination is set (operator setting dnd_code, U4)",
                message_key="error.no_dnd_code",
            )
        await self._execute(self.phone.request_dnd(on, until))

    async def _dial_dnd_code(self) -> None:
        if not self.dnd_code:
            log.warning("DND timer ended but no DND combination is set (U4)")
            return
        await self.rest.make_call(self.phone.config.own_ext, self.dnd_code)

    def _default_line(self) -> str | None:
        talking = self.phone.lines.talking
        if talking is not None:
            return talking.call.uuid
        lines = self.phone.line_list
        return lines[-1].call.uuid if lines else None

    def _remember(self, number: str) -> None:
        if number in self.recent_numbers:
            self.recent_numbers.remove(number)
        self.recent_numbers.insert(0, number)
        del self.recent_numbers[10:]

    # ------------------------------------------------------------ views

    def link_state(self) -> tuple[LinkState, str | None]:
        """contracts.md §4 ``link`` and why it is down (None while online)."""
        if self.phone.link_up:
            return LinkState.ONLINE, None
        return self.link_down_state, self.link_reason

    def status(self) -> dict[str, Any]:
        phone = self.phone
        link, reason = self.link_state()
        status = {
            "connected": phone.link_up,
            "link": str(link),
            "link_reason": reason,
            "extension": phone.config.own_ext,
            "dnd": {"on": phone.dnd, "until": iso(phone.dnd_until)},
            "lines": [line_json(line) for line in phone.line_list],
            "dialer": {"state": "idle", "paused_until": None, "list_id": None},
        }
        for key, hook in self.status_hooks.items():
            status[key] = hook()
        return status


def _with_state_change(effects: list[Effect], told: list[Effect]) -> list[Effect]:
    """``effects`` plus ``told``'s StateChanged unless one is there already."""
    if told and not any(isinstance(e, StateChanged) for e in effects):
        return [*effects, *told]
    return effects


def line_json(line: Line) -> dict[str, Any]:
    return {
        "uuid": line.call.uuid,
        "direction": str(line.call.direction),
        "number": line.call.number,
        "contact": line.contact or line.call.name,
        "state": str(line.state),
        "talking": line.talking,
        "started_at": iso(line.started_at),
        "answered_at": iso(line.answered_at),
    }


def iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


AsyncFn = Callable[[], Awaitable[None]]
