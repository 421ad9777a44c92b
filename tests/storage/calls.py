"""Journal entries for storage tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agent.core.events import Direction
from agent.core.journal import JournalEntry, Source
from agent.core.outcomes import Outcome

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def uuid_of(i: int) -> str:
    return f"{i:032x}"


def finished(
    i: int,
    *,
    end_at: datetime | None = None,
    ext: str = "001",
    number: str | None = None,
    source: Source = Source.LIVE,
) -> JournalEntry:
    """Call ``i``: ended ``i`` minutes after T0 unless told, answered, 30 s of talk."""
    end = end_at or T0 + timedelta(minutes=i)
    return JournalEntry(
        uuid=uuid_of(i),
        direction=Direction.OUT if i % 2 else Direction.IN,
        number=number or f"+38050{i % 10_000_000:07d}",
        operator_ext=ext,
        dial_at=end - timedelta(seconds=45),
        answer_at=end - timedelta(seconds=30),
        end_at=end,
        talk_s=30,
        duration_s=45,
        disposition=0,
        outcome=Outcome.ANSWERED,
        source=source,
        final=True,
    )


def open_call(i: int, *, ext: str = "001", dial_at: datetime | None = None) -> JournalEntry:
    """Call ``i``, still ringing (no end)."""
    return JournalEntry(
        uuid=uuid_of(i),
        direction=Direction.IN,
        number=f"+38067{i:07d}",
        operator_ext=ext,
        dial_at=dial_at or T0 + timedelta(minutes=i),
        source=Source.LIVE,
    )
