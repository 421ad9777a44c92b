"""Jobs and team mode: runs, leases, heartbeats, secret holders, robot calls (G2, G6, J1,
J2, B5).

- ``job_runs``: one row per run of a job (start, end, counts, error): the window
  shows the last ones (issue 6, item 1).
- ``job_leases``: one row per job; the agent that holds it runs the job for the
  period it names, and renews ``expires_at`` while it runs. Another agent takes
  the period over once the lease has expired (B5).
- ``heartbeats``: one row per running agent, written every few seconds: presence
  and the licence seat count (U10, B5).
- ``secret_holders``: whether an agent's keyring holds a team secret (never the
  secret: features.md, "Team secrets").
- ``robot_calls``: the robot call ids already imported (J2 is idempotent by them).
"""

from __future__ import annotations

import peewee as pw

from agent.storage.migrations.base import execute, types_for


def up(db: pw.Database) -> None:
    t = types_for(db)
    execute(
        db,
        f"""
        CREATE TABLE job_runs (
            id           {t.id_primary_key} NOT NULL,
            job          TEXT NOT NULL,
            period_at    {t.timestamp} NOT NULL,
            trigger      TEXT NOT NULL,
            agent_id     TEXT NOT NULL,
            host         TEXT NOT NULL,
            started_at   {t.timestamp} NOT NULL,
            ended_at     {t.timestamp},
            state        TEXT NOT NULL
                         CHECK (state IN ('running', 'ok', 'failed', 'lost', 'stopped')),
            counts       {t.json} NOT NULL DEFAULT '{{}}',
            error        TEXT,
            taken_over   {t.bigint}
        )
        """,
        "CREATE INDEX job_runs_job_started ON job_runs (job, started_at)",
        "CREATE INDEX job_runs_running ON job_runs (job) WHERE state = 'running'",
        f"""
        CREATE TABLE job_leases (
            job          TEXT NOT NULL PRIMARY KEY,
            holder       TEXT,
            holder_host  TEXT,
            period_at    {t.timestamp},
            state        TEXT NOT NULL CHECK (state IN ('idle', 'running', 'done')),
            expires_at   {t.timestamp},
            run_id       {t.bigint},
            updated_at   {t.timestamp} NOT NULL
        )
        """,
        f"""
        CREATE TABLE heartbeats (
            agent_id     TEXT NOT NULL PRIMARY KEY,
            domain       TEXT NOT NULL,
            ext          TEXT NOT NULL,
            operator     TEXT NOT NULL DEFAULT '',
            host         TEXT NOT NULL,
            pid          INTEGER NOT NULL,
            version      TEXT NOT NULL DEFAULT '',
            link_state   TEXT NOT NULL,
            started_at   {t.timestamp} NOT NULL,
            seen_at      {t.timestamp} NOT NULL
        )
        """,
        "CREATE INDEX heartbeats_seen ON heartbeats (seen_at)",
        f"""
        CREATE TABLE secret_holders (
            agent_id     TEXT NOT NULL,
            secret       TEXT NOT NULL,
            holds        {t.boolean} NOT NULL,
            updated_at   {t.timestamp} NOT NULL,
            PRIMARY KEY (agent_id, secret)
        )
        """,
        f"""
        CREATE TABLE robot_calls (
            call_id      TEXT NOT NULL PRIMARY KEY,
            number       TEXT NOT NULL,
            dtmf         TEXT NOT NULL,
            called_at    {t.timestamp},
            event_id     {t.bigint},
            run_id       {t.bigint},
            imported_at  {t.timestamp} NOT NULL
        )
        """,
    )
