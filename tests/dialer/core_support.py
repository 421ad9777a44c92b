"""Helpers for driving the pure dialer core with a fake clock (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from agent.core.dial_list import DialEntry, EntryState
from agent.core.dialer import (
    Dialer,
    DialerConfig,
)
from agent.core.dialer_io import (
    CallPlaced,
    DialerEffect,
    DialerInput,
    EntryPicked,
    OperatorStarted,
    PickEntry,
    PlaceCall,
)
from agent.core.retry_rules import RetryRules
from agent.core.settings import DEFAULT_RETRY

T0 = datetime(2024, 5, 6, 10, 0, tzinfo=UTC)  # a Monday, 13:00 in Kyiv


def rules(**changes: Any) -> RetryRules:
    return RetryRules.from_settings(DEFAULT_RETRY, **changes)


def config(**changes: Any) -> DialerConfig:
    values: dict[str, Any] = {"rules": rules(), "pause": timedelta(seconds=10)}
    values.update(changes)
    return DialerConfig(**values)


def entry(entry_id: int = 1, number: str = "+380501234567", **changes: Any) -> DialEntry:
    values: dict[str, Any] = {
        "id": entry_id,
        "list_id": 7,
        "position": entry_id,
        "number": number,
        "next_dial_at": T0 - timedelta(minutes=1),
        "state": EntryState.PENDING,
    }
    values.update(changes)
    return DialEntry(**values)


@dataclass
class Drive:
    """A dialer and a clock; ``feed`` and ``tick`` keep every effect for asserting."""

    dialer: Dialer
    now: datetime = T0
    effects: list[DialerEffect] = field(default_factory=list)

    @classmethod
    def make(cls, **changes: Any) -> Drive:
        return cls(Dialer(config(**changes)))

    def feed(self, event: DialerInput) -> list[DialerEffect]:
        out = self.dialer.feed(event, self.now)
        self.effects += out
        return out

    def tick(self, seconds: float) -> list[DialerEffect]:
        """Move the clock on; wake the dialer at each deadline on the way."""
        end = self.now + timedelta(seconds=seconds)
        out: list[DialerEffect] = []
        while True:
            due = self.dialer.next_wakeup()
            if due is None or due > end:
                break
            self.now = max(self.now, due)
            out += self.dialer.wake(self.now)
        self.now = end
        self.effects += out
        return out

    @property
    def state(self) -> str:
        return str(self.dialer.state)

    def start_and_place(self, picked: DialEntry, uuid: str = "a" * 32) -> None:
        """Start, pick ``picked``, and have makeCall answer with ``uuid``."""
        effects = self.feed(OperatorStarted(7))
        assert any(isinstance(e, PickEntry) for e in effects), effects
        effects = self.feed(EntryPicked(picked))
        assert [e for e in effects if isinstance(e, PlaceCall)] == [PlaceCall(picked)]
        self.feed(CallPlaced(attempt_id=11, uuid=uuid, started_at=self.now))


def kinds(effects: list[DialerEffect]) -> list[str]:
    return [type(e).__name__ for e in effects]
