"""The journal's view of a call, and how what we learn about it is merged (M3, B2, B4).

A call is written when the agent first sees it (so a crash mid-call loses nothing),
updated as it moves, and completed from the PBX history after the hang-up: the live
``call.hangup`` carries no duration or outcome (phonet-api.md §3.1), only
``company.api`` does (§2.3), and there is no by-uuid lookup.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from agent.core.events import CallInfo, Direction, HistoryRecord
from agent.core.outcomes import Outcome, outcome_of


class Source(StrEnum):
    """How a journal row got here (contracts.md §4)."""

    LIVE = "live"
    RECONCILED = "reconciled"  # B4: filled from history after the live link was lost
    IMPORT = "import"  # J1: a call no agent recorded


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One row of the journal. ``end_at`` is None while the call is in progress.

    ``final`` is True once the PBX history record was merged: duration, talk
    seconds, disposition and recording then come from the PBX, not our clock.
    """

    uuid: str
    direction: Direction
    number: str
    operator_ext: str
    dial_at: datetime
    source: Source
    answer_at: datetime | None = None
    end_at: datetime | None = None
    talk_s: int = 0
    duration_s: int | None = None
    disposition: int | None = None
    outcome: Outcome | None = None
    recording_url: str | None = None
    contact_id: int | None = None
    contact_name: str | None = None
    parent_uuid: str | None = None
    trunk: str | None = None
    final: bool = False


def entry_from_live(call: CallInfo) -> JournalEntry:
    """The row written when the agent first sees a call on the live stream."""
    return JournalEntry(
        uuid=call.uuid,
        direction=call.direction,
        number=call.number,
        operator_ext=call.ext,
        dial_at=call.dial_at,
        answer_at=call.answer_at,
        source=Source.LIVE,
        contact_name=call.name,
        parent_uuid=call.parent_uuid,
        trunk=call.trunk,
    )


def with_live_hangup(entry: JournalEntry, at: datetime, completed_talk_s: int) -> JournalEntry:
    """Our own estimate at hang-up, kept until (or unless) history says better.

    Without a history record the outcome is "answered" when we saw an answer and
    "no_answer" otherwise (features.md, Defaults: outcome wait after hang-up).
    """
    if entry.final:
        return entry
    talk_s = int((at - entry.answer_at).total_seconds()) if entry.answer_at else 0
    disposition = 0 if entry.answer_at else 1
    return replace(
        entry,
        end_at=at,
        talk_s=max(talk_s, 0),
        duration_s=max(int((at - entry.dial_at).total_seconds()), 0),
        disposition=disposition,
        outcome=outcome_of(disposition, talk_s, completed_talk_s),
    )


def merge_history(
    entry: JournalEntry | None,
    record: HistoryRecord,
    *,
    own_ext: str,
    source: Source,
    completed_talk_s: int,
) -> JournalEntry:
    """The row after the PBX's history record for the call is known.

    History wins for every figure it carries; what only the live stream knew
    (the exact answer time, the contact we matched) is kept.
    """
    number, operator_ext = _parties(record, own_ext)
    dial_at = record.end_at - timedelta(seconds=record.duration_s)
    answered = record.talk_s > 0 or record.disposition == 0
    answer_at = record.end_at - timedelta(seconds=record.talk_s) if answered else None
    fields = {
        "end_at": record.end_at,
        "talk_s": record.talk_s,
        "duration_s": record.duration_s,
        "disposition": record.disposition,
        "outcome": outcome_of(record.disposition, record.talk_s, completed_talk_s),
        "recording_url": record.audio_url,
        "final": True,
    }
    if entry is None:
        return JournalEntry(
            uuid=record.uuid,
            direction=record.direction,
            number=number,
            operator_ext=operator_ext,
            dial_at=dial_at,
            answer_at=answer_at,
            source=source,
            contact_name=record.name,
            parent_uuid=record.parent_uuid,
            trunk=record.trunk,
            **fields,  # type: ignore[arg-type]
        )
    return replace(
        entry,
        answer_at=entry.answer_at or answer_at,
        parent_uuid=entry.parent_uuid or record.parent_uuid,
        **fields,  # type: ignore[arg-type]
    )


def _parties(record: HistoryRecord, own_ext: str) -> tuple[str, str]:
    """(the other party's number, our extension) of a history record."""
    if record.direction is Direction.INTERNAL:
        if record.ext2 == own_ext:
            return record.ext or "", own_ext
        return record.ext2 or "", record.ext or own_ext
    return record.number or "", record.ext or own_ext
