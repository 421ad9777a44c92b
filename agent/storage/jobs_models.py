"""peewee models of jobs and team mode (migration 0030): runs, leases, heartbeats,
secret holders, imported robot calls.

Like ``models.py``: bound to no database, made by the migrations, never by
``create_table``; a test holds them to the real tables on both engines.
"""

from __future__ import annotations

import peewee as pw

from agent.storage.models import UtcDateTimeField


class _Base(pw.Model):
    class Meta:
        legacy_table_names = False


class JobRunRow(_Base):
    id = pw.BigAutoField()
    job = pw.TextField()
    period_at = UtcDateTimeField()
    trigger = pw.TextField()  # "schedule" | "manual" | "cli"
    agent_id = pw.TextField()
    host = pw.TextField()
    started_at = UtcDateTimeField()
    ended_at = UtcDateTimeField(null=True)
    state = pw.TextField()  # "running" | "ok" | "failed" | "lost" | "stopped"
    counts = pw.TextField(default="{}")  # canonical JSON
    error = pw.TextField(null=True)
    taken_over = pw.BigIntegerField(null=True)  # the run this one took over (B5)

    class Meta:
        table_name = "job_runs"


class JobLeaseRow(_Base):
    job = pw.TextField(primary_key=True)
    holder = pw.TextField(null=True)
    holder_host = pw.TextField(null=True)
    period_at = UtcDateTimeField(null=True)
    state = pw.TextField()  # "idle" | "running" | "done"
    expires_at = UtcDateTimeField(null=True)
    run_id = pw.BigIntegerField(null=True)
    updated_at = UtcDateTimeField()

    class Meta:
        table_name = "job_leases"


class HeartbeatRow(_Base):
    agent_id = pw.TextField(primary_key=True)
    domain = pw.TextField()
    ext = pw.TextField()
    operator = pw.TextField(default="")
    host = pw.TextField()
    pid = pw.IntegerField()
    version = pw.TextField(default="")
    link_state = pw.TextField()
    started_at = UtcDateTimeField()
    seen_at = UtcDateTimeField()

    class Meta:
        table_name = "heartbeats"


class SecretHolderRow(_Base):
    agent_id = pw.TextField()
    secret = pw.TextField()  # "{kind}:{keyring user}", e.g. "robot-password:robot/srv/sa"
    holds = pw.BooleanField()
    updated_at = UtcDateTimeField()

    class Meta:
        table_name = "secret_holders"
        primary_key = pw.CompositeKey("agent_id", "secret")


class RobotCallRow(_Base):
    call_id = pw.TextField(primary_key=True)
    number = pw.TextField()
    dtmf = pw.TextField()
    called_at = UtcDateTimeField(null=True)
    event_id = pw.BigIntegerField(null=True)
    run_id = pw.BigIntegerField(null=True)
    imported_at = UtcDateTimeField()

    class Meta:
        table_name = "robot_calls"


JOB_MODELS: tuple[type[pw.Model], ...] = (
    JobRunRow,
    JobLeaseRow,
    HeartbeatRow,
    SecretHolderRow,
    RobotCallRow,
)
"""Every model of this module; a test checks each against the table."""
