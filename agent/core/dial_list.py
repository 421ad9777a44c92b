"""The dial list (M6): what an entry is, and the order the dialer takes entries in.

Order (manual §6, U6, A4):

- **smart mode** (A4: «приоритетнее тот абонент, чья дата звонка раньше и кол-во
  попыток которого меньше остальных»): the earliest next-dial time first, then the
  fewest attempts, then the extra sort field (U6) in its direction, then the list's
  own order;
- **plain mode**: the extra sort field (when set), then the list's own order.

In both modes only entries that are *due* (next dial at or before now), *pickable*
(pending or postponed) and inside their calling window (B3) are taken.

:func:`pick` is the reference: the storage answers the same question with one
indexed query per time zone (agent/storage/dialer_repository.py), and a property
test holds the two equal. Sort keys are strings already turned for the direction
(:func:`sort_key`), so one ascending index serves both directions.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum


class EntryState(StrEnum):
    """contracts.md §4, dial-list entry ``state``."""

    PENDING = "pending"  # not tried yet
    CALLING = "calling"  # an attempt is under way (written before makeCall)
    POSTPONED = "postponed"  # tried; waits for its next dial time (U6)
    DONE = "done"  # completed, or another number of its contact was (U6)
    EXHAUSTED = "exhausted"  # the retry limit was reached (U6, parked)
    SKIPPED = "skipped"  # the operator skipped it
    DNC = "dnc"  # on the do-not-call list (B3): never dialled
    OUTSIDE_HOURS = "outside_hours"  # shown only: due, but its calling window is shut (B3)


PICKABLE: frozenset[EntryState] = frozenset({EntryState.PENDING, EntryState.POSTPONED})
STORED_STATES: frozenset[EntryState] = frozenset(EntryState) - {EntryState.OUTSIDE_HOURS}


@dataclass(frozen=True, slots=True)
class Tries:
    """Attempts so far by outcome class, each held against its own retry limit (U6, B2)."""

    no_answer: int = 0
    busy: int = 0
    failed: int = 0


@dataclass(frozen=True, slots=True)
class DialEntry:
    """One row of a dial list. ``zone`` is the number's IANA zone ('' = the team's)."""

    id: int
    list_id: int
    position: int
    number: str
    next_dial_at: datetime
    state: EntryState = EntryState.PENDING
    attempts: int = 0
    tries: Tries = Tries()
    contact_id: int | None = None
    contact_name: str | None = None
    detail: str | None = None
    planned_event: str | None = None
    sort_value: str | None = None
    sort_key: str = ""
    zone: str = ""
    last_outcome: str | None = None
    last_attempt_at: datetime | None = None

    @property
    def pickable(self) -> bool:
        return self.state in PICKABLE


# ------------------------------------------------------------------ sort keys

# Keys are lower-case hex, so byte order, PostgreSQL's "C" collation and Python agree.
_NUMBER, _TEXT = "0", "1"
_DESC_END = "x"  # after every hex digit: a shorter value sorts after its extensions
_MISSING = "z"  # after every other key, in both directions


def sort_key(value: object, descending: bool = False) -> str:
    """An order-preserving string for a sort-field value (U6), turned for the direction.

    Numbers sort before text, numerically; text case-insensitively; dates as
    their ISO text; a missing value last in either direction.
    """
    raw = _ascending_bytes(value)
    if raw is None:
        return _MISSING
    if not descending:
        return raw.hex()
    return bytes(255 - b for b in raw).hex() + _DESC_END


def _ascending_bytes(value: object) -> bytes | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int | float | Decimal):
        number = float(value)
        if math.isnan(number):
            return None
        return b"\x00" + _float_bytes(number)
    if isinstance(value, datetime | date):
        return b"\x01" + value.isoformat().encode()
    text = str(value).strip()
    parsed = _number_of(text)
    if parsed is not None:
        return b"\x00" + _float_bytes(parsed)
    return b"\x01" + text.casefold().encode()


def _number_of(text: str) -> float | None:
    try:
        number = float(text.replace(" ", "").replace(",", "."))
    except ValueError:
        return None
    return None if math.isnan(number) or math.isinf(number) else number


def _float_bytes(number: float) -> bytes:
    """IEEE 754 bits turned so that unsigned byte order is numeric order."""
    (bits,) = struct.unpack(">Q", struct.pack(">d", number + 0.0))  # -0.0 -> 0.0
    bits = bits ^ 0xFFFF_FFFF_FFFF_FFFF if bits >> 63 else bits | 1 << 63
    return struct.pack(">Q", bits)


# ------------------------------------------------------------------ order


def order_key(entry: DialEntry, smart: bool) -> tuple[object, ...]:
    """The dialer's order among due entries (module docstring)."""
    if smart:
        return (entry.next_dial_at, entry.attempts, entry.sort_key, entry.position)
    return (entry.sort_key, entry.position)


def pick(
    entries: Iterable[DialEntry],
    now: datetime,
    *,
    smart: bool,
    open_zones: Iterable[str] | None = None,
    blocked: Iterable[str] = (),
) -> DialEntry | None:
    """The entry to dial next, or None: due, pickable, in an open zone, not blocked (DNC)."""
    zones = None if open_zones is None else set(open_zones)
    stop = set(blocked)
    due = [
        e
        for e in entries
        if e.pickable
        and e.next_dial_at <= now
        and (zones is None or e.zone in zones)
        and e.number not in stop
    ]
    return min(due, key=lambda e: order_key(e, smart), default=None)


# ------------------------------------------------------------------ ABC


ABC_RANK = {"A": 0, "B": 1, "C": 2}


def abc_order(
    entries: Sequence[DialEntry], classes: Mapping[int, str], *, descending: bool
) -> list[int]:
    """Entry ids re-ordered by their contact's ABC class (M6 «АВС-классификация»).

    Ascending is A, B, C; descending C, B, A. Entries without a class keep their
    relative order after the classified ones, in either direction; the sort is
    stable, so the list's order breaks ties.
    """

    def rank(entry: DialEntry) -> tuple[int, int]:
        cls = classes.get(entry.contact_id) if entry.contact_id is not None else None
        value = ABC_RANK.get((cls or "").upper())
        if value is None:
            return (1, 0)
        return (0, -value if descending else value)

    ordered = sorted(entries, key=lambda e: (rank(e), e.position))
    return [e.id for e in ordered]


# ------------------------------------------------------------------ the view


@dataclass(frozen=True, slots=True)
class ShownState:
    state: EntryState
    reason: str | None = None


def shown_state(
    entry: DialEntry,
    now: datetime,
    *,
    window_open: bool,
    opens_at: datetime | None,
    window_text: str,
    on_dnc: bool,
) -> ShownState:
    """What the list shows for an entry: its stored state, or why it waits (B3)."""
    if entry.state is EntryState.DNC or (entry.pickable and on_dnc):
        return ShownState(EntryState.DNC, "on the do-not-call list")
    if entry.pickable and entry.next_dial_at <= now and not window_open:
        when = f"; opens {opens_at.isoformat()}" if opens_at is not None else ""
        return ShownState(EntryState.OUTSIDE_HOURS, f"outside calling hours {window_text}{when}")
    return ShownState(entry.state)
