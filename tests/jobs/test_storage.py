"""The jobs tables on SQLite and PostgreSQL: models match the migration, and the
database keeps only whether a machine holds a secret (features.md, "Team secrets")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from agent.core.events import Direction, HistoryRecord
from agent.core.journal import Source, merge_history
from agent.storage.database import Storage
from agent.storage.jobs_models import JOB_MODELS
from agent.storage.jobs_repository import (
    IMPORT_COLUMNS,
    IMPORT_FIXED,
    Heartbeat,
    JobsRepository,
    RobotCall,
    import_row,
)
from agent.storage.repositories import CALL_COLUMN_NAMES, call_row

NOW = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)


async def test_every_jobs_model_matches_the_table_the_migration_made(storage: Storage) -> None:
    def columns() -> dict[str, dict[str, bool]]:
        return {
            model._meta.table_name: {
                c.name: c.null for c in storage.db.get_columns(model._meta.table_name)
            }
            for model in JOB_MODELS
        }

    tables = await storage.run(columns)
    for model in JOB_MODELS:
        fields = {f.column_name: f.null for f in model._meta.sorted_fields}
        assert tables[model._meta.table_name] == fields, model._meta.table_name


async def test_secret_holders_are_booleans_per_agent_never_the_secret(storage: Storage) -> None:
    repo = JobsRepository(storage.db)
    await storage.run(repo.set_holders, "a", {"robot-password:robot/srv/sa": True}, now=NOW)
    await storage.run(repo.set_holders, "b", {"robot-password:robot/srv/sa": False}, now=NOW)
    await storage.run(repo.set_holders, "b", {"robot-password:robot/srv/sa": True}, now=NOW)

    assert await storage.run(repo.holders) == {
        "robot-password:robot/srv/sa": {"a": True, "b": True}
    }
    cells = await storage.run(lambda: list(storage.db.execute_sql("SELECT * FROM secret_holders")))
    assert {type(cell) for row in cells for cell in row} <= {str, bool, int, datetime}


async def test_heartbeats_are_upserted_and_long_gone_agents_are_pruned(storage: Storage) -> None:
    repo = JobsRepository(storage.db)

    def beat(agent: str, at: datetime) -> Heartbeat:
        return Heartbeat(agent, "d", "001", "", "pc", 1, "0.1", "online", at, at)

    await storage.run(repo.beat, beat("old", NOW - timedelta(days=40)))
    await storage.run(repo.beat, beat("new", NOW - timedelta(minutes=5)))
    await storage.run(repo.beat, beat("new", NOW))
    await storage.run(repo.set_holders, "old", {"team-api-key:d/team": True}, now=NOW)

    assert [
        b.agent_id
        for b in await storage.run(repo.heartbeats, seen_since=NOW - timedelta(minutes=1))
    ] == ["new"]
    assert await storage.run(repo.prune_heartbeats, older_than=NOW - timedelta(days=30)) == 1
    assert [b.agent_id for b in await storage.run(repo.heartbeats)] == ["new"]
    assert await storage.run(repo.holders) == {}


async def test_a_robot_call_is_recorded_once(storage: Storage) -> None:
    repo = JobsRepository(storage.db)
    call = RobotCall("17", "+380671234567", "1", NOW, 5)
    assert await storage.run(repo.robot_record, call, run_id=None, now=NOW)
    assert not await storage.run(repo.robot_record, call, run_id=None, now=NOW)
    assert await storage.run(repo.robot_seen, ["17", "18"]) == {"17"}


@given(
    direction=st.sampled_from(list(Direction)),
    ext=st.sampled_from([None, "", "001", "002"]),
    ext2=st.sampled_from([None, "", "001", "002"]),
    number=st.sampled_from([None, "", "+380441234567", "0441234567"]),
    talk_s=st.integers(0, 4000),
    extra_s=st.integers(0, 120),
    disposition=st.integers(0, 5),
    end_ms=st.integers(1_500_000_000_000, 2_000_000_000_000),
    name=st.sampled_from([None, "Acme"]),
    audio=st.sampled_from([None, "https://pbx/rest/public/calls/x/audio"]),
    g4=st.integers(0, 60),
)
def test_the_import_row_is_the_merged_entrys_row(
    direction: Direction,
    ext: str | None,
    ext2: str | None,
    number: str | None,
    talk_s: int,
    extra_s: int,
    disposition: int,
    end_ms: int,
    name: str | None,
    audio: str | None,
    g4: int,
) -> None:
    record = HistoryRecord(
        uuid="0123456789abcdef0123456789abcdef",
        direction=direction,
        end_at=datetime.fromtimestamp(end_ms / 1000, UTC),
        duration_s=talk_s + extra_s,
        talk_s=talk_s,
        disposition=disposition,
        ext=ext,
        ext2=ext2,
        number=number,
        name=name,
        parent_uuid="p" if name else None,
        audio_url=audio,
        trunk="t" if audio else None,
    )
    merged = merge_history(
        None, record, own_ext=record.ext or "", source=Source.IMPORT, completed_talk_s=g4
    )
    full = dict(zip(CALL_COLUMN_NAMES, call_row(merged), strict=True))
    assert import_row(record, g4) == tuple(full[column] for column in IMPORT_COLUMNS)
    # The columns the INSERT writes as literals hold what every imported row holds.
    assert {column: full[column] for column in IMPORT_FIXED} == {
        '"contact_id"': None,
        '"source"': "import",
        '"final"': True,
    }
