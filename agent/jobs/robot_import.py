"""J2: SpRobot's answers become planned events (manual §7 item 2; features.md J2; G6).

Runs the admin's query (``robot_source``) for the calls since the last import,
turns the rows into planned events by the DTMF table (agent/core/robot_plan.py),
and remembers each imported robot call id (``robot_calls``), so a rerun adds
nothing. A run that died between an event and its record is caught by the
event's call id (``robot:<id>``): the event is not made twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, Final

from agent.core.errors import ConfigError
from agent.core.robot_plan import (
    DEFAULT_QUERY,
    checkpoint_after,
    plan_robot,
    read_rows,
)
from agent.storage.jobs_repository import JobsRepository, RobotCall

if TYPE_CHECKING:
    from agent.jobs.events import JobEvents
    from agent.jobs.robot_source import RobotDatabase
    from agent.storage.database import Storage

log = logging.getLogger(__name__)

CHECKPOINT_KEY: Final = "jobs/robot/checkpoint"
# The robot may write a row a little after its call (and clocks differ): each run
# asks again for the last hour; robot call ids keep that free of duplicates.
OVERLAP = timedelta(hours=1)

Progress = Callable[[dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class RobotImportConfig:
    """The G6 settings a run reads (the password is not here: the keyring has it)."""

    query: str = ""
    dtmf_table: Mapping[str, str] = field(default_factory=dict)
    identity: str = "robot"
    region: str = "UA"
    time_zone: tzinfo = UTC  # naive robot times are this zone's wall clock
    lookback: timedelta = timedelta(days=7)


class RobotImport:
    def __init__(
        self,
        *,
        storage: Storage,
        database: RobotDatabase,
        events: JobEvents | None,
        config: RobotImportConfig,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.storage = storage
        self.repo = JobsRepository(storage.db)
        self.database = database
        self.events = events
        self.config = config
        self.clock = clock

    async def run(
        self, *, run_id: int | None = None, progress: Progress | None = None
    ) -> dict[str, Any]:
        if self.events is None:
            raise ConfigError("the robot import needs the events of the contacts area")
        if not self.config.dtmf_table:
            raise ConfigError("the robot import has no DTMF table (team setting robot_dtmf)")
        now = self.clock()
        stored = await self.storage.run(self.storage.kv.get, CHECKPOINT_KEY)
        last = _time(stored.get("last_called_at") if isinstance(stored, dict) else None)
        since_utc = last - OVERLAP if last is not None else now - self.config.lookback
        since_local = since_utc.astimezone(self.config.time_zone).replace(tzinfo=None)
        query = self.config.query.strip() or DEFAULT_QUERY
        positions, raw_rows = await asyncio.to_thread(self.database.fetch, query, since=since_local)
        rows, invalid = read_rows(positions, raw_rows, self.config.time_zone)
        seen = await self.storage.run(self.repo.robot_seen, [r.call_id for r in rows])
        plan = plan_robot(
            rows,
            dtmf_table=self.config.dtmf_table,
            seen=seen,
            identity=self.config.identity,
            region=self.config.region,
            invalid=invalid,
        )
        counts: dict[str, Any] = {**plan.counts(), "events": 0, "since": since_utc.isoformat()}
        if plan.unmapped:
            counts["unmapped_codes"] = dict(plan.unmapped.most_common(20))
        for problem in plan.invalid[:5]:
            log.info("robot import: row %d skipped: %s", problem.row, problem.reason)
        for draft in plan.events:
            event_id = None
            if not await self.events.has_event_for(draft.ref):
                event_id = await self.events.create_robot_event(draft)
                counts["events"] += 1
            call = RobotCall(
                draft.robot_call_id, draft.number, draft.dtmf, draft.called_at, event_id
            )
            await self.storage.run(self.repo.robot_record, call, run_id=run_id, now=self.clock())
            if progress is not None:
                progress(dict(counts))
        newest = checkpoint_after(rows, last)
        if newest is not None:
            await self.storage.run(
                self.storage.kv.set, CHECKPOINT_KEY, {"last_called_at": newest.isoformat()}
            )
        return counts


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None
