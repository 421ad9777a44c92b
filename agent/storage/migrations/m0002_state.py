"""Small state: checkpoints and such (``kv``), and settings by scope (``settings``).

Settings live in the database (features.md, "Defaults"): the scope ``team``, and
``operator:{domain}/{ext}`` per operator. One row per setting, so two people saving
different settings of one scope never overwrite each other. No secrets, ever.
"""

from __future__ import annotations

import peewee as pw

from agent.storage.migrations.base import execute, types_for


def up(db: pw.Database) -> None:
    t = types_for(db)
    execute(
        db,
        f"""
        CREATE TABLE kv (
            key        TEXT NOT NULL PRIMARY KEY,
            value      {t.json} NOT NULL,
            updated_at {t.timestamp} NOT NULL
        )
        """,
        f"""
        CREATE TABLE settings (
            scope      TEXT NOT NULL,
            name       TEXT NOT NULL,
            value      {t.json} NOT NULL,
            updated_at {t.timestamp} NOT NULL,
            PRIMARY KEY (scope, name)
        )
        """,
    )
