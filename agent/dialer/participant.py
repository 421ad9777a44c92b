"""The dialer in the runtime: owns the pure core and runs its effects (A1–A6, B2, B3).

A runtime participant (agent/runtime.py): ``wake`` runs on the runtime's task, so the
core needs no locks. Everything else only queues inputs: the API's commands (which
await their turn), the runtime's state and outcome listeners (the operator's line,
B2 outcomes), the event gate (A5), and what its own background work came back with.

Crash safety (issue 5, item 8): the attempt is written (and the entry marked
calling) before makeCall is sent; the run state is persisted. At start, attempts
left without an outcome are resolved from the PBX (active calls, then history)
before anything else is dialled: a call that went out gets its outcome, one that
never did is undone, so nobody is dialled twice inside their postpone window and
the attempts in the database equal the calls made.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import deque
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Protocol

from agent.core.calling_hours import CallingWindow, is_open, next_opening
from agent.core.dial_list import DialEntry
from agent.core.dialer import (
    Dialer,
    DialerConfig,
)
from agent.core.dialer_io import (
    Announce,
    AttemptAlive,
    AttemptRecovered,
    AttemptResolved,
    AttemptUnknown,
    AttemptVanished,
    CallPlaced,
    CheckEvent,
    DialerEffect,
    DialerInput,
    EntryPicked,
    EventChecked,
    EventClosed,
    HangUp,
    LineGone,
    LineUp,
    ListFinished,
    NothingDue,
    OutcomeLearned,
    PickEntry,
    PlaceCall,
    PlaceFailed,
    PlaceRefused,
    RecordOutcome,
    ResolveAttempt,
    RunState,
    SaveRun,
    UndoAttempt,
)
from agent.core.errors import InvalidInput, PbxError, PbxProtocolError, StorageError
from agent.core.events import Direction, HistoryRecord
from agent.core.journal import JournalEntry
from agent.core.outcomes import Outcome, outcome_of
from agent.core.retry_rules import RetryRules
from agent.core.settings import OperatorSettings, TeamSettings
from agent.dialer.ports import EventGate
from agent.dialer.progress import measured
from agent.dialer.zones import tz
from agent.storage.dialer_repository import DialerRepository, OpenAttempt

if TYPE_CHECKING:
    from agent.runtime import Runtime
    from agent.storage.database import Storage

log = logging.getLogger(__name__)

_NOW: Final = datetime.min.replace(tzinfo=UTC)  # "wake me at once"
RETRY_OFFLINE: Final = timedelta(seconds=5)
RETRY_BUSY: Final = timedelta(seconds=2)
RESOLVE_RETRY: Final = timedelta(seconds=5)
RESOLVE_TRIES: Final = 4  # then: a known uuid takes a provisional outcome, none is undone
MATCH_SLACK: Final = timedelta(seconds=10)  # clocks of the PBX and ours
ONLINE_WAIT_S: Final = 30.0
COMMAND_TIMEOUT_S: Final = 15.0
_MAX_STEPS: Final = 200  # inputs handled per wake, so one wake never starves the runtime


class SettingsSource(Protocol):
    @property
    def team(self) -> TeamSettings: ...
    @property
    def operator(self) -> OperatorSettings: ...


def config_of(settings: SettingsSource) -> DialerConfig:
    op, team = settings.operator, settings.team
    return DialerConfig(
        rules=RetryRules.from_settings(op.retry, op.on_complete, op.on_exhausted),
        pause=timedelta(seconds=op.dial_pause_s),
        smart=op.smart_mode,
        event_gating=op.create_event_on_answer,
        ring_timeout=timedelta(seconds=op.busy_timeout_s) if op.busy_timeout_s > 0 else None,
        outcome_wait=timedelta(seconds=team.outcome_wait_s),
    )


def run_key(ext: str) -> str:
    return f"dialer.run/{ext}"


def _digits(number: str) -> str:
    return "".join(ch for ch in number if ch.isdigit())


Item = tuple[DialerInput, "asyncio.Future[dict[str, Any]] | None"]


class DialerParticipant:
    def __init__(
        self,
        *,
        runtime: Runtime,
        storage: Storage,
        repo: DialerRepository,
        settings: SettingsSource,
        own_ext: str,
        events: EventGate,
        publish: Callable[[dict[str, Any]], None],
    ) -> None:
        self.runtime = runtime
        self.storage = storage
        self.repo = repo
        self.settings = settings
        self.own_ext = own_ext
        self.events = events
        self.publish = publish
        self.core = Dialer(config_of(settings))
        self._settings_seen = (settings.team, settings.operator)
        self._inbox: deque[Item] = deque()
        self._recovering: deque[AttemptRecovered] = deque()
        self._resolve_tries: dict[int, int] = {}
        self._line: tuple[str, bool] | None = None  # (uuid, talking) last told to the core
        self._tasks: set[asyncio.Task[Any]] = set()
        self._shown: dict[str, Any] | None = None
        # Told how an attempt's end moved its list's entries: the list id and (entries,
        # still to call), None if not measured — the list's progress follows (B16:
        # agent/dialer/progress.py).
        self.entries_moved: Callable[[int, tuple[int, int] | None], None] = lambda *_: None
        events.add_close_listener(self._on_event_closed)

    # ------------------------------------------------------------ start

    async def restore(self) -> None:
        """Resume the persisted run (a pause too, A2), the event gate of the last call
        (A5), and queue the attempts a crash left open (item 8)."""
        now = self.runtime.clock()

        def load() -> tuple[Any, list[tuple[OpenAttempt, DialEntry | None]], str | None]:
            raw = self.storage.kv.get(run_key(self.own_ext))
            found = self.repo.open_attempts(self.own_ext)
            return (
                raw,
                [
                    (a, self.repo.get_entry(a.entry_id) if a.entry_id is not None else None)
                    for a in found
                ],
                self.repo.last_call(self.own_ext),
            )

        raw, open_attempts, last_call = await self.storage.run(load)
        run = _run_state(raw)
        # A5: the last call's event still open holds the next call, restart or not. (An
        # attempt still open gets its gate when its outcome is found: Dialer._ended.)
        gate = None
        if last_call is not None and self.core.config.event_gating:
            gate = last_call if await self.events.is_open(last_call) else None
        follow = await self._run(self.core.restore(run, now, gate), now)
        self._inbox.extend((e, None) for e in follow)
        for attempt, entry in open_attempts:
            if entry is None:  # the entry was deleted: the attempt is still counted right
                entry = DialEntry(0, attempt.list_id, 0, attempt.number, attempt.started_at)
            self._recovering.append(
                AttemptRecovered(attempt.id, entry, attempt.uuid, attempt.started_at)
            )
        self._next_recovery()
        if run is not None and run.running:
            log.info("dialer: resuming list %s after a restart", run.list_id)

    def _next_recovery(self) -> None:
        if self.core.call is None and self._recovering:
            self._inbox.append((self._recovering.popleft(), None))

    # ------------------------------------------------------------ the runtime's side

    def next_wakeup(self) -> datetime | None:
        return _NOW if self._inbox else self.core.next_wakeup()

    async def wake(self, now: datetime) -> None:
        self._follow_settings()
        for _ in range(_MAX_STEPS):
            if self._inbox:
                event, waiter = self._inbox.popleft()
                try:
                    effects = self.core.feed(event, now)
                except Exception as exc:
                    if waiter is not None and not waiter.done():
                        waiter.set_exception(exc)
                    raise
                follow = await self._run(effects, now)
                self._inbox.extendleft(reversed([(e, None) for e in follow]))
                if waiter is not None and not waiter.done():
                    waiter.set_result(self.core.view())
            else:
                due = self.core.next_wakeup()
                if due is None or due > now:
                    break
                follow = await self._run(self.core.wake(now), now)
                self._inbox.extendleft(reversed([(e, None) for e in follow]))
            self._next_recovery()
            self.on_state()  # the call may have got its uuid: follow its line from now on
        self._announce()

    def _announce(self) -> None:
        view = self.core.view()
        if view != self._shown:
            self._shown = view
            self.publish(view)

    def post(self, event: DialerInput) -> None:
        """Queue an input (from the agent's loop thread); the runtime wakes us."""
        self._inbox.append((event, None))
        self.runtime.poke()

    async def command(self, event: DialerInput) -> dict[str, Any]:
        """An operator command; the dialer's view once it is handled."""
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._inbox.append((event, waiter))
        self.runtime.poke()
        async with asyncio.timeout(COMMAND_TIMEOUT_S):  # not wait_for: see agent/journal.py
            return await waiter

    def reconfigure(self) -> None:
        self.core.config = config_of(self.settings)
        self._settings_seen = (self.settings.team, self.settings.operator)

    def _follow_settings(self) -> None:
        """The settings API replaces the agent's settings objects on a save: the dialer
        reads them when used (the next pause, the next outcome, the next pick)."""
        team, operator = self._settings_seen
        if team is not self.settings.team or operator is not self.settings.operator:
            self.reconfigure()

    # ------------------------------------------------------------ listeners

    def on_state(self) -> None:
        """``runtime.state_listeners``: follow the dialer's call on the operator's line."""
        call = self.core.call
        uuid = call.uuid if call is not None else None
        if uuid is None:
            return
        line = self.runtime.phone.lines.get(uuid)
        if line is not None:
            seen = (uuid, line.answered_at is not None)
            if seen != self._line:
                self._line = seen
                self.post(LineUp(uuid, seen[1]))
        elif self._line is not None and self._line[0] == uuid:
            self._line = None
            self.post(LineGone(uuid))

    def on_outcome(self, entry: JournalEntry, provisional: bool) -> None:
        """``runtime.outcome_listeners`` (B2): a finished call's outcome."""
        if entry.direction is not Direction.OUT:
            return
        outcome = entry.outcome or Outcome.FAILED
        self.post(OutcomeLearned(entry.uuid, outcome, entry.talk_s, provisional))

    def _on_event_closed(self, call_uuid: str, saved: bool) -> None:
        if self.core.gate == call_uuid:
            self.post(EventClosed(call_uuid))

    # ------------------------------------------------------------ effects

    async def _run(self, effects: list[DialerEffect], now: datetime) -> list[DialerInput]:
        follow: list[DialerInput] = []
        for effect in effects:
            try:
                follow += await self._run_one(effect, now)
            except StorageError as exc:
                follow += self._after_storage_error(effect, now, exc)
        return follow

    async def _run_one(self, effect: DialerEffect, now: datetime) -> list[DialerInput]:
        match effect:
            case PickEntry():
                return [await self._pick(effect, now)]
            case PlaceCall():
                self._line = None
                self._spawn(self._place(effect.entry), "makeCall")
            case HangUp():
                self._spawn(self.runtime.hangup(effect.uuid), "hang-up")
            case RecordOutcome():
                await self._record(effect)
            case UndoAttempt():
                await self.storage.run(self.repo.undo_attempt, effect.attempt_id)
                self._resolve_tries.pop(effect.attempt_id, None)
            case ResolveAttempt():
                self._spawn(self._resolve(effect), "attempt lookup")
            case CheckEvent():
                self._spawn(self._check_event(effect.uuid), "event check")
            case SaveRun():
                await self._save_run(effect.run)
            case Announce():
                pass
        return []

    def _after_storage_error(
        self, effect: DialerEffect, now: datetime, exc: StorageError
    ) -> list[DialerInput]:
        """The database failed: wait and pick again; an attempt whose end could not be
        written is looked up again, as after a restart (its row is still open)."""
        log.error("dialer: %s failed: %s", type(effect).__name__, exc)
        match effect:
            case PickEntry():
                return [NothingDue(now + RETRY_OFFLINE, outside_hours=False)]
            case RecordOutcome():
                self._recovering.append(
                    AttemptRecovered(effect.attempt_id, effect.entry, effect.uuid, effect.tried_at)
                )
            case UndoAttempt():
                self._recovering.append(
                    AttemptRecovered(effect.attempt_id, effect.entry, None, effect.started_at)
                )
            case _:
                pass
        return []

    def _spawn(self, coro: Coroutine[Any, Any, Any], what: str) -> None:
        task = asyncio.ensure_future(coro)
        task.set_name(what)
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._done(t, what))

    def _done(self, task: asyncio.Task[Any], what: str) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("dialer: %s failed: %s", what, task.exception(), exc_info=task.exception())

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """At exit: lookups and waits are dropped (they run again at the next start);
        a makeCall under way finishes, so its uuid is written (item 8)."""
        for task in list(self._tasks):
            if task.get_name() != "makeCall":
                task.cancel()
        await self.drain()

    async def _save_run(self, run: RunState) -> None:
        value = {
            "running": run.running,
            "list_id": run.list_id,
            "paused": run.paused,
            "paused_until": run.paused_until.isoformat() if run.paused_until else None,
        }
        await self.storage.run(self.storage.kv.set, run_key(self.own_ext), value)

    # ------------------------------------------------------------ picking (A4, B3)

    async def _pick(self, effect: PickEntry, now: datetime) -> DialerInput:
        return await self.choose(effect.list_id, effect.smart, now)

    async def peek(self, list_id: int) -> DialEntry | None:
        """The entry the dialer would call now, without calling it (skip, M6)."""
        found = await self.choose(list_id, self.core.config.smart, self.runtime.clock())
        return found.entry if isinstance(found, EntryPicked) else None

    async def choose(self, list_id: int, smart: bool, now: datetime) -> DialerInput:
        team = self.settings.team
        window = CallingWindow.from_setting(team.calling_window)
        return await self.storage.run(
            choose_next, self.repo, list_id, smart=smart, now=now, window=window,
            team_zone=team.time_zone,
        )  # fmt: skip

    # ------------------------------------------------------------ placing (item 8)

    async def _place(self, entry: DialEntry) -> None:
        clock = self.runtime.clock
        if not self.runtime.phone.link_up:
            self.post(PlaceFailed(None, clock(), RETRY_OFFLINE, "not connected to the PBX"))
            return
        if self.runtime.phone.line_list:
            # One call at a time: the operator is on another line (a manual call).
            self.post(PlaceFailed(None, clock(), RETRY_BUSY, "the operator is on a call"))
            return
        started_at = clock()
        try:
            begun = await self.storage.run(
                self.repo.begin_attempt, entry.id, self.own_ext, started_at
            )
        except StorageError as exc:
            self.post(PlaceFailed(None, started_at, RETRY_OFFLINE, str(exc)))
            return
        if begun is None:  # deleted, skipped or dialled elsewhere since the pick
            self.post(PlaceFailed(None, started_at, timedelta(0), "the entry changed"))
            return
        attempt_id, _ = begun
        try:
            uuid = await self.runtime.dial(entry.number)
        except InvalidInput as exc:
            # Refused before any request (not a number to dial): no call, skip the entry.
            log.warning("dialer: entry %s skipped: %s", entry.id, exc)
            await self.storage.run(self.repo.skip_entry, entry.id)
            await self.storage.run(self.repo.undo_attempt, attempt_id)
            self.post(PlaceFailed(None, started_at, timedelta(0), str(exc)))
            return
        except PbxProtocolError as exc:
            if refusal_status(exc) is None:
                # An answer we cannot read (no uuid, not JSON): the call may be up.
                self.post(PlaceFailed(attempt_id, started_at, RETRY_OFFLINE, str(exc)))
                return
            # A definite refusal: no call went out. A failed attempt by the retry rule,
            # and the list moves on — never the same entry again at once (A6).
            log.warning("dialer: makeCall for entry %s refused: %s", entry.id, exc)
            self.post(PlaceRefused(attempt_id, started_at, str(exc)))
            return
        except Exception as exc:
            # The request may have reached the PBX (a timeout, a dropped connection, a
            # 5xx): what became of it is asked later.
            self.post(PlaceFailed(attempt_id, started_at, RETRY_OFFLINE, str(exc)))
            return
        try:
            await self.storage.run(self.repo.set_attempt_uuid, attempt_id, uuid)
        except StorageError as exc:  # after a crash it is found by number and time
            log.error("dialer: the uuid of attempt %s was not written: %s", attempt_id, exc)
        self.post(CallPlaced(attempt_id, uuid, started_at))
        self.on_state()  # the line may be up already (its frame outran makeCall's answer)

    async def _record(self, effect: RecordOutcome) -> None:
        now = self.runtime.clock()

        def finish() -> None:
            self.repo.finish_attempt(
                effect.attempt_id,
                effect.entry,
                uuid=effect.uuid,
                outcome=effect.outcome.value,
                talk_s=effect.talk_s,
                provisional=effect.provisional,
                decision=effect.decision,
                now=now,
            )

        # The entry's group is counted around the write, so the list's progress moves
        # without a count of the whole list (B16).
        change = await self.storage.run(measured, self.repo, effect.entry, finish)
        self._resolve_tries.pop(effect.attempt_id, None)
        self.entries_moved(effect.entry.list_id, change)

    # ------------------------------------------------------------ resolving (item 8)

    async def _resolve(self, effect: ResolveAttempt) -> None:
        """What became of an attempt whose makeCall answer was lost: ask the PBX."""
        clock = self.runtime.clock
        tries = self._resolve_tries.get(effect.attempt_id, 0) + 1
        self._resolve_tries[effect.attempt_id] = tries
        try:
            async with asyncio.timeout(ONLINE_WAIT_S):  # not wait_for: see agent/journal.py
                await self.runtime.online.wait()
            found = await self._look_up(effect)
        except (TimeoutError, PbxError) as exc:
            log.info("dialer: attempt %s not resolved yet: %s", effect.attempt_id, exc)
            self.post(AttemptUnknown(effect.attempt_id, clock() + RESOLVE_RETRY))
            return
        if found is not None:
            self.post(found)
        elif tries < RESOLVE_TRIES:
            self.post(AttemptUnknown(effect.attempt_id, clock() + RESOLVE_RETRY))
        elif effect.uuid is not None:
            # It went out (makeCall named it) but the PBX keeps no record: not reached.
            self.post(AttemptResolved(effect.attempt_id, effect.uuid, Outcome.NO_ANSWER, 0, True))
        else:
            self.post(AttemptVanished(effect.attempt_id))

    async def _look_up(self, effect: ResolveAttempt) -> DialerInput | None:
        rest, own_ext = self.runtime.rest, self.own_ext
        since = effect.started_at - MATCH_SLACK
        digits = _digits(effect.number)

        def ours(uuid: str, number: str | None, dial_at: datetime) -> bool:
            if effect.uuid is not None:
                return uuid == effect.uuid
            return _digits(number or "") == digits and dial_at >= since

        for call in await rest.active_calls(own_ext):
            if call.direction is Direction.OUT and ours(call.uuid, call.number, call.dial_at):
                return AttemptAlive(effect.attempt_id, call.uuid, call.answer_at is not None)
        if effect.uuid is not None:
            row = await self.storage.run(self.storage.journal.get, effect.uuid)
            if row is not None and row.final and row.outcome is not None:
                return AttemptResolved(effect.attempt_id, row.uuid, row.outcome, row.talk_s)
        now = self.runtime.clock()
        async for _, page in rest.history_pages(
            "company", time_from=since - timedelta(minutes=1), time_to=now + timedelta(minutes=1)
        ):
            for record in page:
                dial_at = record.end_at - timedelta(seconds=record.duration_s)
                if _record_is_out(record, own_ext) and ours(record.uuid, record.number, dial_at):
                    outcome = outcome_of(
                        record.disposition, record.talk_s, self.settings.team.completed_talk_s
                    )
                    return AttemptResolved(effect.attempt_id, record.uuid, outcome, record.talk_s)
        return None

    # ------------------------------------------------------------ A5

    async def _check_event(self, uuid: str) -> None:
        self.post(EventChecked(uuid, await self.events.is_open(uuid)))


