"""Missed calls (M7), handled by themselves (B10), team claims (B10), and the one
callback queue (B11).

A missed call is an incoming call nobody answered (``is_missed``: any disposition
other than "responded"). It is **handled** once the journal holds a later call
with its number that is outgoing (somebody called back) or incoming and answered
(B10) — by any operator sharing the database, so nothing is stored for it.

A **claim** ("I'm calling back") marks a number as an operator's for
``team.missed_claim_min`` minutes, so a teammate sharing the database does not call
it too. Claims are by number: every missed call of that number is covered.

The **callback queue** merges unhandled missed calls, postponed dial-list numbers
and robot answers (planned events from J2), soonest due first, one row per number.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from agent.core.errors import InvalidInput
from agent.core.events import Direction
from agent.core.numbers import to_e164
from agent.core.outcomes import is_missed, outcome_of
from agent.dialer.lists import Candidate, Conflict
from agent.dialer.ports import ContactDirectory
from agent.storage.missed_repository import Claim, MissedRepository, MissedRow

if TYPE_CHECKING:
    from agent.dialer.participant import SettingsSource
    from agent.runtime import PbxRestPort
    from agent.storage.database import Storage

MAX_PAGE: Final = 500
_SCAN: Final = 2000  # missed calls read to build the callback queue and fills


@dataclass(frozen=True, slots=True)
class Missed:
    """The newest missed call of one number, for fills and the callback queue."""

    number: str
    at: datetime
    contact_id: int | None = None
    contact_name: str | None = None


class MissedCalls:
    def __init__(
        self,
        *,
        storage: Storage,
        repo: MissedRepository,
        settings: SettingsSource,
        own_ext: str,
        rest: PbxRestPort,
        directory: Callable[[], ContactDirectory],
        clock: Callable[[], datetime],
    ) -> None:
        self.storage = storage
        self.repo = repo
        self.settings = settings
        self.own_ext = own_ext
        self.rest = rest
        self.directory = directory
        self.clock = clock

    def number_of(self, raw: str) -> str:
        number = to_e164(raw, self.settings.team.default_region or "UA")
        if number is None:
            digits = "".join(ch for ch in raw if ch.isdigit())
            if len(digits) < 2:
                raise InvalidInput(f"not a phone number: {raw[:40]!r}", field="number")
            return digits
        return number

    # ------------------------------------------------------------ M7, B10

    async def page(
        self, *, mine: bool, limit: int, offset: int, since: datetime | None
    ) -> tuple[list[dict[str, Any]], int | None]:
        limit = min(max(limit, 1), MAX_PAGE)
        ext = self.own_ext if mine else None
        rows = await self.storage.run(self.repo.missed, ext, limit, offset, since)
        numbers = sorted({r.number for r in rows})
        now = self.clock()
        latest = await self.storage.run(self.repo.latest_contact, numbers)
        claims = await self.storage.run(self.repo.claims_for, numbers, now)
        items = [self._json(r, latest.get(r.number), claims.get(r.number)) for r in rows]
        return items, offset + len(items) if len(items) == limit else None

    def _json(self, row: MissedRow, latest: datetime | None, claim: Claim | None) -> dict[str, Any]:
        handled = latest is not None and latest > row.dial_at
        contact = None
        if row.contact_id is not None or row.contact_name:
            contact = {"id": row.contact_id, "name": row.contact_name}
        return {
            "uuid": row.uuid,
            "number": row.number,
            "contact": contact,
            "operator_ext": row.operator_ext,
            "dial_at": row.dial_at.isoformat(),
            "end_at": row.end_at.isoformat(),
            "outcome": row.outcome,
            "handled": handled,
            "handled_at": latest.isoformat() if handled and latest else None,
            "claimed_by": claim.claimed_by if claim and not handled else None,
            "claimed_until": claim.expires_at.isoformat() if claim and not handled else None,
        }

    async def claim(self, raw: str) -> Claim:
        """ "I'm calling back" (B10); a teammate's live claim is a Conflict."""
        number = self.number_of(raw)
        now = self.clock()
        until = now + timedelta(minutes=self.settings.team.missed_claim_min)
        held = await self.storage.run(self.repo.claim, number, self.own_ext, now, until)
        if held.claimed_by != self.own_ext:
            raise Conflict(
                f"{number} is being called back by {held.claimed_by} "
                f"until {held.expires_at.isoformat()}",
                field="number",
                message_key="missed.claimed",
            )
        return held

    async def release(self, raw: str) -> bool:
        return await self.storage.run(self.repo.release, self.number_of(raw), self.own_ext)

    # ------------------------------------------------------------ unhandled, by number

    async def unhandled(self, *, from_pbx: bool) -> list[Missed]:
        """Each number's newest missed call not handled and not claimed by a teammate,
        oldest first (the dial-list fill, M7; the callback queue, B11)."""
        now = self.clock()
        since = now - timedelta(days=self.settings.team.missed_days)
        newest: dict[str, Missed] = {}
        if from_pbx:
            async for _, page in self.rest.history_pages("missed", time_from=since, time_to=now):
                for record in page:
                    talk = self.settings.team.completed_talk_s
                    outcome = outcome_of(record.disposition, record.talk_s, talk)
                    if record.direction is not Direction.IN or not is_missed(True, outcome):
                        continue
                    number = to_e164(record.number or "", self.settings.team.default_region)
                    if number is None:
                        continue
                    dial_at = record.end_at - timedelta(seconds=record.duration_s)
                    _keep_newest(newest, Missed(number, dial_at, None, record.name))
        else:
            rows = await self.storage.run(self.repo.missed, None, _SCAN, 0, since)
            for row in rows:
                missed = Missed(row.number, row.dial_at, row.contact_id, row.contact_name)
                _keep_newest(newest, missed)
        numbers = sorted(newest)
        latest = await self.storage.run(self.repo.latest_contact, numbers)
        claims = await self.storage.run(self.repo.claims_for, numbers, now)
        open_ = [
            m
            for m in newest.values()
            if not (m.number in latest and latest[m.number] > m.at)
            and (m.number not in claims or claims[m.number].claimed_by == self.own_ext)
        ]
        return sorted(open_, key=lambda m: m.at)

    async def candidates(self, *, from_pbx: bool) -> list[Candidate]:
        """Missed calls as dial-list candidates (M6 «Пропущенными»)."""
        found = await self.unhandled(from_pbx=from_pbx)
        return [
            Candidate(row, "number", m.number, m.contact_id, name=m.contact_name)
            for row, m in enumerate(found, start=1)
        ]

    # ------------------------------------------------------------ B11

    async def callbacks(self, limit: int) -> list[dict[str, Any]]:
        """One queue: missed calls, postponed dial-list numbers, robot answers."""
        now = self.clock()
        items: list[dict[str, Any]] = []
        for m in await self.unhandled(from_pbx=False):
            contact = {"id": m.contact_id, "name": m.contact_name} if m.contact_name else None
            items.append(_item("missed", m.number, contact, m.at, {"missed_at": m.at.isoformat()}))
        for e in await self.storage.run(self.repo.postponed, self.own_ext, limit):
            contact = {"id": e.contact_id, "name": e.contact_name} if e.contact_name else None
            ref = {"list_id": e.list_id, "entry_id": e.id, "attempts": e.attempts}
            items.append(_item("dial_list", e.number, contact, e.next_dial_at, ref))
        for call in await self.directory().planned_calls(now + timedelta(days=1), robot_only=True):
            contact = {"id": call.contact.id, "name": call.contact.name} if call.contact else None
            due = call.planned_at or now
            items.append(_item("robot", call.number, contact, due, {"event_id": call.event_id}))
        items.sort(key=lambda i: (i["_due"], i["kind"]))
        seen: set[str] = set()
        queue = []
        for item in items:
            if item["number"] in seen:
                continue
            seen.add(item["number"])
            del item["_due"]
            queue.append(item)
        claims = await self.storage.run(self.repo.claims_for, sorted(seen), now)
        for item in queue:
            claim = claims.get(item["number"])
            item["claimed_by"] = claim.claimed_by if claim else None
        return queue[:limit]


def _keep_newest(newest: dict[str, Missed], missed: Missed) -> None:
    known = newest.get(missed.number)
    if known is None or missed.at > known.at:
        newest[missed.number] = missed


def _item(
    kind: str, number: str, contact: Any, due: datetime, ref: dict[str, Any]
) -> dict[str, Any]:
    return {
        "kind": kind,
        "number": number,
        "contact": contact,
        "due_at": due.isoformat(),
        "ref": ref,
        "_due": due,
    }
