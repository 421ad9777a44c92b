"""The auto-dialer (manual §6; M6, A1–A6, B2, B3, B17): a pure state machine.

Fed operator commands, what came of its own requests (a picked entry, a placed
call), the operator's line as the live stream shows it, the call's outcome (B2) and
``now``; returns effects and says when it next needs waking (architecture.md,
rule 1). The runtime participant (agent/dialer/participant.py) owns the only
instance and runs the effects.

Two tables, each ``(state, trigger) -> (next state, step)``; an unknown pair raises
(rule 2; docs/auto-dial.md draws them):

- :data:`TRANSITIONS`, the dialer's mode, whose states the API names
  (contracts.md §4): idle, calling, in_call, waiting_event, between_calls, paused,
  outside_hours. Stopped is idle.
- :data:`CALL_TRANSITIONS`, the one call the dialer has in flight. It lives on
  across pause and stop: a call the operator is in is never cut, and its outcome is
  still written, so attempts stay exact (issue 5, item 8).

One call at a time: the next entry is picked only when the previous call's outcome
is written, its event is closed (A5) and the U5 pause has passed (A1).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, assert_never

from agent.core.dial_list import DialEntry
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
    ListChanged,
    ListFinished,
    NothingDue,
    OperatorPaused,
    OperatorResumed,
    OperatorSkipped,
    OperatorStarted,
    OperatorStopped,
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
from agent.core.outcomes import Outcome
from agent.core.retry_rules import RetryRules, decide


class DialerState(StrEnum):
    IDLE = "idle"
    CALLING = "calling"
    IN_CALL = "in_call"
    WAITING_EVENT = "waiting_event"
    BETWEEN_CALLS = "between_calls"
    PAUSED = "paused"
    OUTSIDE_HOURS = "outside_hours"


class Trigger(StrEnum):
    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"
    DUE = "due"  # the state's deadline passed
    PICKED = "picked"
    NOTHING_DUE = "nothing_due"  # entries wait for their next dial time
    ALL_OUTSIDE = "all_outside"  # due entries wait for their calling window (B3)
    FINISHED = "finished"  # nothing left to dial
    PLACE_FAILED = "place_failed"
    RINGING = "ringing"  # the call in flight rings (found by settle)
    ANSWERED = "answered"
    ENDED = "ended"
    GATED = "gated"  # the call ended; its event must be closed first (A5)
    GATE_CLOSED = "gate_closed"
    CALL_DONE = "call_done"  # the outcome is written (or the attempt undone)
    LIST_CHANGED = "list_changed"


class Step(StrEnum):
    NOTHING = "nothing"
    RESUME = "resume"  # running again: persist it, then settle
    SETTLE = "settle"  # follow the call in flight, or pick when ready
    PICK = "pick"
    PLACE = "place"
    WAIT = "wait"
    REST = "rest"  # the U5 pause between calls (A1)
    PAUSE = "pause"
    STOP = "stop"
    FINISH = "finish"
    DROP = "drop"  # a pick answered after the dialer moved on
    RETRY = "retry"


S, T, P = DialerState, Trigger, Step

# Triggers every state takes the same way unless a row below says otherwise.
_COMMON: dict[Trigger, Step] = {
    T.START: P.NOTHING,
    T.RESUME: P.NOTHING,
    T.DUE: P.NOTHING,
    T.PICKED: P.DROP,
    T.NOTHING_DUE: P.NOTHING,
    T.ALL_OUTSIDE: P.NOTHING,
    T.FINISHED: P.NOTHING,
    T.PLACE_FAILED: P.NOTHING,
    T.RINGING: P.NOTHING,
    T.ANSWERED: P.NOTHING,
    T.ENDED: P.NOTHING,
    T.GATED: P.NOTHING,
    T.GATE_CLOSED: P.NOTHING,
    T.CALL_DONE: P.NOTHING,
    T.LIST_CHANGED: P.NOTHING,
}

_SPECIFIC: dict[tuple[DialerState, Trigger], tuple[DialerState, Step]] = {
    # Stopped: only start moves it; the call in flight is still followed (CALL_TRANSITIONS).
    (S.IDLE, T.START): (S.BETWEEN_CALLS, P.RESUME),
    (S.IDLE, T.PAUSE): (S.IDLE, P.NOTHING),
    (S.IDLE, T.STOP): (S.IDLE, P.NOTHING),
    # Between calls: the pause runs out, a pick comes back.
    (S.BETWEEN_CALLS, T.DUE): (S.BETWEEN_CALLS, P.PICK),
    (S.BETWEEN_CALLS, T.PICKED): (S.CALLING, P.PLACE),
    (S.BETWEEN_CALLS, T.NOTHING_DUE): (S.BETWEEN_CALLS, P.WAIT),
    (S.BETWEEN_CALLS, T.ALL_OUTSIDE): (S.OUTSIDE_HOURS, P.WAIT),
    (S.BETWEEN_CALLS, T.FINISHED): (S.IDLE, P.FINISH),
    (S.BETWEEN_CALLS, T.RINGING): (S.CALLING, P.NOTHING),
    (S.BETWEEN_CALLS, T.ANSWERED): (S.IN_CALL, P.NOTHING),
    (S.BETWEEN_CALLS, T.GATED): (S.WAITING_EVENT, P.NOTHING),
    (S.BETWEEN_CALLS, T.CALL_DONE): (S.BETWEEN_CALLS, P.SETTLE),
    (S.BETWEEN_CALLS, T.PLACE_FAILED): (S.BETWEEN_CALLS, P.RETRY),
    (S.BETWEEN_CALLS, T.LIST_CHANGED): (S.BETWEEN_CALLS, P.SETTLE),
    # Calling: the far end rings (the operator's phone first, contracts.md §3).
    (S.CALLING, T.PLACE_FAILED): (S.BETWEEN_CALLS, P.RETRY),
    (S.CALLING, T.ANSWERED): (S.IN_CALL, P.NOTHING),
    (S.CALLING, T.ENDED): (S.BETWEEN_CALLS, P.REST),
    (S.CALLING, T.GATED): (S.WAITING_EVENT, P.NOTHING),
    (S.CALLING, T.CALL_DONE): (S.BETWEEN_CALLS, P.REST),
    (S.IN_CALL, T.ENDED): (S.BETWEEN_CALLS, P.REST),
    (S.IN_CALL, T.GATED): (S.WAITING_EVENT, P.NOTHING),
    (S.IN_CALL, T.CALL_DONE): (S.BETWEEN_CALLS, P.REST),
    # A5: the next call waits until the event is saved and closed, or declined.
    (S.WAITING_EVENT, T.GATE_CLOSED): (S.BETWEEN_CALLS, P.REST),
    # Paused (A2): a deadline, or resume early; start on a paused dialer resumes it.
    (S.PAUSED, T.RESUME): (S.BETWEEN_CALLS, P.RESUME),
    (S.PAUSED, T.START): (S.BETWEEN_CALLS, P.RESUME),
    (S.PAUSED, T.DUE): (S.BETWEEN_CALLS, P.RESUME),
    # Outside calling hours (B3): wake when a window opens or an entry falls due.
    (S.OUTSIDE_HOURS, T.DUE): (S.OUTSIDE_HOURS, P.PICK),
    (S.OUTSIDE_HOURS, T.PICKED): (S.CALLING, P.PLACE),
    (S.OUTSIDE_HOURS, T.NOTHING_DUE): (S.BETWEEN_CALLS, P.WAIT),
    (S.OUTSIDE_HOURS, T.ALL_OUTSIDE): (S.OUTSIDE_HOURS, P.WAIT),
    (S.OUTSIDE_HOURS, T.FINISHED): (S.IDLE, P.FINISH),
    (S.OUTSIDE_HOURS, T.LIST_CHANGED): (S.OUTSIDE_HOURS, P.PICK),
}


def _table() -> dict[tuple[DialerState, Trigger], tuple[DialerState, Step]]:
    table: dict[tuple[DialerState, Trigger], tuple[DialerState, Step]] = {}
    for state in DialerState:
        for trigger in Trigger:
            if (state, trigger) in _SPECIFIC:
                table[state, trigger] = _SPECIFIC[state, trigger]
            elif trigger is T.PAUSE:
                table[state, trigger] = (S.PAUSED, P.PAUSE)  # A2: at any moment
            elif trigger is T.STOP:
                table[state, trigger] = (S.IDLE, P.STOP)  # A3: from any state
            elif trigger in _COMMON:
                table[state, trigger] = (state, _COMMON[trigger])
    return table


TRANSITIONS: dict[tuple[DialerState, Trigger], tuple[DialerState, Step]] = _table()


# ------------------------------------------------------------------ the call in flight


class CallPhase(StrEnum):
    PLACING = "placing"  # the attempt is written; makeCall is on its way
    RINGING = "ringing"
    TALKING = "talking"
    ENDED = "ended"  # hung up; the outcome comes from the PBX history (B2)
    RESOLVING = "resolving"  # asking the PBX what became of it (a failed makeCall, a crash)
    DONE = "done"  # outcome written or attempt undone: the call leaves


class CallTrigger(StrEnum):
    PLACED = "placed"
    REFUSED = "refused"  # certainly not placed
    PLACE_FAILED = "place_failed"  # maybe placed: the answer was lost
    LINE_UP = "line_up"
    ANSWERED = "answered"
    HUNG_UP = "hung_up"
    OUTCOME = "outcome"
    LOST = "lost"  # no line seen, or no outcome, in time
    ALIVE = "alive"  # the PBX says it is up (ringing)
    ALIVE_TALKING = "alive_talking"
    VANISHED = "vanished"  # the PBX never had it
    UNKNOWN = "unknown"  # not known yet: ask again later


class CallStep(StrEnum):
    NOTHING = "nothing"
    TRACK = "track"
    RECORD = "record"
    UNDO = "undo"
    RESOLVE = "resolve"


CP, CT, CS = CallPhase, CallTrigger, CallStep

CALL_TRANSITIONS: dict[tuple[CallPhase, CallTrigger], tuple[CallPhase, CallStep]] = {
    (CP.PLACING, CT.PLACED): (CP.RINGING, CS.TRACK),
    # A definite refusal (a 4xx): no call, but a failed attempt by the retry rule (A6).
    (CP.PLACING, CT.REFUSED): (CP.DONE, CS.RECORD),
    (CP.PLACING, CT.PLACE_FAILED): (CP.RESOLVING, CS.RESOLVE),
    (CP.RINGING, CT.LINE_UP): (CP.RINGING, CS.TRACK),
    (CP.RINGING, CT.ANSWERED): (CP.TALKING, CS.TRACK),
    (CP.RINGING, CT.HUNG_UP): (CP.ENDED, CS.TRACK),
    (CP.RINGING, CT.OUTCOME): (CP.DONE, CS.RECORD),
    (CP.RINGING, CT.LOST): (CP.RESOLVING, CS.RESOLVE),
    (CP.TALKING, CT.LINE_UP): (CP.TALKING, CS.NOTHING),
    (CP.TALKING, CT.ANSWERED): (CP.TALKING, CS.NOTHING),
    (CP.TALKING, CT.HUNG_UP): (CP.ENDED, CS.TRACK),
    (CP.TALKING, CT.OUTCOME): (CP.DONE, CS.RECORD),
    (CP.ENDED, CT.LINE_UP): (CP.ENDED, CS.NOTHING),
    (CP.ENDED, CT.ANSWERED): (CP.ENDED, CS.NOTHING),
    (CP.ENDED, CT.HUNG_UP): (CP.ENDED, CS.NOTHING),
    (CP.ENDED, CT.OUTCOME): (CP.DONE, CS.RECORD),
    (CP.ENDED, CT.LOST): (CP.RESOLVING, CS.RESOLVE),
    (CP.RESOLVING, CT.OUTCOME): (CP.DONE, CS.RECORD),
    (CP.RESOLVING, CT.VANISHED): (CP.DONE, CS.UNDO),
    (CP.RESOLVING, CT.UNKNOWN): (CP.RESOLVING, CS.NOTHING),
    (CP.RESOLVING, CT.LOST): (CP.RESOLVING, CS.RESOLVE),
    (CP.RESOLVING, CT.ALIVE): (CP.RINGING, CS.TRACK),
    (CP.RESOLVING, CT.ALIVE_TALKING): (CP.TALKING, CS.TRACK),
    (CP.RESOLVING, CT.LINE_UP): (CP.RINGING, CS.TRACK),
    (CP.RESOLVING, CT.ANSWERED): (CP.TALKING, CS.TRACK),
    (CP.RESOLVING, CT.HUNG_UP): (CP.ENDED, CS.TRACK),
}


class UnknownTransition(Exception):
    """A (state, trigger) pair a table does not name: a bug, not bad input."""


# ------------------------------------------------------------------ the machine


@dataclass(frozen=True, slots=True)
class DialerConfig:
    rules: RetryRules
    pause: timedelta = timedelta(seconds=10)  # U5
    smart: bool = True  # A4
    event_gating: bool = False  # A5 (operator.create_event_on_answer)
    ring_timeout: timedelta | None = None  # U5 "busy timeout": hang up unanswered calls
    outcome_wait: timedelta = timedelta(seconds=15)  # B2


# A placed call whose line never shows is looked up in the PBX after this long; a
# hung-up call with no outcome after the outcome wait plus this.
UNSEEN_LIMIT = timedelta(seconds=30)
OUTCOME_GRACE = timedelta(seconds=30)
RETRY_PLACE = timedelta(seconds=5)
_OUTCOME_MEMORY = 64


@dataclass(slots=True)
class _Call:
    entry: DialEntry
    phase: CallPhase = CallPhase.PLACING
    attempt_id: int | None = None
    uuid: str | None = None
    started_at: datetime | None = None
    line_seen: bool = False
    answered: bool = False
    hung_up_at: datetime | None = None
    hangup_sent: bool = False
    lost_at: datetime | None = None  # when to ask the PBX (LOST)
    resolving: bool = False  # a ResolveAttempt is out


@dataclass(slots=True)
class Dialer:
    config: DialerConfig
    state: DialerState = DialerState.IDLE
    list_id: int | None = None
    paused_until: datetime | None = None
    next_pick_at: datetime | None = None
    picking: bool = False
    stale_pick: bool = False
    finished: bool = False
    call: _Call | None = None
    gate: str | None = None  # the call uuid whose event must close first (A5)
    # next_pick_at waits for an entry to fall due (NothingDue): a list change may cut it
    # short. The U5 rest after a call (A1) and a retry's wait are never cut.
    waiting_due: bool = False
    _outcomes: OrderedDict[str, OutcomeLearned] = field(default_factory=OrderedDict)

    # ------------------------------------------------------------ restoring

    def restore(
        self, run: RunState | None, now: datetime, gate: str | None = None
    ) -> list[DialerEffect]:
        """Start from the persisted mode (a restart after a crash resumes, item 8).

        A pause is kept, open-ended too (A2). ``gate`` is the last call's uuid when its
        event is still open: with event gating on, the next call waits for it (A5) — a
        restart must not let the dialer past an event the operator has not closed.
        """
        effects: list[DialerEffect] = []
        if gate is not None and self.config.event_gating:
            self.gate = gate
            effects.append(CheckEvent(gate))  # it may have closed while we looked
        if run is None or not run.running or run.list_id is None:
            if run is not None:
                self.list_id = run.list_id
            return effects
        self.list_id = run.list_id
        paused = run.paused or run.paused_until is not None
        if paused and (run.paused_until is None or run.paused_until > now):
            self.state = DialerState.PAUSED
            self.paused_until = run.paused_until
        elif self.gate is not None:
            self.state = DialerState.WAITING_EVENT
        else:
            self.state = DialerState.BETWEEN_CALLS
            self.next_pick_at = now
        return [*effects, Announce()]

    # ------------------------------------------------------------ feeding

    def feed(self, event: DialerInput, now: datetime) -> list[DialerEffect]:
        """One input; the effects to run, in order."""
        before = self._signature()
        effects = self._dispatch(event, now)
        if self._signature() != before and not any(isinstance(e, Announce) for e in effects):
            effects.append(Announce())
        return effects

    def _dispatch(self, event: DialerInput, now: datetime) -> list[DialerEffect]:
        match event:
            case OperatorStarted():
                return self._on_start(event, now)
            case OperatorPaused():
                return self._fire(T.PAUSE, now, until=event.until)
            case OperatorResumed():
                return self._fire(T.RESUME, now)
            case OperatorStopped():
                return self._fire(T.STOP, now)
            case OperatorSkipped():
                return self._on_skip()
            case EntryPicked():
                return self._on_pick_result(T.PICKED, now, entry=event.entry)
            case NothingDue():
                trigger = T.ALL_OUTSIDE if event.outside_hours else T.NOTHING_DUE
                return self._on_pick_result(trigger, now, wake_at=event.wake_at)
            case ListFinished():
                return self._on_pick_result(T.FINISHED, now)
            case CallPlaced():
                return self._on_placed(event, now)
            case PlaceFailed():
                return self._on_place_failed(event, now)
            case PlaceRefused():
                return self._on_refused(event, now)
            case LineUp():
                if not self._is_current(event.uuid):
                    return []
                call_trigger = CT.ANSWERED if event.talking else CT.LINE_UP
                return self._call_fire(call_trigger, now)
            case LineGone():
                return self._call_fire(CT.HUNG_UP, now) if self._is_current(event.uuid) else []
            case OutcomeLearned():
                return self._on_outcome(event, now)
            case AttemptRecovered():
                return self._on_recovered(event, now)
            case AttemptAlive():
                if not self._is_attempt(event.attempt_id):
                    return []
                assert self.call is not None
                self.call.uuid = event.uuid
                self.call.resolving = False
                alive = CT.ALIVE_TALKING if event.talking else CT.ALIVE
                return self._call_fire(alive, now)
            case AttemptResolved():
                if not self._is_attempt(event.attempt_id):
                    return []
                assert self.call is not None
                self.call.uuid = event.uuid
                self.call.resolving = False
                learned = OutcomeLearned(event.uuid, event.outcome, event.talk_s, event.provisional)
                return self._call_fire(CT.OUTCOME, now, outcome=learned)
            case AttemptVanished():
                if not self._is_attempt(event.attempt_id):
                    return []
                return self._call_fire(CT.VANISHED, now)
            case AttemptUnknown():
                if not self._is_attempt(event.attempt_id):
                    return []
                assert self.call is not None
                self.call.resolving = False
                self.call.lost_at = event.retry_at
                return self._call_fire(CT.UNKNOWN, now)
            case EventChecked():
                if event.open or event.uuid != self.gate:
                    return []
                return self._close_gate(now)
            case EventClosed():
                return self._close_gate(now) if event.uuid == self.gate else []
            case ListChanged():
                if event.list_id != self.list_id:
                    return []
                if self.picking:
                    self.stale_pick = True
                    return []
                self.finished = False
                if self.state is DialerState.BETWEEN_CALLS and self.waiting_due:
                    # An entry may be due now. Only this wait ends early: the pause
                    # between calls (U5, A1) runs its full length whatever the list does.
                    self.next_pick_at = now
                return self._fire(T.LIST_CHANGED, now)
        assert_never(event)

    # ------------------------------------------------------------ the clock

    def next_wakeup(self) -> datetime | None:
        times = [self._mode_deadline(), *self._call_deadlines()]
        return min((t for t in times if t is not None), default=None)

    def wake(self, now: datetime) -> list[DialerEffect]:
        effects: list[DialerEffect] = []
        call = self.call
        if call is not None:
            timeout = self._ring_deadline(call)
            if timeout is not None and timeout <= now and call.uuid is not None:
                call.hangup_sent = True
                effects.append(HangUp(call.uuid))
            if call.lost_at is not None and call.lost_at <= now and not call.resolving:
                call.lost_at = None
                effects += self._call_fire(CT.LOST, now)
        deadline = self._mode_deadline()
        if deadline is not None and deadline <= now:
            effects += self._fire(T.DUE, now)
        return effects

    def _mode_deadline(self) -> datetime | None:
        match self.state:
            case DialerState.PAUSED:
                return self.paused_until
            case DialerState.BETWEEN_CALLS | DialerState.OUTSIDE_HOURS:
                return self.next_pick_at if self._ready() else None
            case _:
                return None

    def _call_deadlines(self) -> list[datetime | None]:
        call = self.call
        if call is None:
            return []
        return [self._ring_deadline(call), None if call.resolving else call.lost_at]

    def _ring_deadline(self, call: _Call) -> datetime | None:
        timeout = self.config.ring_timeout
        if (
            timeout is None
            or call.hangup_sent
            or call.phase is not CallPhase.RINGING
            or call.started_at is None
            or self.state is DialerState.IDLE
        ):
            return None
        return call.started_at + timeout

    def _ready(self) -> bool:
        return self.call is None and self.gate is None and not self.picking

    # ------------------------------------------------------------ the mode table

    def _fire(self, trigger: Trigger, now: datetime, **data: Any) -> list[DialerEffect]:
        try:
            next_state, step = TRANSITIONS[self.state, trigger]
        except KeyError:
            raise UnknownTransition(f"dialer: {self.state} cannot take {trigger}") from None
        self.state = next_state
        return self._step(step, now, data)

    def _step(self, step: Step, now: datetime, data: dict[str, Any]) -> list[DialerEffect]:
        match step:
            case Step.NOTHING | Step.DROP:
                return []
            case Step.RESUME:
                self.paused_until = None
                return [SaveRun(self.run_state()), *self._settle(now)]
            case Step.SETTLE:
                return self._settle(now)
            case Step.PICK:
                return self._pick()
            case Step.PLACE:
                entry: DialEntry = data["entry"]
                self.call = _Call(entry)
                return [PlaceCall(entry)]
            case Step.WAIT:
                self.next_pick_at = data.get("wake_at")
                self.waiting_due = True
                return []
            case Step.REST:
                self.next_pick_at = now + self.config.pause
                self.waiting_due = False
                return []
            case Step.RETRY:
                self.next_pick_at = now + data.get("retry_after", RETRY_PLACE)
                self.waiting_due = False
                return []
            case Step.PAUSE:
                self.paused_until = data.get("until")
                return [SaveRun(self.run_state())]
            case Step.STOP:
                self.paused_until = None
                self.next_pick_at = None
                return [SaveRun(self.run_state())]
            case Step.FINISH:
                self.finished = True
                self.next_pick_at = None
                return [SaveRun(self.run_state())]
        assert_never(step)

    def _settle(self, now: datetime) -> list[DialerEffect]:
        """Back to running: follow the call in flight, or pick when ready."""
        call = self.call
        if call is not None and call.phase in (CallPhase.PLACING, CallPhase.RINGING):
            return self._fire(T.RINGING, now)
        if call is not None and call.phase is CallPhase.TALKING:
            return self._fire(T.ANSWERED, now)
        if self.gate is not None:
            return self._fire(T.GATED, now)
        if self.next_pick_at is None:
            self.next_pick_at = now
        if self._ready() and self.next_pick_at <= now:
            return self._fire(T.DUE, now)
        return []

    def _pick(self) -> list[DialerEffect]:
        if not self._ready() or self.list_id is None:
            return []
        self.picking = True
        self.stale_pick = False
        return [PickEntry(self.list_id, self.config.smart)]

    def _on_start(self, event: OperatorStarted, now: datetime) -> list[DialerEffect]:
        if self.state is not DialerState.IDLE and event.list_id != self.list_id:
            # Another list: stop this run first, then start on that one.
            self._fire(T.STOP, now)
        if self.state is DialerState.IDLE:
            self.list_id = event.list_id
            self.finished = False
            self.next_pick_at = now
        return self._fire(T.START, now)

    def _on_pick_result(self, trigger: Trigger, now: datetime, **data: Any) -> list[DialerEffect]:
        self.picking = False
        if self.stale_pick:
            # The list changed while the pick ran: its answer may name a deleted entry.
            self.stale_pick = False
            self.next_pick_at = now
            return self._fire(T.DUE, now)
        return self._fire(trigger, now, **data)

    def _on_skip(self) -> list[DialerEffect]:
        call = self.call
        if (
            call is not None
            and call.phase is CallPhase.RINGING
            and call.uuid is not None
            and not call.hangup_sent
        ):
            call.hangup_sent = True
            return [HangUp(call.uuid)]
        return []

    # ------------------------------------------------------------ the call table

    def _is_current(self, uuid: str) -> bool:
        return self.call is not None and self.call.uuid == uuid

    def _is_attempt(self, attempt_id: int) -> bool:
        return self.call is not None and self.call.attempt_id == attempt_id

    def _on_placed(self, event: CallPlaced, now: datetime) -> list[DialerEffect]:
        call = self.call
        if call is None or call.phase is not CallPhase.PLACING:
            return []
        call.attempt_id = event.attempt_id
        call.uuid = event.uuid
        call.started_at = event.started_at
        call.lost_at = now + UNSEEN_LIMIT
        effects = self._call_fire(CT.PLACED, now)
        early = self._outcomes.pop(event.uuid, None)
        if early is not None:  # the outcome outran makeCall's answer
            effects += self._call_fire(CT.OUTCOME, now, outcome=early)
        return effects

    def _on_place_failed(self, event: PlaceFailed, now: datetime) -> list[DialerEffect]:
        call = self.call
        if call is None or call.phase is not CallPhase.PLACING:
            return []
        call.started_at = event.started_at
        if event.attempt_id is None:
            self.call = None
            return self._fire(T.PLACE_FAILED, now, retry_after=event.retry_after)
        call.attempt_id = event.attempt_id
        effects = self._call_fire(CT.PLACE_FAILED, now)
        return effects + self._fire(T.PLACE_FAILED, now, retry_after=event.retry_after)

    def _on_refused(self, event: PlaceRefused, now: datetime) -> list[DialerEffect]:
        call = self.call
        if call is None or call.phase is not CallPhase.PLACING:
            return []
        call.attempt_id = event.attempt_id
        call.started_at = event.started_at
        failed = OutcomeLearned("", Outcome.FAILED, 0)  # no call, so no uuid
        return self._call_fire(CT.REFUSED, now, outcome=failed)

    def _on_outcome(self, event: OutcomeLearned, now: datetime) -> list[DialerEffect]:
        call = self.call
        if call is not None and call.uuid == event.uuid:
            return self._call_fire(CT.OUTCOME, now, outcome=event)
        if call is not None and call.uuid is None:
            self._outcomes[event.uuid] = event
            while len(self._outcomes) > _OUTCOME_MEMORY:
                self._outcomes.popitem(last=False)
        return []

    def _on_recovered(self, event: AttemptRecovered, now: datetime) -> list[DialerEffect]:
        if self.call is not None:
            return []
        self.call = _Call(
            event.entry,
            phase=CallPhase.RESOLVING,
            attempt_id=event.attempt_id,
            uuid=event.uuid,
            started_at=event.started_at,
        )
        return self._call_fire(CT.LOST, now)

    def _call_fire(
        self, trigger: CallTrigger, now: datetime, outcome: OutcomeLearned | None = None
    ) -> list[DialerEffect]:
        call = self.call
        if call is None:
            return []
        try:
            phase, step = CALL_TRANSITIONS[call.phase, trigger]
        except KeyError:
            raise UnknownTransition(f"dialer call: {call.phase} cannot take {trigger}") from None
        call.phase = phase
        effects: list[DialerEffect] = []
        match step:
            case CallStep.NOTHING:
                pass
            case CallStep.TRACK:
                effects += self._track(call, trigger, now)
            case CallStep.RECORD:
                assert outcome is not None
                effects += self._record(call, outcome, now)
            case CallStep.UNDO:
                self.call = None
                if call.attempt_id is not None:
                    effects.append(UndoAttempt(call.attempt_id, call.entry, call.started_at or now))
                effects += self._fire(T.CALL_DONE, now)
            case CallStep.RESOLVE:
                assert call.attempt_id is not None and call.started_at is not None
                call.resolving = True
                call.lost_at = None
                effects.append(
                    ResolveAttempt(call.attempt_id, call.uuid, call.entry.number, call.started_at)
                )
        return effects

    def _track(self, call: _Call, trigger: CallTrigger, now: datetime) -> list[DialerEffect]:
        """The call moved: keep its timers and move the mode with it."""
        if trigger in (CT.LINE_UP, CT.ANSWERED):
            call.line_seen = True
        match call.phase:
            case CallPhase.RINGING:
                # A call the live stream never shows is asked of the PBX (link trouble).
                call.lost_at = None if call.line_seen else now + UNSEEN_LIMIT
                return self._fire(T.RINGING, now)
            case CallPhase.TALKING:
                call.answered = True
                call.lost_at = None if call.line_seen else now + UNSEEN_LIMIT
                return self._fire(T.ANSWERED, now)
            case CallPhase.ENDED:
                call.hung_up_at = now
                call.lost_at = now + self.config.outcome_wait + OUTCOME_GRACE
                return self._ended(call, now)
            case _:
                return []

    def _ended(self, call: _Call, now: datetime) -> list[DialerEffect]:
        if call.answered and self.config.event_gating and call.uuid is not None:
            if self.gate == call.uuid:
                return []
            self.gate = call.uuid
            return [CheckEvent(call.uuid), *self._fire(T.GATED, now)]
        return self._fire(T.ENDED, now)

    def _record(self, call: _Call, learned: OutcomeLearned, now: datetime) -> list[DialerEffect]:
        assert call.attempt_id is not None
        tried_at = call.started_at or now
        decision = decide(self.config.rules, learned.outcome, call.entry.tries, tried_at)
        effects: list[DialerEffect] = [
            RecordOutcome(
                attempt_id=call.attempt_id,
                entry=call.entry,
                uuid=call.uuid or learned.uuid or None,
                outcome=learned.outcome,
                talk_s=learned.talk_s,
                provisional=learned.provisional,
                decision=decision,
                tried_at=tried_at,
            )
        ]
        answered = call.answered or learned.outcome in (Outcome.ANSWERED, Outcome.NOT_REACHED)
        if call.hung_up_at is None and answered:
            call.answered = True
            effects += self._ended(call, now)  # the outcome outran the live hang-up
        self.call = None
        return effects + self._fire(T.CALL_DONE, now)

    def _close_gate(self, now: datetime) -> list[DialerEffect]:
        self.gate = None
        return self._fire(T.GATE_CLOSED, now)

    # ------------------------------------------------------------ views

    def run_state(self) -> RunState:
        running = self.state is not DialerState.IDLE
        paused = self.state is DialerState.PAUSED
        return RunState(running, self.list_id, self.paused_until if paused else None, paused)

    def _signature(self) -> tuple[object, ...]:
        call = self.call
        return (
            self.state,
            self.paused_until,
            self.list_id,
            self.next_pick_at,
            self.gate,
            None if call is None else (call.entry.id, call.phase, call.uuid),
        )

    def view(self) -> dict[str, Any]:
        """The dialer as the API and the hub show it (contracts.md §4 ``dialer``)."""
        call = self.call
        current = None
        if call is not None:
            current = {
                "entry_id": call.entry.id,
                "number": call.entry.number,
                "contact": call.entry.contact_name,
                "uuid": call.uuid,
                "phase": str(call.phase),
            }
        waiting = None
        between = self.state in (DialerState.BETWEEN_CALLS, DialerState.OUTSIDE_HOURS)
        waiting_pick = between and self._ready()
        if between:
            waiting = "outcome" if call is not None else ("event" if self.gate else None)
        return {
            "state": str(self.state),
            "paused_until": _iso(self.paused_until if self.state is DialerState.PAUSED else None),
            "list_id": self.list_id,
            "next_call_at": _iso(self.next_pick_at if waiting_pick else None),
            "finished": self.finished,
            "current": current,
            "waiting_for": waiting,
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
