"""The outcome of a finished call, from the PBX disposition (B2, B17; phonet-api.md §2.9)."""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    CONGESTED = "congested"
    FAILED = "failed"
    NOT_REACHED = "not_reached"  # B17: answered, but not longer than G4


# phonet-api.md §2.9: 0 TARGET_RESPONDED, 1 TARGET_NOT_RESPONDED,
# 2 DIRECTION_OVERLOADED, 3 INTERNAL_ERROR, 4 TARGET_IS_BUSY.
_BY_DISPOSITION = {
    0: Outcome.ANSWERED,
    1: Outcome.NO_ANSWER,
    2: Outcome.CONGESTED,
    3: Outcome.FAILED,
    4: Outcome.BUSY,
}


def outcome_of(disposition: int, talk_s: int, completed_talk_s: int) -> Outcome:
    """What happened to a call, as the journal and the retry rules see it.

    An unknown disposition counts as failed: the PBX said something went wrong.
    An answer counts as completed only when the talk **exceeded** G4 (manual §1.1:
    «больше которого»); otherwise the call was not reached (B17).
    """
    outcome = _BY_DISPOSITION.get(disposition, Outcome.FAILED)
    if outcome is Outcome.ANSWERED and talk_s <= completed_talk_s:
        return Outcome.NOT_REACHED
    return outcome


def is_missed(direction_in: bool, outcome: Outcome) -> bool:
    """Integrators treat any disposition other than 0 on an incoming call as missed."""
    return direction_in and outcome not in (Outcome.ANSWERED, Outcome.NOT_REACHED)
