"""Queries of jobs and team mode: runs, leases, heartbeats, secret holders, robot calls.

Synchronous, for the storage worker thread (``await storage.run(repo.claim, …)``),
like ``repositories.py``. A lease is one row per job; taking it is a read-decide-write
in one write transaction (SQLite ``BEGIN IMMEDIATE``; PostgreSQL ``FOR UPDATE`` on
the row), so two agents never both win a period (B5). The decision itself is pure
(``agent.core.schedule.lease_verdict``).

**One clock for the leases.** On PostgreSQL the agents run on several machines whose
clocks differ. A lease's times are the database's (``clock_timestamp()``, read after
the row lock is held, not ``now()``: that is the transaction's start, and the lock may
have been waited for), and so is the time a lease is judged by: a claimant whose clock
runs ahead of a live holder's lease does not take it over (the job would run twice),
and a holder whose clock runs behind or ahead writes expiries the others read right.
The ``now`` arguments are then only for what no other agent judges. SQLite is one
machine: the agent's clock (``now``), as before. The same rule holds the heartbeats
(agent/jobs/presence.py ``HeartbeatQueries``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Final

import peewee as pw

from agent.core.errors import InvalidInput
from agent.core.events import Direction, HistoryRecord
from agent.core.journal import Source
from agent.core.outcomes import outcome_of
from agent.core.schedule import LeaseState, Verdict, lease_verdict
from agent.storage.jobs_models import (
    HeartbeatRow,
    JobLeaseRow,
    JobRunRow,
    RobotCallRow,
    SecretHolderRow,
)
from agent.storage.models import to_utc
from agent.storage.repositories import CALL_COLUMN_NAMES, insert_rows
from agent.storage.schema import write_transaction

_IN_CHUNK = 500
_HEX32: Final = re.compile(r"[0-9a-f]{32}")
_SECOND: Final = timedelta(seconds=1)

# J1's rows (:func:`import_row`) hold the journal's columns but three that are the same in
# every imported row, which the INSERT writes as literals: binding None or True costs
# sqlite3 ~0.4 µs a value (it looks for an adapter), 100k rows a run.
IMPORT_FIXED: Final = {'"contact_id"': "NULL", '"source"': "'import'", '"final"': "TRUE"}
IMPORT_COLUMNS: Final = tuple(c for c in CALL_COLUMN_NAMES if c not in IMPORT_FIXED)


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class Claim:
    """The answer to "may I run this job now?"."""

    verdict: Verdict
    period_at: datetime
    run_id: int | None = None  # the run recorded for us (CLAIM, TAKE_OVER)
    holder: str | None = None  # who holds it (BUSY)
    holder_host: str | None = None
    expires_at: datetime | None = None  # when the holder's lease runs out (BUSY)
    taken_over: int | None = None  # the run that died (TAKE_OVER)
    # The time the verdict was judged at, by the clock ``expires_at`` is on (the
    # database's on PostgreSQL): ``expires_at - judged_at`` is how long the holder's
    # lease has left, whatever this machine's clock says.
    judged_at: datetime | None = None

    @property
    def granted(self) -> bool:
        return self.verdict in (Verdict.CLAIM, Verdict.TAKE_OVER)


@dataclass(frozen=True, slots=True)
class JobRun:
    id: int
    job: str
    period_at: datetime
    trigger: str
    agent_id: str
    host: str
    started_at: datetime
    ended_at: datetime | None
    state: str
    counts: dict[str, Any]
    error: str | None
    taken_over: int | None


@dataclass(frozen=True, slots=True)
class Lease:
    job: str
    holder: str | None
    holder_host: str | None
    period_at: datetime | None
    state: str
    expires_at: datetime | None
    run_id: int | None


@dataclass(frozen=True, slots=True)
class Heartbeat:
    agent_id: str
    domain: str
    ext: str
    operator: str
    host: str
    pid: int
    version: str
    link_state: str
    started_at: datetime
    seen_at: datetime


HEARTBEAT_COLUMNS: Final = tuple(f.name for f in dataclass_fields(Heartbeat))


@dataclass(frozen=True, slots=True)
class RobotCall:
    call_id: str
    number: str
    dtmf: str
    called_at: datetime | None
    event_id: int | None


def heartbeat_values(beat: Heartbeat) -> dict[str, Any]:
    """The ``heartbeats`` columns of a beat (:func:`write_heartbeat`): the fields are
    named as the columns."""
    return {name: getattr(beat, name) for name in HEARTBEAT_COLUMNS}


def write_heartbeat(db: pw.Database, values: Mapping[str, Any]) -> None:
    """Insert or replace one agent's ``heartbeats`` row (:func:`heartbeat_values`; the
    caller may put an SQL expression for ``seen_at``)."""
    preserve = [f for f in HeartbeatRow._meta.sorted_fields if f.name != "agent_id"]
    HeartbeatRow.insert(**values).on_conflict(
        conflict_target=[HeartbeatRow.agent_id], preserve=preserve
    ).execute(db)


def heartbeat_from_row(row: HeartbeatRow) -> Heartbeat:
    """A ``heartbeats`` row as a :class:`Heartbeat` (every reader of the table uses this)."""
    return Heartbeat(*(getattr(row, name) for name in HEARTBEAT_COLUMNS))


def import_row(record: HistoryRecord, completed_talk_s: int) -> tuple[Any, ...]:
    """The row J1 adds for a call no agent recorded, as :data:`IMPORT_COLUMNS`: exactly
    ``call_row(merge_history(None, record, own_ext=record.ext or "", source=IMPORT, …))``
    without the :data:`IMPORT_FIXED` columns (a test holds them equal), built without
    the two objects in between, because the import builds 100k of them (bench/jobs.py).

    A record from the PBX with a uuid that is no call id never gets here: the wire
    rejects it alone (agent/phonet/wire.py), so this check is for callers' bugs."""
    uuid = record.uuid
    if not _HEX32.fullmatch(uuid):
        raise InvalidInput(
            f"journal uuid {uuid!r} is not 32 lower-case hex characters", field="uuid"
        )
    ext = record.ext or ""
    direction = record.direction
    if direction is _INTERNAL:  # core/journal.py _parties, own_ext = ext
        number = ext if record.ext2 == ext else record.ext2 or ""
    else:
        number = record.number or ""
    end = record.end_at
    if end.tzinfo is not UTC:  # as utc_text (agent/storage/models.py)
        if end.tzinfo is None or end.utcoffset() is None:
            raise ValueError(f"end_at: naive datetime {end.isoformat()}; give it a time zone")
        end = end.astimezone(UTC)
    # The three times differ from the end by whole seconds: one fraction, and the
    # seconds since the epoch as an integer (exact, unlike timestamp()'s float).
    second = (end - _EPOCH) // _SECOND
    microsecond = end.microsecond
    fraction = _fraction(microsecond)
    talk_s = record.talk_s
    duration_s = record.duration_s
    disposition = record.disposition
    answered = talk_s > 0 or disposition == 0
    return (
        uuid,
        direction._value_,  # ``.value`` is a Python-level property: 100k calls a run
        number,
        ext,
        _second_text(second - duration_s, fraction),
        _second_text(second - talk_s, fraction) if answered else None,
        _second_text(second, fraction),
        talk_s,
        duration_s,
        disposition,
        outcome_of(disposition, talk_s, completed_talk_s)._value_,
        record.audio_url,
        record.name,
        record.parent_uuid,
        record.trunk,
    )


