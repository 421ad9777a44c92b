"""Repositories of call events, unimportant call uuids and sales (U8, U9, A5, J1, J2).

Synchronous, for the storage worker thread, like ``contacts_repo.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

import peewee as pw

from agent.core.call_events import (
    DEFAULT_IMPORTANCE,
    DEFAULT_KIND,
    MAX_CALL_ID,
    MAX_NUMBER,
    Event,
    EventDraft,
    EventSource,
    EventState,
    ImportedCallEvent,
)
from agent.core.contact_stats import from_cents
from agent.core.errors import InvalidInput
from agent.core.events import normalise_uuid
from agent.storage.contacts_repo import (
    MAX_PAGE,
    Sql,
    chunks,
    dump_json,
    marks,
    sql_text_literal,
)
from agent.storage.models import to_utc, utc_text
from agent.storage.repositories import insert_rows
from agent.storage.schema import write_transaction

_EVENT_COLUMNS: Final = (
    "id, call_uuid, number, contact_id, operator_ext, kind, importance, planned_at, notes, "
    "state, source, created_at, updated_at, direction, fields, done_at"
)
_INSERT_COLUMNS: Final = (
    "call_uuid",
    "number",
    "contact_id",
    "operator_ext",
    "direction",
    "kind",
    "importance",
    "planned_at",
    "notes",
    "fields",
    "state",
    "source",
    "created_at",
    "updated_at",
)
_ID_INSERT_COLUMNS: Final = ("id", *_INSERT_COLUMNS)
# J1's events (insert_imported_calls): the columns of an ImportedCallEvent but its
# operator, then fields; and those that are the same for every one, as SQL literals
# (planned_at and notes: their defaults, NULL and '').
_IMPORTED_COLUMNS: Final = (
    "call_uuid",
    "number",
    "contact_id",
    "operator_ext",
    "direction",
    "fields",
)
_IMPORTED_FIXED: Final = {
    "kind": f"'{DEFAULT_KIND}'",
    "importance": f"'{DEFAULT_IMPORTANCE}'",
    "state": f"'{EventState.SAVED.value}'",
    "source": f"'{EventSource.IMPORT.value}'",
}
_PLANNED: Final = "planned_at IS NOT NULL AND done_at IS NULL AND state <> 'declined'"


def _time(value: datetime | None) -> str | None:
    return None if value is None else utc_text(value)


def event_from_row(row: Sequence[Any]) -> Event:
    (
        eid,
        call_uuid,
        number,
        contact_id,
        ext,
        kind,
        importance,
        planned,
        notes,
        state,
        source,
        created,
        updated,
        direction,
        fields,
        done,
    ) = row
    created_at, updated_at = to_utc(created), to_utc(updated)
    assert created_at is not None and updated_at is not None
    return Event(
        id=int(eid),
        call_uuid=call_uuid,
        number=number,
        contact_id=None if contact_id is None else int(contact_id),
        operator_ext=ext,
        kind=kind,
        importance=importance,
        planned_at=to_utc(planned),
        notes=notes,
        state=EventState(state),
        source=EventSource(source),
        created_at=created_at,
        updated_at=updated_at,
        direction=direction,
        fields=json.loads(fields),
        done_at=to_utc(done),
    )


# The contact's newest robot event (J2), by the ``events_robot`` index (m0014): a
# contact without one costs a probe of that small index. The newer id breaks a tie.
_ROBOT_EVENT_ID: Final = (
    "(SELECT e.id FROM events e{indexed} WHERE e.contact_id = ? AND e.source = 'robot' "
    "ORDER BY e.created_at DESC, e.id DESC LIMIT 1)"
)


def robot_event_id(postgres: bool) -> str:
    """The subquery of the contact's newest robot event id (``?``: the contact's id).
    SQLite is told the index: with statistics older than it (an ANALYZE before m0014)
    its planner walks every event of the contact through ``events_contact`` instead."""
    return _ROBOT_EVENT_ID.format(indexed="" if postgres else " INDEXED BY events_robot")


def robot_answer(
    fields: Any, importance: Any, planned_at: Any, created_at: Any
) -> tuple[str, str, datetime] | None:
    """(DTMF code, importance, call time) from a robot event's columns: the robot's call
    time is the event's planned time (agent/jobs/events.py), else its creation."""
    data = fields if isinstance(fields, dict) else json.loads(fields or "{}")
    at = to_utc(planned_at) or to_utc(created_at)
    if at is None:
        return None
    return str(data.get("dtmf", "?")), str(importance), at