def choose_next(
    repo: DialerRepository,
    list_id: int,
    *,
    smart: bool,
    now: datetime,
    window: CallingWindow | None,
    team_zone: str,
) -> DialerInput:
    """The next entry (A4) among the zones whose calling window is open (B3); else when
    one may be called, and whether due entries wait for their window. On the worker."""
    zones = repo.zones(list_id)
    if not zones:
        return ListFinished()
    open_now = [z for z in zones if is_open(window, tz(z or team_zone), now)]
    entry = repo.pick(list_id, open_now, smart=smart, now=now) if open_now else None
    if entry is not None:
        return EntryPicked(entry)
    wake: datetime | None = None
    outside = False
    blocked = True
    for name in zones:
        due = repo.earliest_due(list_id, name)
        if due is None:
            continue  # only numbers on the DNC list
        blocked = False
        if due <= now and name not in open_now:
            outside = True
        at = next_opening(window, tz(name or team_zone), max(due, now))
        if at is not None and (wake is None or at < wake):
            wake = at
    return ListFinished() if blocked else NothingDue(wake, outside)


def _record_is_out(record: HistoryRecord, own_ext: str) -> bool:
    return record.direction is Direction.OUT and record.ext in (None, "", own_ext)


def _run_state(raw: Any) -> RunState | None:
    if not isinstance(raw, dict):
        return None
    until = raw.get("paused_until")
    list_id = raw.get("list_id")
    return RunState(
        running=bool(raw.get("running")),
        list_id=list_id if isinstance(list_id, int) else None,
        paused_until=datetime.fromisoformat(until) if isinstance(until, str) else None,
        paused=raw.get("paused") is True,
    )


# What agent/phonet/rest.py says of a status it gives up on (400, 404, 422…: not the
# 401/403/302 it re-authorises on, nor the 408/425/429 and 5xx it calls transient).
_REFUSED = re.compile(r"unexpected HTTP (4\d\d)\b")


def refusal_status(exc: PbxProtocolError) -> int | None:
    """The 4xx status of a definite refusal of makeCall, else None (an answer that could
    not be read: the PBX may have placed the call)."""
    status = getattr(exc, "status", None)
    if isinstance(status, int):
        return status if 400 <= status < 500 else None
    found = _REFUSED.search(str(exc))
    return int(found.group(1)) if found else None
