"""The licence of one database, for the agent, its local API and the CLI (L1, U10).

:class:`LicenseService` joins the pure rules (agent/core/license.py) to the database
(store.py) and to who is connected now (presence.py). Every read judges the
installed key afresh, so an expired key or a key installed by another agent or by the
CLI shows at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from agent.core.errors import InvalidInput
from agent.core.license import (
    LicenseRequest,
    LicenseTerms,
    Rejection,
    check_client_code,
    check_count,
    verify_key,
)
from agent.core.license_seats import (
    SeatHolder,
    SeatVerdict,
    Standing,
    distinct_operators,
    seat_verdict,
    standing,
)
from agent.license import store
from agent.license.presence import Presence, SeatLedger, holder_from, seat_holders
from agent.storage.database import Storage

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


def rejected(rejection: Rejection) -> InvalidInput:
    """A refused key or field as the error the API (422 + field) and CLI (exit 2) report."""
    return InvalidInput(rejection.message, field=rejection.field, message_key=rejection.message_key)


@dataclass(frozen=True, slots=True)
class LicenseView:
    """The licence tab (U10) and ``license show``: everything about the licence now."""

    client_id: str
    standing: Standing
    active: tuple[SeatHolder, ...]
    installed_at: str | None

    def json(self) -> dict[str, Any]:
        terms = self.standing.terms
        return {
            "client_id": self.client_id,
            "client_code": terms.client_code if terms else None,
            "count": self.standing.count,
            "key_count": terms.count if terms else None,
            "active": [holder_json(h) for h in self.active],
            "issued_on": terms.issued_on.isoformat() if terms else None,
            "expires_on": terms.expires_on.isoformat() if terms and terms.expires_on else None,
            "expires_at": _iso(terms.expires_at) if terms else None,
            "installed_at": self.installed_at,
            "state": self.standing.state.value,
            "required": self.standing.required,
            "message": self.standing.message,
        }


def holder_json(holder: SeatHolder) -> dict[str, Any]:
    return {
        "agent_id": holder.agent_id,
        "ext": holder.ext,
        "name": holder.name,
        "host": holder.host,
        "since": _iso(holder.since),
        "label": holder.label,
    }


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


class LicenseService:
    """Licensing for one database.

    ``presence``: the team's heartbeats (issue 6), None without team mode;
    ``agent_id``: this agent's id in them; ``domain`` / ``ext``: its operator (left out
    of ``active``: U10 shows the others); ``clock``: the wall clock (tests give their own).
    """

    def __init__(
        self,
        storage: Storage,
        *,
        public_key: bytes,
        presence: Presence | None = None,
        agent_id: str = "",
        domain: str = "",
        ext: str = "",
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.storage = storage
        self.public_key = public_key
        self.presence = presence
        self.agent_id = agent_id
        self.me = SeatHolder(agent_id, ext=ext, domain=domain) if ext else None
        self.clock = clock

    async def client_id(self) -> str:
        return await self.storage.run(store.ensure_client_id, self.storage.kv)

    async def _judge(self) -> tuple[store.Stored, Standing]:
        stored = await self.storage.run(store.load, self.storage.kv)
        installed: LicenseTerms | Rejection | None = None
        if stored.key is not None:
            installed = verify_key(
                stored.key, public_key=self.public_key, client_id=stored.client_id, now=self.clock()
            )
        return stored, standing(installed)

    async def standing(self) -> Standing:
        return (await self._judge())[1]

    async def others(self) -> tuple[SeatHolder, ...]:
        """The operators connected now on this database, this agent's operator left out."""
        found = distinct_operators(await seat_holders(self.presence, self.agent_id))
        me = self.me
        return tuple(h for h in found if me is None or not h.same_operator(me))

    async def view(self) -> LicenseView:
        stored, current = await self._judge()
        return LicenseView(stored.client_id, current, await self.others(), stored.installed_at)

    async def admit(self) -> SeatVerdict:
        """May this agent connect now (U10)? Counted against the operators connected now.

        With the team's heartbeats (:class:`SeatLedger`) the count and this agent's own
        beat are one step under a lock, so agents racing for the last seat admit
        exactly one; an agent that still holds its seat keeps it. A presence that can
        only be read (a test double) is counted without the lock."""
        current = await self.standing()
        presence = self.presence
        if isinstance(presence, SeatLedger):
            verdict = await presence.claim_seat(
                lambda others, holding: self._verdict(current, others, holding)
            )
        else:
            holders = await seat_holders(presence, self.agent_id)
            verdict = seat_verdict(current, holders, self.me)
        if verdict.admitted and current.required:
            log.info("licence: %s", current.message)
        return verdict

    def _verdict(self, current: Standing, others: list[Any], holding: bool) -> SeatVerdict:
        """The judgement inside the claim (on the storage worker: pure)."""
        holders = [h for h in map(holder_from, others) if h.agent_id != self.agent_id]
        return seat_verdict(current, holders, self.me, holding=holding)

    async def release(self) -> None:
        """Give this agent's seat back (Disconnect, a link that gave up): the operators
        connected now no longer count it, and its next Connect asks again."""
        if isinstance(self.presence, SeatLedger):
            await self.presence.release_seat()

    async def request(self, client_code: str, count: object) -> LicenseRequest:
        """The request to send the vendor (L1); InvalidInput for a bad code or count."""
        code = check_client_code(client_code)
        if isinstance(code, Rejection):
            raise rejected(code)
        checked = check_count(count)
        if isinstance(checked, Rejection):
            raise rejected(checked)
        return LicenseRequest(await self.client_id(), code, checked)

    async def install(
        self, key: str, *, client_code: str | None = None, count: object = None
    ) -> LicenseView:
        """Verify ``key`` for this database and install it (L1, U10: a new key replaces the
        old one, raising or lowering the count). ``client_code`` / ``count``: what the
        form says, checked against the key. A refused key (InvalidInput with the field)
        changes nothing."""
        code: str | None = None
        if client_code is not None and client_code.strip():
            checked_code = check_client_code(client_code)
            if isinstance(checked_code, Rejection):
                raise rejected(checked_code)
            code = checked_code
        wanted: int | None = None
        if count is not None and count != "":
            checked_count = check_count(_as_int(count))
            if isinstance(checked_count, Rejection):
                raise rejected(checked_count)
            wanted = checked_count
        client_id = await self.client_id()
        verdict = verify_key(
            key,
            public_key=self.public_key,
            client_id=client_id,
            now=self.clock(),
            client_code=code,
            count=wanted,
        )
        if isinstance(verdict, Rejection):
            raise rejected(verdict)
        await self.storage.run(store.save_key, self.storage.kv, key.strip(), self.clock())
        log.info(
            "licence key installed: client code %s, %d licence(s)%s",
            verdict.client_code,
            verdict.count,
            f", until {verdict.expires_on}" if verdict.expires_on else "",
        )
        return await self.view()


def _as_int(value: object) -> object:
    """A count typed into a form may arrive as text."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value