def _draft_row(draft: EventDraft, stamp: str) -> tuple[Any, ...]:
    """The columns of :data:`_INSERT_COLUMNS`; ``stamp`` is ``utc_text(now)``."""
    uuid = normalise_uuid(draft.call_uuid) if draft.call_uuid else None
    if uuid is not None and len(uuid) > MAX_CALL_ID:
        raise InvalidInput(
            f"an event's call id holds at most {MAX_CALL_ID} characters (G5)", field="call_uuid"
        )
    return (
        uuid,
        draft.number[:MAX_NUMBER] if draft.number else None,
        draft.contact_id,
        draft.operator_ext,
        draft.direction,
        draft.kind,
        draft.importance,
        _time(draft.planned_at),
        draft.notes,
        dump_json(dict(draft.fields)) if draft.fields else "{}",
        draft.state.value,
        draft.source.value,
        stamp,
        stamp,
    )


class EventsRepository:
    """``events`` and ``unimportant_calls``."""

    def __init__(self, db: pw.Database) -> None:
        self.sql = Sql(db)
        self._db = db

    def _select(self, where: str, params: Sequence[Any], tail: str = "") -> list[Event]:
        sql = f"SELECT {_EVENT_COLUMNS} FROM events WHERE {where} {tail}"
        return [event_from_row(r) for r in self.sql.rows(sql, params)]

    # ------------------------------------------------------------ writing

    def insert(self, draft: EventDraft, now: datetime) -> Event:
        with write_transaction(self._db):
            [event_id] = self.sql.reserve_ids("events", 1)
            self.sql.insert_many(
                "events", ("id", *_INSERT_COLUMNS), [(event_id, *_draft_row(draft, utc_text(now)))]
            )
        event = self.get(event_id)
        assert event is not None
        return event

    def insert_many(self, drafts: Sequence[EventDraft], now: datetime) -> list[int]:
        """Events in one transaction; their ids. (J1's go through
        :meth:`insert_imported_calls`.)"""
        stamp = utc_text(now)
        rows = [_draft_row(d, stamp) for d in drafts]  # before the write lock is taken
        with write_transaction(self._db):
            ids = self.sql.reserve_ids("events", len(rows))
            # Multi-row statements (repositories.insert_rows): the worker then keeps the
            # GIL for a few statements, not a row at a time.
            insert_rows(
                self._db,
                "events",
                _ID_INSERT_COLUMNS,
                [(i, *row) for i, row in zip(ids, rows, strict=True)],
            )
        return ids

    def insert_imported_calls(self, events: Sequence[ImportedCallEvent], now: datetime) -> int:
        """J1's events for past calls, in one transaction; how many. The columns every
        such event shares are written into the statements once, not bound a row
        (:data:`_IMPORTED_FIXED`); G3's operator names become their ``fields`` JSON
        once a name."""
        if not events:
            return 0
        fields: dict[str | None, str] = {None: "{}"}
        rows = []
        for event in events:
            operator = event.operator
            text = fields.get(operator)
            if text is None:
                text = fields[operator] = dump_json({"operator": operator})
            rows.append((*event[:5], text))
        stamp = sql_text_literal(utc_text(now))
        with write_transaction(self._db):
            insert_rows(
                self._db,
                "events",
                _IMPORTED_COLUMNS,
                rows,
                fixed={**_IMPORTED_FIXED, "created_at": stamp, "updated_at": stamp},
            )
        return len(rows)

    def update(self, event: Event, now: datetime) -> Event:
        """Store every changeable field of ``event``; the stored event."""
        self.sql.execute(
            "UPDATE events SET contact_id = ?, kind = ?, importance = ?, planned_at = ?, "
            "notes = ?, fields = ?, state = ?, done_at = ?, updated_at = ? WHERE id = ?",
            (
                event.contact_id,
                event.kind,
                event.importance,
                _time(event.planned_at),
                event.notes,
                dump_json(dict(event.fields)),
                event.state.value,
                _time(event.done_at),
                utc_text(now),
                event.id,
            ),
        )
        stored = self.get(event.id)
        assert stored is not None
        return stored

    def repoint(self, from_ids: Sequence[int], to_id: int) -> int:
        """Merging contacts: their events move to the one kept."""
        moved = 0
        for part in chunks(list(from_ids)):
            moved += self.sql.execute(
                f"UPDATE events SET contact_id = ? WHERE contact_id IN ({marks(len(part))})",
                (to_id, *part),
            )
        return moved

    # ------------------------------------------------------------ reading

    def get(self, event_id: int) -> Event | None:
        found = self._select("id = ?", (event_id,))
        return found[0] if found else None

    def for_call(self, call_uuid: str) -> list[Event]:
        return self._select("call_uuid = ?", (normalise_uuid(call_uuid),), "ORDER BY id")

    def calls_with_events(self, uuids: Iterable[str]) -> set[str]:
        """Which of these calls have an event already (J1 skips them)."""
        wanted = sorted({normalise_uuid(u) for u in uuids})
        found: set[str] = set()
        for part in chunks(wanted):
            sql = f"SELECT DISTINCT call_uuid FROM events WHERE call_uuid IN ({marks(len(part))})"
            found.update(r[0] for r in self.sql.rows(sql, part))
        return found

    def page(
        self,
        *,
        state: EventState | None = None,
        contact_id: int | None = None,
        operator_ext: str | None = None,
        planned: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[Event], int | None]:
        """A page of events: newest first, or with ``planned`` the planned events still
        to do, soonest first (M4, M6 "fill from planned", B11)."""
        limit = min(max(limit, 1), MAX_PAGE)
        where: list[str] = ["1 = 1"]
        params: list[Any] = []
        if state is not None:
            where.append("state = ?")
            params.append(state.value)
        if contact_id is not None:
            where.append("contact_id = ?")
            params.append(contact_id)
        if operator_ext is not None:
            where.append("operator_ext = ?")
            params.append(operator_ext)
        if planned:
            where.append(_PLANNED)
        order = "ORDER BY planned_at, id" if planned else "ORDER BY created_at DESC, id DESC"
        items = self._select(
            " AND ".join(where), [*params, limit, offset], f"{order} LIMIT ? OFFSET ?"
        )
        total = offset + len(items) if len(items) < limit else None
        return items, total

    def nearest_planned(self, contact_id: int) -> Event | None:
        """The contact's planned event still to do that comes first (an overdue one
        first of all): M4's link, B13's line."""
        found = self._select(
            f"contact_id = ? AND {_PLANNED}", (contact_id,), "ORDER BY planned_at LIMIT 1"
        )
        return found[0] if found else None

    def last_note(self, contact_id: int) -> str | None:
        """The newest note of the contact's saved events (B13); a planned event still to
        do says what is to come, not what was said, and is left out."""
        rows = self.sql.rows(
            "SELECT notes FROM events WHERE contact_id = ? AND state = 'saved' AND notes <> '' "
            "AND (planned_at IS NULL OR done_at IS NOT NULL) ORDER BY created_at DESC LIMIT 1",
            (contact_id,),
        )
        return str(rows[0][0]) if rows else None

    def last_robot_answer(self, contact_id: int) -> tuple[str, str, datetime] | None:
        """(DTMF code, importance, call time) of the contact's newest robot event (B13,
        J2: agent/jobs/events.py keeps the code in ``fields.dtmf``)."""
        rows = self.sql.rows(
            "SELECT fields, importance, planned_at, created_at FROM events "
            f"WHERE id = {robot_event_id(self.sql.postgres)}",
            (contact_id,),
        )
        return robot_answer(*rows[0]) if rows else None

    def recent(self, contact_id: int, limit: int = 10) -> list[Event]:
        """The contact's last events, newest first, declined ones left out (U9)."""
        return self._select(
            "contact_id = ? AND state <> 'declined'",
            (contact_id, limit),
            "ORDER BY created_at DESC, id DESC LIMIT ?",
        )

    def kinds_since(self, contact_id: int, since: datetime) -> list[tuple[datetime, str]]:
        """(created_at, kind) of the contact's events since ``since`` (U9 by month)."""
        rows = self.sql.rows(
            "SELECT created_at, kind FROM events WHERE contact_id = ? AND created_at >= ? "
            "AND state <> 'declined'",
            (contact_id, utc_text(since)),
        )
        out = []
        for created, kind in rows:
            at = to_utc(created)
            assert at is not None
            out.append((at, kind))
        return out

    # ------------------------------------------------------------ unimportant calls

    def mark_unimportant(self, call_uuid: str, operator_ext: str, now: datetime) -> None:
        """A5: this call is "unimportant" for good; J1 never imports it."""
        self.sql.execute(
            "INSERT INTO unimportant_calls (uuid, operator_ext, marked_at) VALUES (?, ?, ?) "
            "ON CONFLICT (uuid) DO NOTHING",
            (normalise_uuid(call_uuid), operator_ext, utc_text(now)),
        )

    def unimportant_among(self, uuids: Iterable[str]) -> set[str]:
        wanted = sorted({normalise_uuid(u) for u in uuids})
        found: set[str] = set()
        for part in chunks(wanted):
            sql = f"SELECT uuid FROM unimportant_calls WHERE uuid IN ({marks(len(part))})"
            found.update(r[0] for r in self.sql.rows(sql, part))
        return found


