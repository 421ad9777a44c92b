"""What a status popup says (C3, B13): one popup per call, replaced as the call moves.

The content is decided here; how it is shown (D-Bus, toast, console line) is the
adapters' business. ``console_line`` is the headless form of contracts.md §2.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from agent.core.events import Direction
from agent.core.lines import Line, Step


@dataclass(frozen=True, slots=True)
class CallContext:
    """What our own data says about the other party (B13, B14), found by number.

    ``details`` are ready-worded lines for the popup and the call info: company,
    last contact and its result, last note, the nearest planned event, a hint for
    an unknown number. The lookup that builds it lives outside the core.
    """

    contact_id: int | None = None
    name: str | None = None
    company: str | None = None
    details: tuple[str, ...] = ()


class PopupKind(StrEnum):
    DIAL = "dial"  # the operator's side started the call
    RING = "ring"  # the phone rings
    ANSWER = "answer"
    HANGUP = "hangup"


@dataclass(frozen=True, slots=True)
class Popup:
    """One status popup. ``call_uuid`` is its identity: a newer popup replaces it."""

    call_uuid: str
    kind: PopupKind
    direction: Direction
    number: str
    contact: str | None = None
    talk_s: int | None = None  # on hang-up, only when the call was answered (C3)
    company: str | None = None
    context: tuple[str, ...] = field(default=())  # B13 lines: last contact, next event…
    urgent: bool = False  # a ring wants attention; DND silences these (B12)


def popup_for(line: Line, step: Step, *, talk_s: int | None = None) -> Popup | None:
    """The popup an operator sees for a line's step, or None for no news."""
    kind = _kind_of(line, step)
    if kind is None:
        return None
    known = line.context or CallContext()
    return Popup(
        call_uuid=line.call.uuid,
        kind=kind,
        direction=line.call.direction,
        number=line.call.number,
        contact=known.name or line.call.name,
        talk_s=talk_s if kind is PopupKind.HANGUP and line.answered_at else None,
        company=known.company or line.call.company,
        context=known.details,
        urgent=kind is PopupKind.RING,
    )


def _kind_of(line: Line, step: Step) -> PopupKind | None:
    match step:
        case Step.STARTED:
            return PopupKind.DIAL if line.call.outgoing else PopupKind.RING
        case Step.ANSWERED:
            return PopupKind.ANSWER
        case Step.ENDED:
            return PopupKind.HANGUP
        case Step.NOTHING:
            return None


def console_line(popup: Popup) -> str:
    """``popup <kind> <direction> <number>[ "<contact>"][ talk=<s>s]`` (contracts.md §2)."""
    text = f"popup {popup.kind} {popup.direction} {popup.number}"
    if popup.contact:
        text += f' "{popup.contact}"'
    if popup.talk_s is not None:
        text += f" talk={popup.talk_s}s"
    return text
