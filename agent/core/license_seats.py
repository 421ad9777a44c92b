"""Seats, pure (U10, B5; issue 8 item 4): what the installed key allows now, and whether
one more agent may connect with others connected now. ``now`` and who is connected are
arguments; the key itself is judged by :mod:`agent.core.license`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Final

from agent.core.license import Fault, LicenseTerms, Rejection, licences


class LicenseState(StrEnum):
    UNLICENSED = "unlicensed"  # no key: one seat (contracts.md §2)
    LICENSED = "licensed"
    EXPIRED = "expired"  # the installed key expired: one seat again
    INVALID = "invalid"  # the installed key no longer holds here: one seat


UNLICENSED_SEATS: Final = 1


@dataclass(frozen=True, slots=True)
class Standing:
    """The licence of a database as it stands now: its state, the seats it allows, and
    the sentence that says so."""

    state: LicenseState
    count: int
    message: str
    terms: LicenseTerms | None = None

    @property
    def required(self) -> bool:
        """Whether the first-run licence form should open (L1)."""
        return self.state is not LicenseState.LICENSED


def standing(installed: LicenseTerms | Rejection | None) -> Standing:
    """What the installed key (judged by :func:`verify_key`, or None) allows."""
    if installed is None:
        return Standing(
            LicenseState.UNLICENSED,
            UNLICENSED_SEATS,
            "no licence key is installed: running as one seat",
        )
    if isinstance(installed, LicenseTerms):
        until = f" until {installed.expires_on.isoformat()}" if installed.expires_on else ""
        return Standing(
            LicenseState.LICENSED,
            installed.count,
            f"licensed for {licences(installed.count)}{until}",
            installed,
        )
    state = LicenseState.EXPIRED if installed.fault is Fault.EXPIRED else LicenseState.INVALID
    return Standing(
        state,
        UNLICENSED_SEATS,
        f"the installed licence key is not valid ({installed.message}): running as one seat",
        installed.terms,
    )


@dataclass(frozen=True, slots=True)
class SeatHolder:
    """An operator whose agent holds a seat now (a fresh team-mode heartbeat).

    Seats are per operator (domain + extension): one operator on two machines holds
    one seat (features.md B5, U10).
    """

    agent_id: str
    ext: str = ""
    name: str = ""
    host: str = ""
    since: datetime | None = None
    domain: str = ""

    @property
    def label(self) -> str:
        who = " ".join(part for part in (self.ext, self.name) if part) or self.agent_id
        return f"{who} on {self.host}" if self.host else who

    @property
    def operator(self) -> tuple[str, str]:
        """Who holds the seat: (domain, extension), else the agent alone."""
        if self.ext:
            return (self.domain.strip().lower(), self.ext.strip())
        return ("", self.agent_id)

    def same_operator(self, other: SeatHolder) -> bool:
        if not (self.ext and other.ext):
            return self.operator == other.operator
        domains = {self.domain.strip().lower(), other.domain.strip().lower()}
        # A holder without a domain (an old heartbeat) matches on the extension alone.
        return self.ext.strip() == other.ext.strip() and (len(domains) == 1 or "" in domains)


@dataclass(frozen=True, slots=True)
class SeatVerdict:
    admitted: bool
    count: int
    held_by: tuple[SeatHolder, ...] = field(default=())
    message: str = ""


def distinct_operators(holders: Sequence[SeatHolder]) -> tuple[SeatHolder, ...]:
    """One holder per operator, the first seen kept."""
    kept: list[SeatHolder] = []
    for holder in holders:
        if not any(holder.same_operator(k) for k in kept):
            kept.append(holder)
    return tuple(kept)


def seat_verdict(
    current: Standing,
    others: Sequence[SeatHolder],
    me: SeatHolder | None = None,
    *,
    holding: bool = False,
) -> SeatVerdict:
    """May one more agent connect, with ``others`` connected now (U10)?

    ``others`` excludes the asking agent; ``me`` names its operator, who may already
    hold a seat from another machine (then no second seat is needed). An agent whose
    heartbeat went stale has already left ``others``, which frees its seat.
    ``holding``: the asking agent still holds the seat it was given (its own heartbeat
    is fresh and connected): it keeps it, even under a count lowered since (a lower
    count refuses newcomers; nobody connected is cut off). An agent that released its
    seat (Disconnect) or lost it (its heartbeat went stale) is a newcomer again.
    """
    held = distinct_operators(others)
    if holding:
        return SeatVerdict(True, current.count, held, "this agent holds its seat")
    if me is not None and any(holder.same_operator(me) for holder in held):
        return SeatVerdict(True, current.count, held, "this operator already holds a seat")
    if len(held) < current.count:
        return SeatVerdict(True, current.count, held)
    names = ", ".join(holder.label for holder in held)
    if current.state is LicenseState.LICENSED:
        why = (
            "the one licence is in use"
            if current.count == 1
            else f"all {licences(current.count)} are in use"
        )
    else:
        why = f"{current.message}, and that seat is in use"
    return SeatVerdict(
        False,
        current.count,
        held,
        f"{why}, by {names}. A seat is freed when one of them disconnects (or stops "
        "answering for a while); or install a key with more licences",
    )
