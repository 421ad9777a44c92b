"""The dialer's queries: dial lists, entries, attempts, do-not-call, missed-call claims
(M6, M7, A1–A6, B3, B10, B11; the tables of migration 0020).

Synchronous, on the storage worker (``await storage.run(repo.pick, …)``), like every
repository (docs/architecture/storage.md). The decisions are the core's
(agent/core/dial_list.py, retry_rules.py); this persists them and answers "the next
entry" with one indexed probe per time zone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, NamedTuple

import peewee as pw

from agent.core.dial_list import PICKABLE, DialEntry, EntryState, Tries, order_key
from agent.core.retry_rules import Decision
from agent.storage.bulk_load import set_aside, worth_setting_aside
from agent.storage.migrations.base import PEEWEE_ERRORS
from agent.storage.models import to_utc, utc_text
from agent.storage.repositories import insert_rows
from agent.storage.schema import write_transaction

IN_CHUNK: Final = 500
_PICKABLE_SQL: Final = "state IN ('pending', 'postponed')"  # the partial indexes' words
_NOT_DNC: Final = "NOT EXISTS (SELECT 1 FROM dnc_numbers d WHERE d.number = e.number)"
# B13's "attempts, next attempt" of a number in an operator's lists: number_progress,
# and the popup's lookup, which reads it in its own statement (contact_lookup.py).
NUMBER_PROGRESS_FROM: Final = (
    "FROM dial_entries e JOIN dial_lists l ON l.id = e.list_id "
    f"WHERE e.number = ? AND l.owner_ext = ? AND e.{_PICKABLE_SQL} "
    "ORDER BY e.next_dial_at LIMIT 1"
)
NUMBER_PROGRESS_SQL: Final = f"SELECT e.attempts, e.next_dial_at {NUMBER_PROGRESS_FROM}"
ENTRY_COLUMNS: Final = (
    "e.id, e.list_id, e.position, e.number, e.next_dial_at, e.state, e.attempts, "
    "e.tries_no_answer, e.tries_busy, e.tries_failed, e.contact_id, e.contact_name, "
    "e.detail, e.planned_event, e.sort_value, e.sort_key, e.zone, e.last_outcome, "
    "e.last_attempt_at"
)
# The list's indexes whose keys come in random order (a file's numbers, its contacts),
# set aside while a first big file goes in (add_entries): made afterwards, they cost
# ~0.1 s for 99k entries instead of ~0.3 s taken row by row. The others (position,
# smart, plain, postponed) take a file's rows in their own order, at their end.
_ENTRY_INDEXES: Final = ("dial_entries_number", "dial_entries_contact")
_NEWENTRY_COLUMNS: Final = (
    "list_id",
    "position",
    "number",
    "contact_id",
    "contact_name",
    "detail",
    "planned_event",
    "sort_value",
    "sort_key",
    "zone",
    "next_dial_at",
    "state",
    "created_at",
)


_STATE_TEXT: Final = {state: state.value for state in EntryState}


def entry_from_row(row: Sequence[Any]) -> DialEntry:
    (eid, list_id, position, number, next_dial_at, state, attempts, t_na, t_busy, t_failed,
     contact_id, contact_name, detail, planned, sort_value, sort_key, zone, last_outcome,
     last_attempt_at) = row  # fmt: skip
    next_at = to_utc(next_dial_at)
    assert next_at is not None
    return DialEntry(
        id=int(eid),
        list_id=int(list_id),
        position=int(position),
        number=number,
        next_dial_at=next_at,
        state=EntryState(state),
        attempts=int(attempts),
        tries=Tries(int(t_na), int(t_busy), int(t_failed)),
        contact_id=None if contact_id is None else int(contact_id),
        contact_name=contact_name,
        detail=detail,
        planned_event=planned,
        sort_value=sort_value,
        sort_key=sort_key,
        zone=zone,
        last_outcome=last_outcome,
        last_attempt_at=to_utc(last_attempt_at),
    )


class NewEntry(NamedTuple):
    """An entry to add; ``state`` is pending, or dnc for a number on the DNC list.

    A named tuple, not a frozen dataclass: an import makes one a row, ~0.4 µs against
    ~2.5 µs (issue 5), and its fields are the INSERT's columns in their order."""

    number: str
    contact_id: int | None = None
    contact_name: str | None = None
    detail: str | None = None
    planned_event: str | None = None
    sort_value: str | None = None
    sort_key: str = ""
    zone: str = ""
    next_dial_at: datetime | None = None
    state: EntryState = EntryState.PENDING