class SalesRepository:
    """``sales``: amounts in minor units."""

    def __init__(self, db: pw.Database) -> None:
        self.sql = Sql(db)
        self._db = db

    def insert_many(self, rows: Sequence[tuple[int, str | None, date, int]], now: datetime) -> int:
        """(contact_id, number, day, amount in cents) rows, in one transaction."""
        stamp = utc_text(now)
        self.sql.insert_many(
            "sales",
            ("contact_id", "number", "sold_on", "amount_cents", "created_at"),
            [(cid, number, day.isoformat(), cents, stamp) for cid, number, day, cents in rows],
        )
        return len(rows)

    def delete_all(self) -> int:
        return self.sql.execute("DELETE FROM sales")

    def counts(self, contact_ids: Iterable[int]) -> dict[tuple[int, date, int], int]:
        """How many sales each (contact, day, amount in cents) of these contacts has."""
        found: dict[tuple[int, date, int], int] = {}
        for part in chunks(sorted(set(contact_ids))):
            rows = self.sql.rows(
                "SELECT contact_id, sold_on, amount_cents, COUNT(*) FROM sales "
                f"WHERE contact_id IN ({marks(len(part))}) "
                "GROUP BY contact_id, sold_on, amount_cents",
                part,
            )
            for cid, day, cents, count in rows:
                found[int(cid), _day(day), int(cents)] = int(count)
        return found

    def for_contact(self, contact_id: int) -> list[tuple[date, Decimal]]:
        rows = self.sql.rows(
            "SELECT sold_on, amount_cents FROM sales WHERE contact_id = ? ORDER BY sold_on, id",
            (contact_id,),
        )
        return [(_day(day), from_cents(int(cents))) for day, cents in rows]

    def revenue_by_contact(self) -> dict[int, Decimal]:
        """Each contact's total sales (ABC); merged and deleted contacts left out."""
        rows = self.sql.rows(
            "SELECT s.contact_id, SUM(s.amount_cents) FROM sales s "
            "JOIN contacts c ON c.id = s.contact_id WHERE c.deleted_at IS NULL "
            "GROUP BY s.contact_id"
        )
        return {int(cid): from_cents(int(total)) for cid, total in rows}

    def repoint(self, from_ids: Sequence[int], to_id: int) -> int:
        moved = 0
        for part in chunks(list(from_ids)):
            moved += self.sql.execute(
                f"UPDATE sales SET contact_id = ? WHERE contact_id IN ({marks(len(part))})",
                (to_id, *part),
            )
        return moved

    def count(self) -> int:
        return int(self.sql.rows("SELECT COUNT(*) FROM sales")[0][0])


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
