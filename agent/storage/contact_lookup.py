"""The popup's lookup in one statement (B13, B14; issue 4: p99 ≤ 1 ms at 1M contacts).

A ringing call's context needs, for its number: the live contacts holding it, each
with its last note, its nearest planned event and its newest robot answer (J2); the
newest finished call with the number ("last contact", "seen before"); and, when the
dialer is wired, the number's attempts in the operator's dial lists. These were four
to six statements a lookup (ContactsRepository.matches_with_facts, .last_call,
EventsRepository.get and .last_robot_answer, DialerRepository.number_progress); here
they are one, written once per database:

- a one-row anchor, so the call and dial-list facts come back when no contact has
  the number; the contacts join it on the number's index key;
- the last call, the dial-list entry, the planned event and the robot answer are
  rows joined by the key their subquery picks (one index probe each: the journal's
  ``calls_number_end_at``, ``dial_entries_number``, ``events_planned_contact``, and
  ``events_robot`` of m0014: a contact without robot events costs one probe of a
  small index, not a read of every event of the contact). Materialised subqueries
  instead cost ~5 µs more a lookup (an ephemeral table, a sorter).

Each subquery is the very one the repositories' own methods run, so the lookup and
those methods give the same answers (tests/contacts/test_lookup_statement.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, NamedTuple

import peewee as pw

from agent.core.call_events import Event
from agent.core.contacts import DialProgress, LastCall, RobotAnswer
from agent.storage.contacts_repo import (
    _CONTACT_COLUMNS,
    _LAST_NOTE,
    _NEAREST_PLANNED,
    LAST_CALL_FROM,
    Match,
    _utc,
    contact_from_row,
)
from agent.storage.dialer_repository import NUMBER_PROGRESS_FROM
from agent.storage.events_repo import (
    _EVENT_COLUMNS,
    event_from_row,
    robot_answer,
    robot_event_id,
)
from agent.storage.migrations.base import PEEWEE_ERRORS

_CONTACT: Final = len(_CONTACT_COLUMNS.split(", "))  # 11 columns, then the phone index
_EVENT: Final = len(_EVENT_COLUMNS.split(", "))


def _prefixed(alias: str, columns: str) -> str:
    return ", ".join(f"{alias}.{column}" for column in columns.split(", "))


class Facts(NamedTuple):
    """A match with what B13 says of its contact (a named tuple: the lookup makes one
    a match, and a frozen dataclass costs ~1 µs more to build)."""

    match: Match
    last_note: str | None
    planned: Event | None
    robot: RobotAnswer | None


class Looked(NamedTuple):
    """What the database says about a number (unranked: the service ranks)."""

    matches: list[Facts]
    last_call: LastCall | None
    dialing: DialProgress | None


class ContactLookup:
    """The statement for one database; :meth:`find` runs it (on any thread holding a
    connection: ``Storage.read`` or the worker)."""

    def __init__(self, db: pw.Database) -> None:
        self._db = db
        postgres = isinstance(db, pw.PostgresqlDatabase)
        self._sql: dict[bool, str] = {}
        for dialing in (False, True):
            sql = statement(dialing, postgres)
            self._sql[dialing] = sql.replace("?", "%s") if postgres else sql

    def find(self, key: str, dial_owner: str | None = None) -> Looked:
        """The live contacts having ``key`` with their facts, the newest finished call
        with ``key``, and (``dial_owner`` given) its progress in that operator's lists."""
        dialing = dial_owner is not None
        params = (key, key, dial_owner, key) if dialing else (key, key)
        cursor = self._db.cursor()  # type: ignore[no-untyped-call]
        with PEEWEE_ERRORS:
            cursor.execute(self._sql[dialing], params)
            rows: list[Sequence[Any]] = cursor.fetchall()
        first = rows[0]  # the anchor makes one row at least
        last_call = None
        if first[0] is not None:
            at = _utc(first[0])
            assert at is not None
            last_call = LastCall(at, first[1], first[2], int(first[3] or 0))
        progress = None
        if dialing and first[4] is not None:
            next_at = _utc(first[5])
            assert next_at is not None
            progress = DialProgress(int(first[4]), next_at)
        start = 6 if dialing else 4
        matches = [_facts(row, start) for row in rows if row[start] is not None]
        return Looked(matches, last_call, progress)


def statement(dialing: bool, postgres: bool = False) -> str:
    """The lookup's SQL (``?`` placeholders). Parameters in order of appearance: the
    number (last call), [the number and the operator (dial progress)], the index key:
    the same text but the operator's extension."""
    # The call and the dial-list entry are joined by the key their subquery picks (the
    # index probe alone), as the events are: no materialised subquery, no sorter.
    call_key = "uuid" if postgres else "rowid"  # SQLite: the index entry holds the rowid
    dial_columns = ", dp.attempts, dp.next_dial_at" if dialing else ""
    dial_join = (
        f"LEFT JOIN dial_entries dp ON dp.id = (SELECT e.id {NUMBER_PROGRESS_FROM}) "
        if dialing
        else ""
    )
    return (
        f"SELECT lc.end_at, lc.outcome, lc.direction, lc.talk_s{dial_columns}, "
        f"{_prefixed('c', _CONTACT_COLUMNS)}, n.phone_index, {_LAST_NOTE}, "
        "r.fields, r.importance, r.planned_at, r.created_at, "
        f"{_prefixed('p', _EVENT_COLUMNS)} "
        "FROM (SELECT 1 AS one) q "
        f"LEFT JOIN calls lc ON lc.{call_key} = (SELECT {call_key} {LAST_CALL_FROM}) "
        f"{dial_join}"
        # The join keeps the anchor's row when no contact has the key; a key names
        # live contacts only (soft_delete drops a contact's keys), the test is a net.
        "LEFT JOIN contact_numbers n ON n.key = ? "
        "LEFT JOIN contacts c ON c.id = n.contact_id AND c.deleted_at IS NULL "
        f"LEFT JOIN events p ON p.id = {_NEAREST_PLANNED} "
        f"LEFT JOIN events r ON r.id = {robot_event_id(postgres).replace('?', 'c.id')}"
    )


def _facts(row: Sequence[Any], start: int) -> Facts:
    # The contact's 11 columns, its phone index, last note, the robot event's four
    # columns (fields is NOT NULL: set when there is one), the planned event's.
    end = start + _CONTACT
    robot_at = end + 2
    planned_at = robot_at + 4
    answer = None
    if row[robot_at] is not None:
        found = robot_answer(*row[robot_at:planned_at])
        answer = None if found is None else RobotAnswer(*found)
    planned = None
    if row[planned_at] is not None:
        planned = event_from_row(row[planned_at : planned_at + _EVENT])
    return Facts(Match(contact_from_row(row, start), row[end]), row[end + 1], planned, answer)