# import_row's times, as utc_text writes them ("2025-03-03T12:00:07.000000+00:00"), put
# together from a minute's text, the second and the fraction: three isoformat() a row,
# with their datetimes, cost the loop 2.3 µs more a row (bench/jobs.py: 100k rows a run,
# calls minutes apart at most). The memos of these pure functions are bounded; a miss
# costs one isoformat().
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_INTERNAL: Final = Direction.INTERNAL  # an enum class's member costs a lookup: 100k a run
_TWO_DIGITS: Final = tuple(f"{n:02d}" for n in range(60))


def _second_text(second: int, fraction: str) -> str:
    """``utc_text`` of ``second`` (since the epoch) plus ``fraction``."""
    minute, rest = divmod(second, 60)
    return f"{_minute_text(minute)}{_TWO_DIGITS[rest]}{fraction}"


@lru_cache(maxsize=4096)
def _minute_text(minute: int) -> str:
    """Minutes since the epoch as ``"2025-03-03T12:00:"``."""
    return (_EPOCH + timedelta(minutes=minute)).isoformat()[:17]


@lru_cache(maxsize=4096)
def _fraction(microsecond: int) -> str:
    """A fraction of a second and the zone, as ``".000000+00:00"``."""
    return f".{microsecond:06d}+00:00"


