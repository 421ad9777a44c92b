"""The lines of one extension (M2): which calls are up, which one is talking.

A state machine kept as a table (architecture.md, rule 2; h11 ``_state.py``): each
(line state, PBX event) pair names the next state and whether the operator should
hear of it. An unknown pair raises. Phonet may send an event twice and may send a
bridge or hang-up for a call we never saw (phonet-api.md §3.1): both are in the table.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from agent.core.events import CallAnswered, CallDialed, CallEvent, CallHungUp, CallInfo

if TYPE_CHECKING:
    from agent.core.popups import CallContext


class LineState(StrEnum):
    NONE = "none"  # not a line (yet, or any more)
    RINGING = "ringing"  # dialled out or ringing in, no answer yet
    TALKING = "talking"
    HELD = "held"  # answered, but another line took the talk since


class Step(StrEnum):
    """What the event meant to the operator; the popup kinds of C3 hang off it."""

    STARTED = "started"
    ANSWERED = "answered"
    ENDED = "ended"
    NOTHING = "nothing"  # a duplicate or a late echo: no news


class EventKind(StrEnum):
    DIAL = "dial"
    BRIDGE = "bridge"
    HANGUP = "hangup"


# (state, event) -> (next state, step). ENDED lines leave the table at once.
TRANSITIONS: dict[tuple[LineState, EventKind], tuple[LineState, Step]] = {
    (LineState.NONE, EventKind.DIAL): (LineState.RINGING, Step.STARTED),
    # A bridge or hang-up of a call we never saw: after a reconnect, or a lost frame.
    (LineState.NONE, EventKind.BRIDGE): (LineState.TALKING, Step.ANSWERED),
    (LineState.NONE, EventKind.HANGUP): (LineState.NONE, Step.ENDED),
    (LineState.RINGING, EventKind.DIAL): (LineState.RINGING, Step.NOTHING),
    (LineState.RINGING, EventKind.BRIDGE): (LineState.TALKING, Step.ANSWERED),
    (LineState.RINGING, EventKind.HANGUP): (LineState.NONE, Step.ENDED),
    (LineState.TALKING, EventKind.DIAL): (LineState.TALKING, Step.NOTHING),
    (LineState.TALKING, EventKind.BRIDGE): (LineState.TALKING, Step.NOTHING),
    (LineState.TALKING, EventKind.HANGUP): (LineState.NONE, Step.ENDED),
    (LineState.HELD, EventKind.DIAL): (LineState.HELD, Step.NOTHING),
    (LineState.HELD, EventKind.BRIDGE): (LineState.HELD, Step.NOTHING),
    (LineState.HELD, EventKind.HANGUP): (LineState.NONE, Step.ENDED),
}

_KIND = {CallDialed: EventKind.DIAL, CallAnswered: EventKind.BRIDGE, CallHungUp: EventKind.HANGUP}

# How many ended calls to remember, so that a duplicated or late frame of a call
# that is over does not bring it back as a line.
_ENDED_MEMORY = 512


class UnknownTransition(Exception):
    """A (state, event) pair the table does not name: a bug, not bad input."""


@dataclass(frozen=True, slots=True)
class Line:
    call: CallInfo
    state: LineState
    started_at: datetime
    answered_at: datetime | None = None
    context: CallContext | None = None

    @property
    def contact(self) -> str | None:
        return self.context.name if self.context else None

    @property
    def talking(self) -> bool:
        return self.state is LineState.TALKING


@dataclass(frozen=True, slots=True)
class Transition:
    line: Line  # the line after the event (state NONE when it ended)
    step: Step


class Lines:
    """The extension's current lines, in the order they appeared."""

    def __init__(self) -> None:
        self._lines: OrderedDict[str, Line] = OrderedDict()
        self._ended: OrderedDict[str, None] = OrderedDict()

    def __iter__(self) -> Iterator[Line]:
        return iter(list(self._lines.values()))

    def __len__(self) -> int:
        return len(self._lines)

    def get(self, uuid: str) -> Line | None:
        return self._lines.get(uuid)

    @property
    def talking(self) -> Line | None:
        return next((ln for ln in self._lines.values() if ln.talking), None)

    def apply(self, event: CallEvent) -> Transition:
        uuid = event.call.uuid
        if uuid in self._ended:
            return Transition(Line(event.call, LineState.NONE, event.at), Step.NOTHING)
        current = self._lines.get(uuid)
        state = current.state if current else LineState.NONE
        try:
            next_state, step = TRANSITIONS[(state, _KIND[type(event)])]
        except KeyError as exc:  # pragma: no cover - the table is total
            raise UnknownTransition(f"{state} + {type(event).__name__}") from exc
        line = self._next_line(current, event, next_state)
        if next_state is LineState.NONE:
            self._lines.pop(uuid, None)
            self._remember_ended(uuid)
        else:
            if next_state is LineState.TALKING:
                self._hold_others(uuid)
            self._lines[uuid] = line
        return Transition(line, step)

    def set_context(self, uuid: str, context: CallContext | None) -> None:
        line = self._lines.get(uuid)
        if line is not None:
            self._lines[uuid] = replace(line, context=context)

    def restore(self, calls: list[CallInfo], now: datetime) -> list[str]:
        """Rebuild the lines from the PBX's active calls after a reconnect.

        Returns the uuids of lines that are gone: they ended while we were away.
        """
        active = {c.uuid for c in calls}
        gone = [u for u in self._lines if u not in active]
        for uuid in gone:
            self._lines.pop(uuid)
            self._remember_ended(uuid)
        for call in calls:
            if call.uuid in self._lines or call.uuid in self._ended:
                continue
            state = LineState.TALKING if call.answer_at else LineState.RINGING
            if state is LineState.TALKING:
                self._hold_others(call.uuid)
            self._lines[call.uuid] = Line(call, state, call.dial_at or now, call.answer_at)
        return gone

    def clear(self) -> None:
        self._lines.clear()

    def _next_line(self, current: Line | None, event: CallEvent, state: LineState) -> Line:
        call = _merge_call(current.call, event.call) if current else event.call
        if current is None:
            answered = event.at if isinstance(event, CallAnswered) else call.answer_at
            return Line(call, state, call.dial_at, answered)
        answered = current.answered_at
        if isinstance(event, CallAnswered) and answered is None:
            answered = event.at
        return replace(current, call=call, state=state, answered_at=answered)

    def _hold_others(self, uuid: str) -> None:
        for other, line in list(self._lines.items()):
            if other != uuid and line.state is LineState.TALKING:
                self._lines[other] = replace(line, state=LineState.HELD)

    def _remember_ended(self, uuid: str) -> None:
        self._ended[uuid] = None
        while len(self._ended) > _ENDED_MEMORY:
            self._ended.popitem(last=False)


def _merge_call(old: CallInfo, new: CallInfo) -> CallInfo:
    """Later frames may lack what earlier ones said (names, trunk): keep the best."""
    return replace(
        new,
        name=new.name or old.name,
        company=new.company or old.company,
        trunk=new.trunk or old.trunk,
        parent_uuid=new.parent_uuid or old.parent_uuid,
        answer_at=new.answer_at or old.answer_at,
        dial_at=min(old.dial_at, new.dial_at),
    )
