"""What a finished auto-dial call does to its dial-list entry (U6, A6, B2, B17).

- **Completed** (answered and talked longer than G4): the entry is done, and so is
  every other number of its contact in the list — or they are all removed
  (``operator.on_complete``, U6 «Удалять контакты выполненных»).
- **Not completed**: classed as no answer (also an answer not longer than G4, B17),
  busy, or failed (congested, internal error), each with its own postpone and retry
  limit (``operator.retry``, B2: busy is known from the PBX history). The next dial is
  the last try plus the postpone; past the limit the entry is exhausted (parked, so
  the list still shows it) or removed (``operator.on_exhausted``).

``retries`` counts repeats after the first dial (manual: «Количество повторов»):
``retries: 3`` dials a number at most four times for one class of outcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from agent.core.dial_list import EntryState, Tries
from agent.core.outcomes import Outcome


class OutcomeClass(StrEnum):
    COMPLETED = "completed"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"


_CLASS = {
    Outcome.ANSWERED: OutcomeClass.COMPLETED,
    Outcome.NOT_REACHED: OutcomeClass.NO_ANSWER,  # B17
    Outcome.NO_ANSWER: OutcomeClass.NO_ANSWER,
    Outcome.BUSY: OutcomeClass.BUSY,
    Outcome.CONGESTED: OutcomeClass.FAILED,
    Outcome.FAILED: OutcomeClass.FAILED,
}


def class_of(outcome: Outcome) -> OutcomeClass:
    return _CLASS[outcome]


@dataclass(frozen=True, slots=True)
class RetryRule:
    postpone: timedelta
    retries: int


@dataclass(frozen=True, slots=True)
class RetryRules:
    no_answer: RetryRule
    busy: RetryRule
    failed: RetryRule
    on_complete: Literal["done", "remove"] = "done"
    on_exhausted: Literal["park", "remove"] = "park"

    @classmethod
    def from_settings(
        cls,
        retry: Mapping[str, Any],
        on_complete: Literal["done", "remove"] = "done",
        on_exhausted: Literal["park", "remove"] = "park",
    ) -> RetryRules:
        """From ``operator.retry`` as agent/core/settings.py checked it."""

        def rule(kind: str) -> RetryRule:
            raw = retry[kind]
            return RetryRule(timedelta(minutes=float(raw["postpone_min"])), int(raw["retries"]))

        return cls(rule("no_answer"), rule("busy"), rule("failed"), on_complete, on_exhausted)

    def rule_for(self, outcome_class: OutcomeClass) -> RetryRule:
        match outcome_class:
            case OutcomeClass.NO_ANSWER:
                return self.no_answer
            case OutcomeClass.BUSY:
                return self.busy
            case OutcomeClass.FAILED:
                return self.failed
            case OutcomeClass.COMPLETED:
                raise ValueError("a completed call is not retried")


@dataclass(frozen=True, slots=True)
class Decision:
    """The entry after the call. ``remove``: delete it; ``whole_contact``: apply the
    same state (or removal) to the contact's other pickable numbers in the list."""

    state: EntryState
    next_dial_at: datetime | None
    tries: Tries
    remove: bool = False
    whole_contact: bool = False


def decide(rules: RetryRules, outcome: Outcome, tries: Tries, tried_at: datetime) -> Decision:
    """The retry rule for one finished attempt dialled at ``tried_at``.

    ``tries`` are the entry's counts before this attempt.
    """
    outcome_class = class_of(outcome)
    if outcome_class is OutcomeClass.COMPLETED:
        return Decision(
            EntryState.DONE,
            None,
            tries,
            remove=rules.on_complete == "remove",
            whole_contact=True,
        )
    rule = rules.rule_for(outcome_class)
    field = outcome_class.value
    count = getattr(tries, field) + 1
    after = replace(tries, **{field: count})
    if count > rule.retries:
        return Decision(EntryState.EXHAUSTED, None, after, remove=rules.on_exhausted == "remove")
    return Decision(EntryState.POSTPONED, tried_at + rule.postpone, after)
