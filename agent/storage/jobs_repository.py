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
from datetime import UTC, datetime, timedelta
from typing import Any

import peewee as pw

from agent.core.errors import InvalidInput
from agent.core.events import Direction, HistoryRecord, normalise_uuid
from agent.core.journal import JournalEntry, Source
from agent.core.outcomes import outcome_of
from agent.core.schedule import LeaseState, Verdict, lease_verdict
from agent.storage.jobs_models import (
    HeartbeatRow,
    JobLeaseRow,
    JobRunRow,
    RobotCallRow,
    SecretHolderRow,
)
from agent.storage.migrations.base import PEEWEE_ERRORS
from agent.storage.models import to_utc
from agent.storage.repositories import CALL_COLUMNS, call_row
from agent.storage.schema import write_transaction

_IN_CHUNK = 500
_HEX32 = re.compile(r"[0-9a-f]{32}")


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


@dataclass(frozen=True, slots=True)
class RobotCall:
    call_id: str
    number: str
    dtmf: str
    called_at: datetime | None
    event_id: int | None


def import_row(record: HistoryRecord, completed_talk_s: int) -> tuple[Any, ...]:
    """The row J1 adds for a call no agent recorded: exactly
    ``call_row(merge_history(None, record, own_ext=record.ext or "", source=IMPORT, …))``
    (a test holds them equal), built without the two objects in between, because the
    import builds 100k of them (bench/jobs.py).

    A record from the PBX with a uuid that is no call id never gets here: the wire
    rejects it alone (agent/phonet/wire.py), so this check is for callers' bugs."""
    if not _HEX32.fullmatch(record.uuid):
        raise InvalidInput(
            f"journal uuid {record.uuid!r} is not 32 lower-case hex characters", field="uuid"
        )
    ext = record.ext or ""
    if record.direction is Direction.INTERNAL:  # core/journal.py _parties, own_ext = ext
        number = ext if record.ext2 == ext else record.ext2 or ""
    else:
        number = record.number or ""
    end = record.end_at if record.end_at.tzinfo is UTC else record.end_at.astimezone(UTC)
    if end.utcoffset() is None:
        raise ValueError(f"end_at: naive datetime {end.isoformat()}; give it a time zone")
    answered = record.talk_s > 0 or record.disposition == 0
    answer_at = end - timedelta(seconds=record.talk_s) if answered else None
    return (
        record.uuid,
        record.direction.value,
        number,
        ext,
        (end - timedelta(seconds=record.duration_s)).isoformat(timespec="microseconds"),
        answer_at.isoformat(timespec="microseconds") if answer_at is not None else None,
        end.isoformat(timespec="microseconds"),
        record.talk_s,
        record.duration_s,
        record.disposition,
        outcome_of(record.disposition, record.talk_s, completed_talk_s).value,
        record.audio_url,
        None,
        record.name,
        record.parent_uuid,
        record.trunk,
        Source.IMPORT.value,
        True,
    )


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
        values = {
            "agent_id": beat.agent_id,
            "domain": beat.domain,
            "ext": beat.ext,
            "operator": beat.operator,
            "host": beat.host,
            "pid": beat.pid,
            "version": beat.version,
            "link_state": beat.link_state,
            "started_at": beat.started_at,
            "seen_at": beat.seen_at,
        }
        preserve = [f for f in HeartbeatRow._meta.sorted_fields if f.name != "agent_id"]
        HeartbeatRow.insert(**values).on_conflict(
            conflict_target=[HeartbeatRow.agent_id], preserve=preserve
        ).execute(self._db)

    def forget(self, agent_id: str) -> None:
        """An agent that leaves cleanly disappears from presence at once."""
        HeartbeatRow.delete().where(HeartbeatRow.agent_id == agent_id).execute(self._db)

    def heartbeats(self, *, seen_since: datetime | None = None) -> list[Heartbeat]:
        query = HeartbeatRow.select()
        if seen_since is not None:
            query = query.where(HeartbeatRow.seen_at >= seen_since)
        query = query.order_by(HeartbeatRow.domain, HeartbeatRow.ext, HeartbeatRow.agent_id)
        return [
            Heartbeat(
                r.agent_id,
                r.domain,
                r.ext,
                r.operator,
                r.host,
                r.pid,
                r.version,
                r.link_state,
                r.started_at,
                r.seen_at,
            )
            for r in query.execute(self._db)
        ]

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
        """How the journal got each of these calls, for those it has (J1's "recorded by an
        agent" test). One light query per 500 uuids: J1 asks this for 100k calls."""
        wanted = sorted({normalise_uuid(u) for u in uuids})
        found: dict[str, Source] = {}
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start : start + _IN_CHUNK]
            marks = ", ".join([self._db.param] * len(chunk))
            cursor = self._db.execute_sql(  # type: ignore[no-untyped-call]
                f"SELECT uuid, source FROM calls WHERE uuid IN ({marks})", chunk
            )
            found.update((uuid, Source(source)) for uuid, source in cursor.fetchall())
        return found

    def insert_calls(self, entries: Iterable[JournalEntry]) -> int:
        """Add journal rows that are not there; a row that is (an agent recorded the call
        meanwhile) is left as it is — never overwritten by an import."""
        return self.insert_call_rows(list({e.uuid: call_row(e) for e in entries}.values()))

    def insert_call_rows(self, rows: Sequence[tuple[Any, ...]]) -> int:
        """:meth:`insert_calls` for rows made by :func:`call_row` (off the worker)."""
        if not rows:
            return 0
        head = f"INSERT INTO calls ({CALL_COLUMNS}) VALUES "
        tail = " ON CONFLICT (uuid) DO NOTHING"
        with write_transaction(self._db), PEEWEE_ERRORS:
            cursor = self._db.cursor()  # type: ignore[no-untyped-call]
            if isinstance(self._db, pw.PostgresqlDatabase):
                from psycopg2.extras import execute_values  # loaded only for PostgreSQL

                execute_values(cursor, f"{head}%s{tail}", rows, page_size=1000)
            else:
                marks = ", ".join("?" * len(rows[0]))
                cursor.executemany(f"{head}({marks}){tail}", rows)
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