@dataclass(frozen=True, slots=True)
class DialList:
    id: int
    owner_ext: str
    name: str
    created_at: datetime
    sort_field: str
    sort_descending: bool


@dataclass(frozen=True, slots=True)
class OpenAttempt:
    id: int
    entry_id: int | None
    list_id: int
    number: str
    uuid: str | None
    started_at: datetime


def chunks(values: Sequence[Any], size: int = IN_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def marks(count: int) -> str:
    return ", ".join("?" * count)


class SqlRepository:
    """Statements for one database: ``?`` placeholders, made ``%s`` for PostgreSQL."""

    def __init__(self, db: pw.Database) -> None:
        self.db = db
        self.postgres = isinstance(db, pw.PostgresqlDatabase)

    # ------------------------------------------------------------ plumbing

    def sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.postgres else sql

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cursor = self.db.execute_sql(self.sql(sql), tuple(params))  # type: ignore[no-untyped-call]
        return list(cursor.fetchall())

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        cursor = self.db.execute_sql(self.sql(sql), tuple(params))  # type: ignore[no-untyped-call]
        return int(cursor.rowcount)

    def lock(self) -> str:
        return " FOR UPDATE" if self.postgres else ""

    def insert_many(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Multi-row statements in the caller's transaction (:func:`insert_rows`)."""
        insert_rows(self.db, table, columns, rows)


class DialerRepository(SqlRepository):
    """Dial lists, their entries and attempts, and the do-not-call list."""

    # ------------------------------------------------------------ lists

    def create_list(self, owner_ext: str, name: str, now: datetime) -> int:
        with write_transaction(self.db):
            found = self.rows(
                "INSERT INTO dial_lists (owner_ext, name, created_at) VALUES (?, ?, ?) "
                "RETURNING id",
                (owner_ext, name, utc_text(now)),
            )
        return int(found[0][0])

    def lists(self, owner_ext: str) -> list[DialList]:
        return [
            self._list(row)
            for row in self.rows(
                "SELECT id, owner_ext, name, created_at, sort_field, sort_descending "
                "FROM dial_lists WHERE owner_ext = ? ORDER BY id",
                (owner_ext,),
            )
        ]

    def get_list(self, list_id: int) -> DialList | None:
        found = self.rows(
            "SELECT id, owner_ext, name, created_at, sort_field, sort_descending "
            "FROM dial_lists WHERE id = ?",
            (list_id,),
        )
        return self._list(found[0]) if found else None

    @staticmethod
    def _list(row: Sequence[Any]) -> DialList:
        created = to_utc(row[3])
        assert created is not None
        return DialList(int(row[0]), row[1], row[2], created, row[4], bool(row[5]))

    def rename_list(self, list_id: int, name: str) -> bool:
        return self.execute("UPDATE dial_lists SET name = ? WHERE id = ?", (name, list_id)) > 0

    def delete_list(self, list_id: int) -> bool:
        with write_transaction(self.db):
            return self.execute("DELETE FROM dial_lists WHERE id = ?", (list_id,)) > 0

    def counts(self, list_ids: Sequence[int]) -> dict[int, dict[str, int]]:
        """Entries per state, per list (the lists view)."""
        found: dict[int, dict[str, int]] = {i: {} for i in list_ids}
        for part in chunks(list(list_ids)):
            for list_id, state, count in self.rows(
                "SELECT list_id, state, COUNT(*) FROM dial_entries "
                f"WHERE list_id IN ({marks(len(part))}) GROUP BY list_id, state",
                part,
            ):
                found[int(list_id)][state] = int(count)
        return found

    def set_sort(
        self,
        list_id: int,
        field: str,
        descending: bool,
        keys: Sequence[tuple[str | None, str, int]],
    ) -> None:
        """Record the sort field the keys are made for, and the entries' new keys
        (sort value, sort key, entry id)."""
        with write_transaction(self.db):
            self.execute(
                "UPDATE dial_lists SET sort_field = ?, sort_descending = ? WHERE id = ?",
                (field, descending, list_id),
            )
            with PEEWEE_ERRORS:
                cursor = self.db.cursor()  # type: ignore[no-untyped-call]
                cursor.executemany(
                    self.sql("UPDATE dial_entries SET sort_value = ?, sort_key = ? WHERE id = ?"),
                    list(keys),
                )

    # ------------------------------------------------------------ entries

    def add_entries(
        self, list_id: int, entries: Sequence[NewEntry], now: datetime, *, replace: bool
    ) -> int:
        """Append entries after the list's last one (``replace``: instead of every entry
        not being called now). Returns how many were added."""
        now_text = utc_text(now)
        with write_transaction(self.db):
            if replace:
                self.execute(
                    "DELETE FROM dial_entries WHERE list_id = ? AND state <> 'calling'", (list_id,)
                )
            last = self.rows(
                "SELECT MAX(position) FROM dial_entries WHERE list_id = ?", (list_id,)
            )[0][0]
            start = int(last or 0) + 1
            # NewEntry's fields are the columns from number to zone, then next_dial_at
            # and state: one slice a row, not ten attribute reads (issue 5: 100k rows).
            rows = [
                (
                    list_id,
                    position,
                    *e[:8],
                    now_text if e[8] is None else utc_text(e[8]),
                    _STATE_TEXT[e[9]],
                    now_text,
                )
                for position, e in enumerate(entries, start)
            ]
            # A first big file: the random-order indexes made once afterwards, not row
            # by row (agent/storage/bulk_load.py, _ENTRY_INDEXES).
            aside = (
                _ENTRY_INDEXES if worth_setting_aside(self.db, "dial_entries", len(rows)) else ()
            )
            with set_aside(self.db, aside):
                self.insert_many("dial_entries", _NEWENTRY_COLUMNS, rows)
        return len(rows)

    def clear_list(self, list_id: int) -> int:
        """Every entry but the one being called (replace mode, M6)."""
        with write_transaction(self.db):
            return self.execute(
                "DELETE FROM dial_entries WHERE list_id = ? AND state <> 'calling'", (list_id,)
            )

    def existing_numbers(self, list_id: int, numbers: Iterable[str]) -> set[str]:
        wanted = sorted(set(numbers))
        found: set[str] = set()
        for part in chunks(wanted):
            found.update(
                r[0]
                for r in self.rows(
                    f"SELECT number FROM dial_entries WHERE number IN ({marks(len(part))}) "
                    "AND list_id = ?",
                    (*part, list_id),
                )
            )
        return found

    def page(self, list_id: int, limit: int, offset: int) -> list[DialEntry]:
        return [
            entry_from_row(r)
            for r in self.rows(
                f"SELECT {ENTRY_COLUMNS} FROM dial_entries e WHERE e.list_id = ? "
                "ORDER BY e.position LIMIT ? OFFSET ?",
                (list_id, limit, offset),
            )
        ]

    def count(self, list_id: int) -> int:
        return int(
            self.rows("SELECT COUNT(*) FROM dial_entries WHERE list_id = ?", (list_id,))[0][0]
        )

    def get_entry(self, entry_id: int) -> DialEntry | None:
        found = self.rows(f"SELECT {ENTRY_COLUMNS} FROM dial_entries e WHERE e.id = ?", (entry_id,))
        return entry_from_row(found[0]) if found else None

    def all_entries(self, list_id: int) -> list[DialEntry]:
        return [
            entry_from_row(r)
            for r in self.rows(
                f"SELECT {ENTRY_COLUMNS} FROM dial_entries e WHERE e.list_id = ? "
                "ORDER BY e.position",
                (list_id,),
            )
        ]

    def delete_entry(self, entry_id: int) -> bool:
        with write_transaction(self.db):
            return self.execute("DELETE FROM dial_entries WHERE id = ?", (entry_id,)) > 0

    def skip_entry(self, entry_id: int) -> bool:
        states = (*sorted(s.value for s in PICKABLE), EntryState.CALLING.value)
        return (
            self.execute(
                f"UPDATE dial_entries SET state = 'skipped' WHERE id = ? "
                f"AND state IN ({marks(len(states))})",
                (entry_id, *states),
            )
            > 0
        )

    def move(self, entry_id: int, up: bool) -> bool:
        """Swap the entry with its neighbour above (``up``) or below; False at an end."""
        with write_transaction(self.db):
            found = self.rows(
                "SELECT list_id, position FROM dial_entries WHERE id = ?" + self.lock(),
                (entry_id,),
            )
            if not found:
                return False
            list_id, position = int(found[0][0]), int(found[0][1])
            cmp, order = ("<", "DESC") if up else (">", "ASC")
            other = self.rows(
                f"SELECT id, position FROM dial_entries WHERE list_id = ? AND position {cmp} ? "
                f"ORDER BY position {order} LIMIT 1",
                (list_id, position),
            )
            if not other:
                return False
            other_id, other_position = int(other[0][0]), int(other[0][1])
            self.execute(
                "UPDATE dial_entries SET position = ? WHERE id = ?", (other_position, entry_id)
            )
            self.execute("UPDATE dial_entries SET position = ? WHERE id = ?", (position, other_id))
        return True

    def set_positions(self, ordered_ids: Sequence[int]) -> None:
        """Number the entries 1, 2, 3… in this order (ABC sort)."""
        with write_transaction(self.db), PEEWEE_ERRORS:
            cursor = self.db.cursor()  # type: ignore[no-untyped-call]
            cursor.executemany(
                self.sql("UPDATE dial_entries SET position = ? WHERE id = ?"),
                [(i + 1, eid) for i, eid in enumerate(ordered_ids)],
            )

    # ------------------------------------------------------------ the next entry

    def zones(self, list_id: int) -> list[str]:
        """The time zones among the list's pickable entries: a skip scan of the index."""
        step = (
            f"SELECT zone FROM dial_entries WHERE list_id = ? AND {_PICKABLE_SQL} "
            "AND zone > z.zone ORDER BY zone LIMIT 1"
        )
        first = (
            f"SELECT zone FROM dial_entries WHERE list_id = ? AND {_PICKABLE_SQL} "
            "ORDER BY zone LIMIT 1"
        )
        sql = (
            f"WITH RECURSIVE z(zone) AS (SELECT ({first}) UNION ALL "
            f"SELECT ({step}) FROM z WHERE z.zone IS NOT NULL) "
            "SELECT zone FROM z WHERE zone IS NOT NULL"
        )
        return [r[0] for r in self.rows(sql, (list_id, list_id))]

    def pick(
        self, list_id: int, zones: Sequence[str], *, smart: bool, now: datetime
    ) -> DialEntry | None:
        """The entry to dial next among those in ``zones`` (agent/core/dial_list.py)."""
        order = (
            "e.next_dial_at, e.attempts, e.sort_key, e.position"
            if smart
            else "e.sort_key, e.position"
        )
        sql = (
            f"SELECT {ENTRY_COLUMNS} FROM dial_entries e WHERE e.list_id = ? AND e.zone = ? "
            f"AND e.{_PICKABLE_SQL} AND e.next_dial_at <= ? AND {_NOT_DNC} "
            f"ORDER BY {order} LIMIT 1"
        )
        now_text = utc_text(now)
        found = [
            entry_from_row(rows[0])
            for zone in zones
            if (rows := self.rows(sql, (list_id, zone, now_text)))
        ]
        return min(found, key=lambda e: order_key(e, smart), default=None)

    def earliest_due(self, list_id: int, zone: str) -> datetime | None:
        """When the zone's first pickable entry falls due (may be in the past)."""
        found = self.rows(
            "SELECT e.next_dial_at FROM dial_entries e WHERE e.list_id = ? AND e.zone = ? "
            f"AND e.{_PICKABLE_SQL} AND {_NOT_DNC} ORDER BY e.next_dial_at LIMIT 1",
            (list_id, zone),
        )
        return to_utc(found[0][0]) if found else None

    # ------------------------------------------------------------ attempts

    def begin_attempt(
        self, entry_id: int, operator_ext: str, now: datetime
    ) -> tuple[int, DialEntry] | None:
        """Write the attempt and mark the entry calling, before makeCall (item 8).

        None when the entry is no longer to be dialled (deleted, skipped, DNC, or
        another agent took it) — then nothing is written.
        """
        with write_transaction(self.db):
            found = self.rows(
                f"SELECT {ENTRY_COLUMNS} FROM dial_entries e WHERE e.id = ?" + self.lock(),
                (entry_id,),
            )
            if not found:
                return None
            entry = entry_from_row(found[0])
            if not entry.pickable or entry.next_dial_at > now or self.dnc_contains([entry.number]):
                return None
            inserted = self.rows(
                "INSERT INTO dial_attempts (entry_id, list_id, operator_ext, number, started_at, "
                "prev_state, prev_next_dial_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    entry.id,
                    entry.list_id,
                    operator_ext,
                    entry.number,
                    utc_text(now),
                    entry.state.value,
                    utc_text(entry.next_dial_at),
                ),
            )
            attempt_id = int(inserted[0][0])
            self.execute(
                "UPDATE dial_entries SET state = 'calling', attempts = attempts + 1, "
                "last_attempt_at = ? WHERE id = ?",
                (utc_text(now), entry.id),
            )
        return attempt_id, entry

    def set_attempt_uuid(self, attempt_id: int, uuid: str) -> None:
        self.execute("UPDATE dial_attempts SET uuid = ? WHERE id = ?", (uuid, attempt_id))

    def finish_attempt(
        self,
        attempt_id: int,
        entry: DialEntry,
        *,
        uuid: str | None,
        outcome: str,
        talk_s: int,
        provisional: bool,
        decision: Decision,
        now: datetime,
    ) -> None:
        """The attempt's outcome, and the retry rule's decision for its entry (U6, A6).

        An entry the operator skipped or changed during the call keeps its state; it
        still counts the attempt's outcome class.
        """
        tries = decision.tries
        with write_transaction(self.db):
            self.execute(
                "UPDATE dial_attempts SET ended_at = ?, outcome = ?, talk_s = ?, provisional = ?, "
                "uuid = COALESCE(?, uuid) WHERE id = ?",
                (utc_text(now), outcome, talk_s, provisional, uuid, attempt_id),
            )
            counts = (tries.no_answer, tries.busy, tries.failed, outcome)
            if decision.remove:
                self.execute(
                    "DELETE FROM dial_entries WHERE id = ? AND state = 'calling'", (entry.id,)
                )
            else:
                next_at = decision.next_dial_at or entry.next_dial_at
                self.execute(
                    "UPDATE dial_entries SET state = ?, next_dial_at = ?, tries_no_answer = ?, "
                    "tries_busy = ?, tries_failed = ?, last_outcome = ? "
                    "WHERE id = ? AND state = 'calling'",
                    (decision.state.value, utc_text(next_at), *counts, entry.id),
                )
            self.execute(
                "UPDATE dial_entries SET tries_no_answer = ?, tries_busy = ?, tries_failed = ?, "
                "last_outcome = ? WHERE id = ? AND state <> 'calling'",
                (*counts, entry.id),
            )
            if decision.whole_contact:
                self._whole_contact(entry, decision)

    def _whole_contact(self, entry: DialEntry, decision: Decision) -> None:
        """U6: every other number of the contact (or this number, with no contact)."""
        value: int | str
        if entry.contact_id is not None:
            which, value = "contact_id = ?", entry.contact_id
        else:
            which, value = "number = ?", entry.number
        where = f"list_id = ? AND {which} AND id <> ? AND {_PICKABLE_SQL}"
        params = (entry.list_id, value, entry.id)
        if decision.remove:
            self.execute(f"DELETE FROM dial_entries WHERE {where}", params)
        else:
            self.execute(f"UPDATE dial_entries SET state = 'done' WHERE {where}", params)

    def undo_attempt(self, attempt_id: int) -> bool:
        """No call went out: the attempt goes, the entry gets its state back (item 8)."""
        with write_transaction(self.db):
            found = self.rows(
                "SELECT entry_id, prev_state, prev_next_dial_at FROM dial_attempts "
                "WHERE id = ? AND outcome IS NULL" + self.lock(),
                (attempt_id,),
            )
            if not found:
                return False
            entry_id, prev_state, prev_next = found[0]
            self.execute("DELETE FROM dial_attempts WHERE id = ?", (attempt_id,))
            if entry_id is not None:
                prev_at = to_utc(prev_next)
                assert prev_at is not None
                self.execute(
                    "UPDATE dial_entries SET attempts = attempts - 1, "
                    "state = CASE WHEN state = 'calling' THEN ? ELSE state END, "
                    "next_dial_at = CASE WHEN state = 'calling' THEN ? ELSE next_dial_at END "
                    "WHERE id = ?",
                    (prev_state, utc_text(prev_at), entry_id),
                )
        return True

    def open_attempts(self, operator_ext: str) -> list[OpenAttempt]:
        return [
            OpenAttempt(
                int(r[0]),
                None if r[1] is None else int(r[1]),
                int(r[2]),
                r[3],
                r[4],
                utc(r[5]),
            )
            for r in self.rows(
                "SELECT id, entry_id, list_id, number, uuid, started_at FROM dial_attempts "
                "WHERE operator_ext = ? AND outcome IS NULL ORDER BY id",
                (operator_ext,),
            )
        ]

    def number_progress(self, number: str, operator_ext: str) -> tuple[int, datetime] | None:
        """(attempts, next dial) of ``number`` still to call in the operator's lists (B13:
        the popup says it), the soonest if it is in several."""
        found = self.rows(NUMBER_PROGRESS_SQL, (number, operator_ext))
        return (int(found[0][0]), utc(found[0][1])) if found else None

    def last_call(self, operator_ext: str) -> str | None:
        """The uuid of the operator's newest attempt when its outcome is written (A5: its
        event may still hold the dialer after a restart); None when that attempt is
        still open (a restart resolves it first, item 8) or never got a uuid."""
        found = self.rows(
            "SELECT uuid, outcome FROM dial_attempts WHERE operator_ext = ? "
            "ORDER BY id DESC LIMIT 1",
            (operator_ext,),
        )
        if not found or found[0][1] is None or not found[0][0]:
            return None
        return str(found[0][0])

    def attempts_of(self, entry_id: int) -> list[tuple[str | None, str | None, datetime]]:
        """(uuid, outcome, started_at) of an entry's attempts, oldest first."""
        return [
            (r[0], r[1], utc(r[2]))
            for r in self.rows(
                "SELECT uuid, outcome, started_at FROM dial_attempts "
                "WHERE entry_id = ? ORDER BY id",
                (entry_id,),
            )
        ]

    # ------------------------------------------------------------ do not call (B3)

    def dnc_add(self, number: str, reason: str | None, added_by: str, now: datetime) -> int:
        """Put a number on the list; its pickable entries (every list) become dnc."""
        states = sorted(s.value for s in PICKABLE)
        with write_transaction(self.db):
            self.execute(
                "INSERT INTO dnc_numbers (number, reason, added_by, added_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (number) DO UPDATE SET reason = excluded.reason",
                (number, reason, added_by, utc_text(now)),
            )
            return self.execute(
                "UPDATE dial_entries SET state = 'dnc' "
                f"WHERE number = ? AND state IN ({marks(len(states))})",
                (number, *states),
            )

    def dnc_remove(self, number: str) -> bool:
        with write_transaction(self.db):
            removed = self.execute("DELETE FROM dnc_numbers WHERE number = ?", (number,)) > 0
            self.execute(
                "UPDATE dial_entries SET state = CASE WHEN attempts > 0 THEN 'postponed' "
                "ELSE 'pending' END WHERE number = ? AND state = 'dnc'",
                (number,),
            )
        return removed

    def dnc_page(
        self, limit: int, offset: int
    ) -> list[tuple[str, str | None, str | None, datetime]]:
        return [
            (r[0], r[1], r[2], utc(r[3]))
            for r in self.rows(
                "SELECT number, reason, added_by, added_at FROM dnc_numbers "
                "ORDER BY number LIMIT ? OFFSET ?",
                (limit, offset),
            )
        ]

    def dnc_contains(self, numbers: Iterable[str]) -> set[str]:
        asked = set(numbers)
        if len(asked) > IN_CHUNK:
            # An import's many numbers: a do-not-call list no longer than them (most
            # teams' is short) is read whole in one query instead of one per IN_CHUNK
            # numbers; LIMIT tells whether it is.
            listed = self.rows("SELECT number FROM dnc_numbers LIMIT ?", (len(asked) + 1,))
            if len(listed) <= len(asked):
                return asked.intersection([r[0] for r in listed])
        found: set[str] = set()
        for part in chunks(sorted(asked)):
            found.update(
                r[0]
                for r in self.rows(
                    f"SELECT number FROM dnc_numbers WHERE number IN ({marks(len(part))})", part
                )
            )
        return found


def utc(value: Any) -> datetime:
    parsed = to_utc(value)
    assert parsed is not None
    return parsed
