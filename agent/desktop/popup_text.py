"""What a call popup says and offers (C3, B6, B13): title, body, buttons, timeout.

Pure: the desktop adapter (popups.py) shows it; the decision is here, testable
without a notification server.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agent.core.events import Direction
from agent.core.popups import Popup, PopupKind
from agent.desktop.view import clock
from agent.i18n import Translator

MAX_BUTTONS = 5  # Windows toasts take at most five actions
MAX_CONTEXT_LINES = 3


@dataclass(frozen=True, slots=True)
class PopupText:
    title: str
    body: str
    buttons: tuple[tuple[str, str], ...]  # (identifier, title), at most MAX_BUTTONS
    timeout_s: int  # 0: stays until replaced or dismissed


def missed(popup: Popup) -> bool:
    """An incoming call that ended unanswered (``talk_s`` is set only after an answer)."""
    return (
        popup.kind is PopupKind.HANGUP and popup.direction is Direction.IN and popup.talk_s is None
    )


def popup_text(popup: Popup, *, timeout_s: int, t: Translator | None = None) -> PopupText:
    """Title, body and buttons of a call popup (C3: number and direction; B13 context),
    in ``t``'s language (B7; English by default)."""
    t = t or Translator("en")
    who = popup.contact or popup.number
    match popup.kind:
        case PopupKind.DIAL:
            title = t("popup.title.dial", who=who)
        case PopupKind.RING:
            title = t("popup.title.ring", who=who)
        case PopupKind.ANSWER:
            title = t("popup.title.answer", who=who)
        case PopupKind.HANGUP if missed(popup):
            title = t("popup.title.missed", who=who)
        case PopupKind.HANGUP if popup.talk_s is not None:
            title = t("popup.title.ended_talk", talk=clock(popup.talk_s))
        case PopupKind.HANGUP:
            title = t(
                "popup.title.no_answer" if popup.direction is not Direction.IN else "popup.hangup"
            )
    direction = t(f"popup.direction.{popup.direction}")
    lines = [f"{popup.number} ({direction})"]
    named = " — ".join(x for x in (popup.contact, popup.company) if x)
    if named:
        lines.append(named)
    lines += list(popup.context[:MAX_CONTEXT_LINES])
    return PopupText(
        title=title,
        body="\n".join(lines),
        buttons=tuple((bid, t(f"popup.action.{bid}")) for bid in _buttons(popup))[:MAX_BUTTONS],
        timeout_s=0 if popup.kind is PopupKind.RING else timeout_s,
    )


def _buttons(popup: Popup) -> tuple[str, ...]:
    """B6: open contact, create event, hang up, call back (missed); their titles are
    ``popup.action.<id>`` in agent/i18n."""
    known = popup.contact is not None
    contact = ("open_contact",) if known else ()
    match popup.kind:
        case PopupKind.DIAL | PopupKind.RING:
            return ("hangup", *contact)
        case PopupKind.ANSWER:
            return ("hangup", "create_event", *contact)
        case PopupKind.HANGUP if missed(popup):
            return ("call_back", "create_event", *contact)
        case PopupKind.HANGUP:
            return ("create_event", *contact)


def job_result_text(job: str, run: Mapping[str, Any], t: Translator) -> str:
    """What a finished "Run now" says (issue 6): the run's counts, or why it did not
    finish. ``run`` is the ``job`` live message (agent/jobs/runner.py ``_announce``)."""
    counts = run.get("counts") or {}
    state = run.get("state")
    if state == "ok" and job == "robot":
        skipped = sum(
            int(counts.get(k) or 0) for k in ("skipped_unmapped", "skipped_repeated", "invalid")
        )
        return t(
            "popup.job.robot_ok",
            rows=counts.get("rows", 0),
            events=counts.get("events", 0),
            skipped=skipped,
        )
    if state == "ok":
        return t(
            "popup.job.history_ok",
            records=counts.get("records", 0),
            imported=counts.get("imported", 0),
            events=counts.get("events", 0),
        )
    if state == "failed":
        return t("popup.job.failed", error=str(run.get("error") or "?"))
    return t("popup.job.stopped")
