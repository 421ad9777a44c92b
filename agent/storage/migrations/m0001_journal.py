"""The call journal (M3, B4, J1; contracts.md §4 "journal row")."""

from __future__ import annotations

import peewee as pw

from agent.storage.migrations.base import execute, types_for


def up(db: pw.Database) -> None:
    t = types_for(db)
    execute(
        db,
        f"""
        CREATE TABLE calls (
            uuid          TEXT NOT NULL PRIMARY KEY CHECK (length(uuid) = 32),
            direction     TEXT NOT NULL,
            number        TEXT NOT NULL,
            operator_ext  TEXT NOT NULL,
            dial_at       {t.timestamp} NOT NULL,
            answer_at     {t.timestamp},
            end_at        {t.timestamp},
            talk_s        INTEGER NOT NULL DEFAULT 0,
            duration_s    INTEGER,
            disposition   INTEGER,
            outcome       TEXT,
            recording_url TEXT,
            contact_id    {t.bigint},
            contact_name  TEXT,
            parent_uuid   TEXT,
            trunk         TEXT,
            source        TEXT NOT NULL,
            final         {t.boolean} NOT NULL DEFAULT {t.false}
        )
        """,
        # The journal page: newest end first, uuid breaks ties so pages never overlap.
        "CREATE INDEX calls_end_at ON calls (end_at, uuid)",
        # "mine" pages, and the newest call of an extension (reconciliation, B4).
        "CREATE INDEX calls_operator_end_at ON calls (operator_ext, end_at, uuid)",
        # Contact lookups and "seen before" (B14).
        "CREATE INDEX calls_number_end_at ON calls (number, end_at)",
        # Calls still open (left by a crash or a lost link); few, so a partial index.
        "CREATE INDEX calls_open ON calls (operator_ext, dial_at) WHERE end_at IS NULL",
    )
