"""The simulated PBX's people and calls, and the state machine a call walks.

Pure: no I/O and no clock; ``now`` (epoch seconds) is an argument. The engine
(``engine.py``) owns the timers and the wire, and asks :func:`next_step` when the
next automatic step is due.

A call is one uuid from dial to hangup (contracts.md §3). Its phases, and the live
event each transition sends (phonet-api.md §3.1: ``call.dial`` → ``call.bridge``
only if answered → ``call.hangup``), are the table :data:`TRANSITIONS`; an unknown
(phase, trigger) pair raises :class:`InvalidTransition`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum


class Kind(StrEnum):
    """A call's direction as the control API names it (contracts.md §3)."""

    IN = "in"
    OUT = "out"
    INTERNAL = "internal"


class LgDirection(IntEnum):
    """Phonet's ``lgDirection`` values (phonet-api.md §2.9)."""

    INTERNAL = 1
    OUT = 2
    IN = 4
    PAUSE_ON = 32
    PAUSE_OFF = 64


LG_DIRECTION = {
    Kind.IN: LgDirection.IN,
    Kind.OUT: LgDirection.OUT,
    Kind.INTERNAL: LgDirection.INTERNAL,
}


class Disposition(IntEnum):
    """Phonet's ``disposition`` of a completed call (phonet-api.md §2.9)."""

    ANSWERED = 0
    NO_ANSWER = 1
    CONGESTED = 2
    FAILED = 3
    BUSY = 4


class Phase(StrEnum):
    OPERATOR_RINGING = "operator_ringing"  # makeCall: the operator's own phone rings first
    RINGING = "ringing"  # the other side rings
    TALKING = "talking"
    ENDED = "ended"


class Trigger(StrEnum):
    OPERATOR_ANSWER = "operator_answer"
    ANSWER = "answer"
    HANGUP = "hangup"


class WireEvent(StrEnum):
    """The live event names (phonet-api.md §2.9); they leave only through ``shapes.py``."""

    DIAL = "call.dial"
    BRIDGE = "call.bridge"
    HANGUP = "call.hangup"


# (phase, trigger) -> (next phase, live event sent or None).
# The operator's phone answering a makeCall sends nothing: the call's call.dial went
# out at once with lgDirection 2, and call.bridge means the far end answered
# (docs/architecture/simulator.md, "makeCall on the live stream").
# ANSWER on a talking call is a no-op, so a hand-driven answer that races the
# scripted one is harmless.
TRANSITIONS: dict[tuple[Phase, Trigger], tuple[Phase, WireEvent | None]] = {
    (Phase.OPERATOR_RINGING, Trigger.OPERATOR_ANSWER): (Phase.RINGING, None),
    (Phase.OPERATOR_RINGING, Trigger.HANGUP): (Phase.ENDED, WireEvent.HANGUP),
    (Phase.RINGING, Trigger.ANSWER): (Phase.TALKING, WireEvent.BRIDGE),
    (Phase.RINGING, Trigger.HANGUP): (Phase.ENDED, WireEvent.HANGUP),
    (Phase.TALKING, Trigger.ANSWER): (Phase.TALKING, None),
    (Phase.TALKING, Trigger.HANGUP): (Phase.ENDED, WireEvent.HANGUP),
}


class InvalidTransition(Exception):
    """The call cannot take that trigger in its phase (e.g. answer an ended call)."""


@dataclass(slots=True)
class User:
    """An employee of the simulated company (phonet-api.md §2.1)."""

    id: int
    ext: str
    display_name: str
    email: str | None
    dnd_code: str | None = None
    paused: bool = False


@dataclass(frozen=True, slots=True)
class Plan:
    """How the other side behaves. ``None`` times wait for the control API."""

    ring_s: float | None = 1.0
    answer: bool = True
    talk_s: float | None = 2.0
    disposition: int | None = None


# The far end of a makeCall without a /_sim/script entry (contracts.md §3 example).
DEFAULT_SCRIPT = Plan(ring_s=2.0, answer=True, talk_s=5.0)