class JobsRepository:
    def __init__(self, db: pw.Database) -> None:
        self._db = db
        # PostgreSQL: several machines, so the database's clock (module docstring).
        self.database_clock = isinstance(db, pw.PostgresqlDatabase)

    def current_time(self, now: datetime) -> datetime:
        """The time leases are judged by: the database's on PostgreSQL, else ``now``."""
        return self._database_now() if self.database_clock else now

    def _database_now(self) -> datetime:
        cursor = self._db.execute_sql("SELECT clock_timestamp()")  # type: ignore[no-untyped-call]
        value = to_utc(cursor.fetchone()[0])
        assert value is not None
        return value

    def _stamp(self, now: datetime) -> Any:
        """A time to write that no agent judges a lease by: the database's on PostgreSQL
        (so a run's start and end are on one clock), else ``now``."""
        return pw.fn.clock_timestamp() if self.database_clock else now

    # -------------------------------------------------------------- leases

    def claim(
        self,
        job: str,
        *,
        holder: str,
        host: str,
        period: datetime,
        now: datetime,
        ttl: timedelta,
        trigger: str,
        manual: bool = False,
    ) -> Claim:
        """Take the job's lease for ``period`` if no one holds it and the period has
        not run; records the run (state ``running``) in the same transaction.

        ``now`` is the agent's clock; on PostgreSQL the database's, read once the row
        is locked, judges the lease and dates the run and the expiry instead."""
        with write_transaction(self._db):
            JobLeaseRow.insert(
                job=job, state="idle", updated_at=self._stamp(now)
            ).on_conflict_ignore().execute(self._db)
            query = JobLeaseRow.select().where(JobLeaseRow.job == job)
            if self.database_clock:
                query = query.for_update()
            row: JobLeaseRow = query.get(self._db)
            if self.database_clock:
                now = self._database_now()
            state = LeaseState(row.holder, row.period_at, row.state == "running", row.expires_at)
            verdict, period_at = lease_verdict(state, period=period, now=now, manual=manual)
            if verdict is Verdict.BUSY:
                return Claim(
                    verdict,
                    period_at,
                    None,
                    row.holder,
                    row.holder_host,
                    row.expires_at,
                    judged_at=now,
                )
            if verdict is Verdict.DONE:
                return Claim(verdict, period_at, judged_at=now)
            taken_over = row.run_id if verdict is Verdict.TAKE_OVER else None
            if taken_over is not None:
                JobRunRow.update(state="lost", ended_at=now).where(
                    JobRunRow.id == taken_over, JobRunRow.state == "running"
                ).execute(self._db)
            run_id = int(
                JobRunRow.insert(
                    job=job,
                    period_at=period_at,
                    trigger=trigger,
                    agent_id=holder,
                    host=host,
                    started_at=now,
                    state="running",
                    counts="{}",
                    taken_over=taken_over,
                ).execute(self._db)
            )
            JobLeaseRow.update(
                holder=holder,
                holder_host=host,
                period_at=period_at,
                state="running",
                expires_at=now + ttl,
                run_id=run_id,
                updated_at=now,
            ).where(JobLeaseRow.job == job).execute(self._db)
            return Claim(verdict, period_at, run_id, taken_over=taken_over, judged_at=now)

    def renew(self, job: str, run_id: int, *, now: datetime, ttl: timedelta) -> bool:
        """Push the lease's expiry on (``ttl`` from now: the database's now on
        PostgreSQL); False when the lease is no longer ours."""
        if self.database_clock:
            cursor = self._db.execute_sql(  # type: ignore[no-untyped-call]
                "UPDATE job_leases SET expires_at = clock_timestamp()"
                " + make_interval(secs => %s::double precision), updated_at = clock_timestamp()"
                " WHERE job = %s AND run_id = %s AND state = 'running'",
                (ttl.total_seconds(), job, run_id),
            )
            return int(cursor.rowcount) > 0
        changed = (
            JobLeaseRow.update(expires_at=now + ttl, updated_at=now)
            .where(
                JobLeaseRow.job == job,
                JobLeaseRow.run_id == run_id,
                JobLeaseRow.state == "running",
            )
            .execute(self._db)
        )
        return int(changed) > 0

    def finish(
        self,
        job: str,
        run_id: int,
        *,
        now: datetime,
        state: str,
        counts: Mapping[str, Any],
        error: str | None = None,
    ) -> None:
        """The run ended (``ok`` or ``failed``): its period is done."""
        with write_transaction(self._db):
            self._end_run(run_id, now=now, state=state, counts=counts, error=error)
            JobLeaseRow.update(state="done", expires_at=None, updated_at=self._stamp(now)).where(
                JobLeaseRow.job == job, JobLeaseRow.run_id == run_id
            ).execute(self._db)

    def release(self, job: str, run_id: int, *, now: datetime, counts: Mapping[str, Any]) -> None:
        """The run was stopped mid-way (the agent quits): the period is not done, and
        the lease expires now (the database's now on PostgreSQL: a clock running ahead
        would hold the period for as long) so another agent takes it over at once."""
        with write_transaction(self._db):
            self._end_run(run_id, now=now, state="stopped", counts=counts, error=None)
            if self.database_clock:
                self._db.execute_sql(  # type: ignore[no-untyped-call]
                    "UPDATE job_leases SET expires_at = clock_timestamp(),"
                    " updated_at = clock_timestamp()"
                    " WHERE job = %s AND run_id = %s AND state = 'running'",
                    (job, run_id),
                )
                return
            JobLeaseRow.update(expires_at=now, updated_at=now).where(
                JobLeaseRow.job == job,
                JobLeaseRow.run_id == run_id,
                JobLeaseRow.state == "running",
            ).execute(self._db)

    def _end_run(
        self,
        run_id: int,
        *,
        now: datetime,
        state: str,
        counts: Mapping[str, Any],
        error: str | None,
    ) -> None:
        JobRunRow.update(
            state=state, ended_at=self._stamp(now), counts=_dump(dict(counts)), error=error
        ).where(JobRunRow.id == run_id, JobRunRow.state == "running").execute(self._db)

    def progress(self, run_id: int, counts: Mapping[str, Any]) -> None:
        JobRunRow.update(counts=_dump(dict(counts))).where(
            JobRunRow.id == run_id, JobRunRow.state == "running"
        ).execute(self._db)

    def lease(self, job: str) -> Lease | None:
        rows = list(JobLeaseRow.select().where(JobLeaseRow.job == job).execute(self._db))
        return _lease(rows[0]) if rows else None

    def leases(self) -> dict[str, Lease]:
        return {row.job: _lease(row) for row in JobLeaseRow.select().execute(self._db)}

    # -------------------------------------------------------------- runs

    def runs(self, job: str | None = None, *, limit: int = 20, offset: int = 0) -> list[JobRun]:
        """Runs newest first (of one job, or of all)."""
        query = JobRunRow.select()
        if job is not None:
            query = query.where(JobRunRow.job == job)
        query = query.order_by(JobRunRow.started_at.desc(), JobRunRow.id.desc())
        return [_run(row) for row in query.limit(limit).offset(offset).execute(self._db)]

    def run(self, run_id: int) -> JobRun | None:
        rows = list(JobRunRow.select().where(JobRunRow.id == run_id).execute(self._db))
        return _run(rows[0]) if rows else None

    def count_runs(self, job: str | None = None) -> int:
        query = JobRunRow.select()
        if job is not None:
            query = query.where(JobRunRow.job == job)
        return int(query.count(self._db))

    # -------------------------------------------------------------- heartbeats

    def beat(self, beat: Heartbeat) -> None:
        """Insert or replace the agent's row, ``seen_at`` as given (the agent's own clock:
        presence writes through agent/jobs/presence.py ``HeartbeatQueries``, which takes
        the database's on PostgreSQL)."""
        write_heartbeat(self._db, heartbeat_values(beat))

    def forget(self, agent_id: str) -> None:
        """An agent that leaves cleanly disappears from presence at once."""
        HeartbeatRow.delete().where(HeartbeatRow.agent_id == agent_id).execute(self._db)

    def heartbeats(self, *, seen_since: datetime | None = None) -> list[Heartbeat]:
        query = HeartbeatRow.select()
        if seen_since is not None:
            query = query.where(HeartbeatRow.seen_at >= seen_since)
        query = query.order_by(HeartbeatRow.domain, HeartbeatRow.ext, HeartbeatRow.agent_id)
        return [heartbeat_from_row(row) for row in query.execute(self._db)]

    def prune_heartbeats(self, *, older_than: datetime) -> int:
        """Forget agents not seen for long (and what their keyrings held)."""
        with write_transaction(self._db):
            gone = [
                r.agent_id
                for r in HeartbeatRow.select(HeartbeatRow.agent_id)
                .where(HeartbeatRow.seen_at < older_than)
                .execute(self._db)
            ]
            if gone:
                HeartbeatRow.delete().where(HeartbeatRow.agent_id.in_(gone)).execute(self._db)
                SecretHolderRow.delete().where(SecretHolderRow.agent_id.in_(gone)).execute(self._db)
            return len(gone)

    # -------------------------------------------------------------- secret holders

    def set_holders(self, agent_id: str, holds: Mapping[str, bool], *, now: datetime) -> None:
        """What this agent's keyring holds (booleans only; never a secret)."""
        if not holds:
            return
        rows = [(agent_id, secret, bool(held), now) for secret, held in holds.items()]
        fields = [
            SecretHolderRow.agent_id,
            SecretHolderRow.secret,
            SecretHolderRow.holds,
            SecretHolderRow.updated_at,
        ]
        with write_transaction(self._db):
            SecretHolderRow.insert_many(rows, fields=fields).on_conflict(
                conflict_target=[SecretHolderRow.agent_id, SecretHolderRow.secret],
                preserve=[SecretHolderRow.holds, SecretHolderRow.updated_at],
            ).execute(self._db)

    def holders(self, secret: str | None = None) -> dict[str, dict[str, bool]]:
        """secret -> {agent_id: holds}."""
        query = SecretHolderRow.select()
        if secret is not None:
            query = query.where(SecretHolderRow.secret == secret)
        found: dict[str, dict[str, bool]] = {}
        for row in query.execute(self._db):
            found.setdefault(row.secret, {})[row.agent_id] = bool(row.holds)
        return found

    # -------------------------------------------------------------- the journal, for J1

    def call_sources(self, uuids: Iterable[str]) -> dict[str, Source]:
        """How the journal got each of these calls (normalised uuids: :func:`import_row`
        checks them), for those it has: J1's "recorded by an agent" test. One light
        query per 500 uuids: J1 asks this for 100k calls."""
        wanted = list(uuids)
        found: dict[str, Source] = {}
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start : start + _IN_CHUNK]
            marks = ", ".join([self._db.param] * len(chunk))
            cursor = self._db.execute_sql(  # type: ignore[no-untyped-call]
                f"SELECT uuid, source FROM calls WHERE uuid IN ({marks})", chunk
            )
            found.update((uuid, Source(source)) for uuid, source in cursor.fetchall())
        return found

    def insert_call_rows(self, rows: Sequence[tuple[Any, ...]]) -> int:
        """Add J1's journal rows (:func:`import_row`, made off the worker) that are not
        there; a row that is (an agent recorded the call meanwhile) is left as it is —
        never overwritten by an import."""
        if not rows:
            return 0
        with write_transaction(self._db):
            insert_rows(
                self._db,
                "calls",
                IMPORT_COLUMNS,
                rows,
                " ON CONFLICT (uuid) DO NOTHING",
                fixed=IMPORT_FIXED,
            )
        return len(rows)

    # -------------------------------------------------------------- robot calls

    def robot_seen(self, call_ids: Iterable[str]) -> set[str]:
        wanted = sorted(set(call_ids))
        seen: set[str] = set()
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start : start + _IN_CHUNK]
            query = RobotCallRow.select(RobotCallRow.call_id).where(RobotCallRow.call_id.in_(chunk))
            seen.update(row[0] for row in query.tuples().execute(self._db))
        return seen

    def robot_record(self, call: RobotCall, *, run_id: int | None, now: datetime) -> bool:
        """Remember an imported robot call; False when it was known already."""
        inserted = (
            RobotCallRow.insert(
                call_id=call.call_id,
                number=call.number,
                dtmf=call.dtmf,
                called_at=call.called_at,
                event_id=call.event_id,
                run_id=run_id,
                imported_at=now,
            )
            .on_conflict_ignore()
            .as_rowcount()
            .execute(self._db)
        )
        return int(inserted) > 0


def _lease(row: JobLeaseRow) -> Lease:
    return Lease(
        row.job,
        row.holder,
        row.holder_host,
        row.period_at,
        row.state,
        row.expires_at,
        row.run_id,
    )


def _run(row: JobRunRow) -> JobRun:
    try:
        counts = json.loads(row.counts) if row.counts else {}
    except ValueError:
        counts = {}
    return JobRun(
        id=int(row.id),
        job=row.job,
        period_at=row.period_at,
        trigger=row.trigger,
        agent_id=row.agent_id,
        host=row.host,
        started_at=row.started_at,
        ended_at=row.ended_at,
        state=row.state,
        counts=counts if isinstance(counts, dict) else {},
        error=row.error,
        taken_over=row.taken_over,
    )
