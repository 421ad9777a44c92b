"""Missed calls as the journal holds them, team claims on them, and the callback queue's
postponed numbers (M7, B10, B11; the ``calls`` table and migration 0020's claims).

Synchronous, on the storage worker, like every repository.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agent.core.dial_list import DialEntry
from agent.core.errors import StorageError
from agent.storage.dialer_repository import (
    ENTRY_COLUMNS,
    SqlRepository,
    chunks,
    entry_from_row,
    marks,
    utc,
)
from agent.storage.models import utc_text
from agent.storage.schema import write_transaction


@dataclass(frozen=True, slots=True)
class Claim:
    number: str
    claimed_by: str
    claimed_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class MissedRow:
    uuid: str
    number: str
    operator_ext: str
    dial_at: datetime
    end_at: datetime
    outcome: str | None
    contact_id: int | None
    contact_name: str | None


_CLAIM_TRIES = 3


class MissedRepository(SqlRepository):
    # ------------------------------------------------------------ missed calls (B10)

    def missed(
        self, operator_ext: str | None, limit: int, offset: int, since: datetime | None
    ) -> list[MissedRow]:
        """Incoming calls nobody answered, newest first (M7)."""
        where = [
            "direction = 'in'",
            "end_at IS NOT NULL",
            "outcome IN ('no_answer', 'busy', 'congested', 'failed')",
        ]
        params: list[Any] = []
        if operator_ext is not None:
            where.append("operator_ext = ?")
            params.append(operator_ext)
        if since is not None:
            where.append("end_at >= ?")
            params.append(utc_text(since))
        rows = self.rows(
            "SELECT uuid, number, operator_ext, dial_at, end_at, outcome, contact_id, contact_name "
            f"FROM calls WHERE {' AND '.join(where)} ORDER BY end_at DESC, uuid DESC "
            "LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [
            MissedRow(
                r[0],
                r[1],
                r[2],
                utc(r[3]),
                utc(r[4]),
                r[5],
                None if r[6] is None else int(r[6]),
                r[7],
            )
            for r in rows
        ]

    def latest_contact(self, numbers: Iterable[str]) -> dict[str, datetime]:
        """B10: each number's latest call that handles a missed one: an outgoing call
        to it, or an incoming one that was answered (by anyone in the team)."""
        wanted = sorted(set(numbers))
        found: dict[str, datetime] = {}
        for part in chunks(wanted):
            for number, latest in self.rows(
                "SELECT number, MAX(dial_at) FROM calls "
                f"WHERE number IN ({marks(len(part))}) AND (direction = 'out' OR "
                "(direction = 'in' AND outcome IN ('answered', 'not_reached'))) GROUP BY number",
                part,
            ):
                found[number] = utc(latest)
        return found

    # ------------------------------------------------------------ claims (B10)

    def claim(self, number: str, ext: str, now: datetime, expires_at: datetime) -> Claim:
        """Claim a number for a call-back. Returns the claim that holds after it: the
        caller's, or a teammate's that has not expired yet.

        One conditional upsert (B10): the row is written only when there is none, when
        it is the caller's own, or when it has expired; a teammate's live claim is left
        as it is and no row is touched. Read-then-write would let two operators sharing
        a PostgreSQL database both win a number nobody had claimed.
        """
        for _ in range(_CLAIM_TRIES):
            with write_transaction(self.db):
                written = self.execute(
                    "INSERT INTO missed_claims (number, claimed_by, claimed_at, expires_at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (number) DO UPDATE SET "
                    "claimed_by = excluded.claimed_by, claimed_at = excluded.claimed_at, "
                    "expires_at = excluded.expires_at "
                    "WHERE missed_claims.claimed_by = excluded.claimed_by "
                    "OR missed_claims.expires_at <= ?",
                    (number, ext, utc_text(now), utc_text(expires_at), utc_text(now)),
                )
                if written == 1:
                    return Claim(number, ext, now, expires_at)
                held = self.claims_for([number], now).get(number)
            if held is not None:
                return held
            # The teammate's claim was released between the two statements: try again.
        raise StorageError(f"the claim on {number} kept changing; try again")

    def release(self, number: str, ext: str) -> bool:
        return (
            self.execute(
                "DELETE FROM missed_claims WHERE number = ? AND claimed_by = ?", (number, ext)
            )
            > 0
        )

    def claims_for(
        self, numbers: Iterable[str], now: datetime, *, lock: bool = False
    ) -> dict[str, Claim]:
        """The claims on these numbers that have not expired."""
        wanted = sorted(set(numbers))
        found: dict[str, Claim] = {}
        tail = self.lock() if lock else ""
        for part in chunks(wanted):
            for number, by, at, until in self.rows(
                "SELECT number, claimed_by, claimed_at, expires_at FROM missed_claims "
                f"WHERE number IN ({marks(len(part))}) AND expires_at > ?{tail}",
                (*part, utc_text(now)),
            ):
                found[number] = Claim(number, by, utc(at), utc(until))
        return found

    # ------------------------------------------------------------ the callback queue (B11)

    def postponed(self, owner_ext: str, limit: int) -> list[DialEntry]:
        """Postponed entries of the operator's lists, soonest first."""
        return [
            entry_from_row(r)
            for r in self.rows(
                f"SELECT {ENTRY_COLUMNS} FROM dial_entries e "
                "JOIN dial_lists l ON l.id = e.list_id "
                "WHERE l.owner_ext = ? AND e.state = 'postponed' ORDER BY e.next_dial_at LIMIT ?",
                (owner_ext, limit),
            )
        ]