@dataclass(slots=True)
class Call:
    """One call from dial to hangup; ``leg`` is the employee side (phonet-api.md §2.2).

    ``number`` is the external party's number, or for an internal call the other
    extension, whose user is ``leg2``.
    """

    uuid: str
    kind: Kind
    leg: User
    number: str
    plan: Plan
    dial_at: float
    phase: Phase = Phase.RINGING
    phase_at: float = 0.0
    bridge_at: float | None = None
    end_at: float | None = None
    disposition: int | None = None
    leg2: User | None = None
    name: str | None = None
    company: str | None = None
    made_by_api: bool = False  # placed by POST /rest/user/makeCall

    def __post_init__(self) -> None:
        if not self.phase_at:
            self.phase_at = self.dial_at

    @property
    def subscribers(self) -> tuple[str, ...]:
        """The extensions whose live stream carries this call (both legs if internal)."""
        if self.leg2 is None:
            return (self.leg.ext,)
        return (self.leg.ext, self.leg2.ext)

    @property
    def last_event(self) -> WireEvent:
        """The active-calls ``lastEvent`` (phonet-api.md §2.2)."""
        return WireEvent.DIAL if self.bridge_at is None else WireEvent.BRIDGE

    def talk_s(self, now: float) -> int:
        """Whole seconds of talk so far (``billSecs`` once ended, phonet-api.md §2.3)."""
        if self.bridge_at is None:
            return 0
        end = self.end_at if self.end_at is not None else now
        return max(0, round(end - self.bridge_at))

    def duration_s(self) -> int:
        """Whole seconds from dial to hangup, ringing included (phonet-api.md §2.3)."""
        end = self.end_at if self.end_at is not None else self.dial_at
        return max(0, round(end - self.dial_at))


def fire(
    call: Call, trigger: Trigger, now: float, disposition: int | None = None
) -> WireEvent | None:
    """Move ``call`` on by ``trigger`` at ``now``; return the live event to send, if any.

    On hangup the disposition is ``disposition`` when given, else 0 if the call
    was answered and 1 if not (contracts.md §3).
    """
    try:
        phase, event = TRANSITIONS[call.phase, trigger]
    except KeyError:
        raise InvalidTransition(f"a {call.phase} call cannot take {trigger}") from None
    if phase is not call.phase:
        call.phase = phase
        call.phase_at = now
    if event is WireEvent.BRIDGE:
        call.bridge_at = now
    elif event is WireEvent.HANGUP:
        call.end_at = now
        if disposition is None:
            answered = call.bridge_at is not None
            disposition = Disposition.ANSWERED if answered else Disposition.NO_ANSWER
        call.disposition = int(disposition)
    return event


@dataclass(frozen=True, slots=True)
class Step:
    """The next automatic step of a call: ``trigger`` at epoch time ``at``."""

    at: float
    trigger: Trigger
    disposition: int | None = None


def next_step(call: Call, operator_answer_s: float) -> Step | None:
    """When and how the call moves on by itself; None waits for the control API."""
    plan = call.plan
    match call.phase:
        case Phase.OPERATOR_RINGING:
            return Step(call.phase_at + operator_answer_s, Trigger.OPERATOR_ANSWER)
        case Phase.RINGING if plan.ring_s is not None:
            if plan.answer:
                return Step(call.phase_at + plan.ring_s, Trigger.ANSWER)
            return Step(call.phase_at + plan.ring_s, Trigger.HANGUP, _or(plan.disposition, 1))
        case Phase.TALKING if plan.talk_s is not None:
            return Step(call.phase_at + plan.talk_s, Trigger.HANGUP, _or(plan.disposition, 0))
        case _:
            return None


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


def public_state(phase: Phase) -> str:
    """The control API's state names (contracts.md §3): the operator's ring is ringing."""
    return Phase.RINGING.value if phase is Phase.OPERATOR_RINGING else phase.value
