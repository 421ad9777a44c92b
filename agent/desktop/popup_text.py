"""What a call popup says and offers (C3, B6, B13): title, body, buttons, timeout.

Pure: the desktop adapter (popups.py) shows it; the decision is here, testable
without a notification server.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.core.events import Direction
from agent.core.popups import Popup, PopupKind
from agent.desktop.view import clock

MAX_BUTTONS = 5  # Windows toasts take at most five actions
MAX_CONTEXT_LINES = 3


@dataclass(frozen=True, slots=True)
class PopupText:
    title: str
    body: str
    buttons: tuple[tuple[str, str], ...]  # (identifier, title), at most MAX_BUTTONS
    timeout_s: int  # 0: stays until replaced or dismissed


_DIRECTION = {Direction.IN: "incoming", Direction.OUT: "outgoing", Direction.INTERNAL: "internal"}


def missed(popup: Popup) -> bool:
    """An incoming call that ended unanswered (``talk_s`` is set only after an answer)."""
    return (
        popup.kind is PopupKind.HANGUP and popup.direction is Direction.IN and popup.talk_s is None
    )


def popup_text(popup: Popup, *, timeout_s: int) -> PopupText:
    """Title, body and buttons of a call popup (C3: number and direction; B13 context)."""
    who = popup.contact or popup.number
    match popup.kind:
        case PopupKind.DIAL:
            title = f"Calling {who}"
        case PopupKind.RING:
            title = f"Incoming call from {who}"
        case PopupKind.ANSWER:
            title = f"Talking with {who}"
        case PopupKind.HANGUP if missed(popup):
            title = f"Missed call from {who}"
        case PopupKind.HANGUP if popup.talk_s is not None:
            title = f"Call ended · {clock(popup.talk_s)}"
        case PopupKind.HANGUP:
            title = "No answer" if popup.direction is not Direction.IN else "Call ended"
    first = f"{popup.number} ({_DIRECTION.get(popup.direction, str(popup.direction))})"
    lines = [first]
    named = " — ".join(x for x in (popup.contact, popup.company) if x)
    if named:
        lines.append(named)
    lines += list(popup.context[:MAX_CONTEXT_LINES])
    return PopupText(
        title=title,
        body="\n".join(lines),
        buttons=_buttons(popup)[:MAX_BUTTONS],
        timeout_s=0 if popup.kind is PopupKind.RING else timeout_s,
    )


def _buttons(popup: Popup) -> tuple[tuple[str, str], ...]:
    """B6: open contact, create event, hang up, call back (missed)."""
    known = popup.contact is not None
    contact = (("open_contact", "Open contact"),) if known else ()
    match popup.kind:
        case PopupKind.DIAL | PopupKind.RING:
            return (("hangup", "Hang up"), *contact)
        case PopupKind.ANSWER:
            return (("hangup", "Hang up"), ("create_event", "Create event"), *contact)
        case PopupKind.HANGUP if missed(popup):
            return (("call_back", "Call back"), ("create_event", "Create event"), *contact)
        case PopupKind.HANGUP:
            return (("create_event", "Create event"), *contact)
