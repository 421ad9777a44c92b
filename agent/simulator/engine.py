"""The simulator's clockwork: plays calls through the state machine onto the wire.

It owns the timers of every call (``loop.call_later`` at the step
:func:`~agent.simulator.model.next_step` names), turns transitions into live
frames for the legs' subscribers, and writes the history record at hangup. All of
it runs on the simulator's one event loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from agent.simulator.live import Hub
from agent.simulator.model import (
    Call,
    InvalidTransition,
    Kind,
    Phase,
    Plan,
    Step,
    Trigger,
    WireEvent,
    fire,
    next_step,
)
from agent.simulator.shapes import history_record, live_frame, new_uuid, pause_frame
from agent.simulator.state import SimState

log = logging.getLogger(__name__)

__all__ = ["Engine", "InvalidTransition", "UnknownCall", "UnknownExtension"]


class UnknownExtension(LookupError):
    """No employee has that extension."""


class UnknownCall(LookupError):
    """No call in progress has that uuid (never one, or already ended)."""


def plain_uuid(value: str) -> str:
    """Uuids compare without dashes, lower-cased (contracts.md §3)."""
    return value.strip().replace("-", "").lower()


class Engine:
    def __init__(self, state: SimState, hub: Hub, clock: Callable[[], float] = time.time) -> None:
        self.state = state
        self.hub = hub
        self._clock = clock
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._late_records: set[asyncio.TimerHandle] = set()  # the history_lag_ms fault
        # Set by the server once it runs: closes every live transport abruptly.
        self.abort_live: Callable[[], int] = lambda: 0

    # -- calls --------------------------------------------------------------------

    def start_call(
        self,
        kind: Kind,
        ext: str,
        number: str,
        plan: Plan,
        *,
        name: str | None = None,
        company: str | None = None,
        made_by_api: bool = False,
    ) -> Call:
        """Dial a call: its ``call.dial`` is queued before this returns."""
        users = self.state.users
        if ext not in users:
            raise UnknownExtension(f"no user has extension {ext!r}")
        leg2 = None
        if kind is Kind.INTERNAL:
            if number not in users:
                raise UnknownExtension(f"no user has extension {number!r}")
            leg2 = users[number]
        now = self._clock()
        call = Call(
            uuid=new_uuid(),
            kind=kind,
            leg=users[ext],
            number=number,
            plan=plan,
            dial_at=now,
            phase=Phase.OPERATOR_RINGING if made_by_api else Phase.RINGING,
            leg2=leg2,
            name=name,
            company=company,
            made_by_api=made_by_api,
        )
        self.state.calls[call.uuid] = call
        log.info("call %s: %s %s -> %s dialled", call.uuid, kind.value, ext, number)
        self._emit(call, WireEvent.DIAL, now)
        self._schedule(call)
        return call

    def make_call(self, leg_ext: str, number: str) -> str:
        """``POST /rest/user/makeCall``: the operator's phone first, then ``number``.

        A call to the user's own ``dnd_code`` is no call: it switches the pause
        (contracts.md §3; manual: the feature code toggles "not at desk").
        """
        user = self.state.users.get(leg_ext)
        if user is None:
            raise UnknownExtension(f"no user has extension {leg_ext!r}")
        if user.dnd_code and number.strip() == user.dnd_code:
            return self._toggle_pause(leg_ext)
        plan = self.state.script_for(number)
        return self.start_call(Kind.OUT, leg_ext, number, plan, made_by_api=True).uuid

    def trigger(self, uuid: str, trigger: Trigger, disposition: int | None = None) -> Call:
        """Drive a call in progress by hand (control API) or by its timer."""
        call = self.state.calls.get(plain_uuid(uuid))
        if call is None or call.phase is Phase.ENDED:
            raise UnknownCall(f"no call in progress has uuid {uuid!r}")
        now = self._clock()
        event = fire(call, trigger, now, disposition)
        if event is not None:
            log.info("call %s: %s", call.uuid, event.value)
            self._emit(call, event, now)
        if event is WireEvent.HANGUP:
            self._record(call)
        self._schedule(call)
        return call

    def active_calls(self) -> list[Call]:
        return [c for c in self.state.calls.values() if c.phase is not Phase.ENDED]

    # -- control -----------------------------------------------------------------

    def push(self, subscriber: str, text: str) -> int:
        return self.hub.send([subscriber], text)

    def drop(self) -> int:
        """Close every live connection without a close frame (``/_sim/drop``)."""
        count = self.abort_live()
        self.hub.forget_all()
        log.info("dropped %d live connection(s)", count)
        return count

    def reset(self) -> None:
        self.close()
        self.state.reset()

    def close(self) -> None:
        for timer in (*self._timers.values(), *self._late_records):
            timer.cancel()
        self._timers.clear()
        self._late_records.clear()

    # -- internals ---------------------------------------------------------------

    def _send(self, subscribers: tuple[str, ...], frame: dict[str, Any]) -> None:
        text = json.dumps(frame, ensure_ascii=False)
        copies = 2 if self.state.faults.duplicate_events else 1
        self.hub.send(subscribers, text, copies)

    def _emit(self, call: Call, event: WireEvent, now: float) -> None:
        self._send(call.subscribers, live_frame(call, event, self.state.style, now))

    def _toggle_pause(self, ext: str) -> str:
        user = self.state.users[ext]
        user.paused = not user.paused
        uuid = new_uuid()
        log.info("user %s: pause %s", ext, "on" if user.paused else "off")
        self._send((ext,), pause_frame(user, user.paused, uuid, self.state.style, self._clock()))
        return uuid

    def _record(self, call: Call) -> None:
        state = self.state
        record = history_record(call, state.style, state.history_seq)
        state.history_seq += 1
        lag = state.faults.history_lag_ms
        if lag > 0:
            handle: asyncio.TimerHandle

            def write_late() -> None:
                self._late_records.discard(handle)
                state.history.add([record])

            handle = asyncio.get_running_loop().call_later(lag / 1000, write_late)
            self._late_records.add(handle)
        else:
            state.history.add([record])
        if call.bridge_at is not None:
            state.recordings.add(call.uuid)

    def _schedule(self, call: Call) -> None:
        old = self._timers.pop(call.uuid, None)
        if old is not None:
            old.cancel()
        step = next_step(call, self.state.config.operator_answer_s)
        if step is None:
            return
        delay = max(0.0, step.at - self._clock())
        loop = asyncio.get_running_loop()
        self._timers[call.uuid] = loop.call_later(delay, self._step, call.uuid, step)

    def _step(self, uuid: str, step: Step) -> None:
        self._timers.pop(uuid, None)
        call = self.state.calls.get(uuid)
        if call is None or call.phase is Phase.ENDED:
            return  # reset or ended by hand meanwhile
        self.trigger(uuid, step.trigger, step.disposition)
