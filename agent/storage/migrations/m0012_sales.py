"""Sales of contacts, imported from a table (U9 statistics, M6 ABC classification).

Amounts are kept in minor units (kopecks) so sums are exact on both engines;
the day of a sale is ISO text on SQLite and a DATE on PostgreSQL.
"""

from __future__ import annotations

import peewee as pw

from agent.storage.migrations.base import execute, types_for


def up(db: pw.Database) -> None:
    t = types_for(db)
    day = "DATE" if t.postgres else "TEXT"
    execute(
        db,
        f"""
        CREATE TABLE sales (
            id           {t.id_primary_key} NOT NULL,
            contact_id   {t.bigint} NOT NULL REFERENCES contacts (id),
            number       TEXT,
            sold_on      {day} NOT NULL,
            amount_cents {t.bigint} NOT NULL,
            created_at   {t.timestamp} NOT NULL
        )
        """,
        # A contact's sales by day (U9), and the revenue per contact (ABC).
        "CREATE INDEX sales_contact ON sales (contact_id, sold_on)",
    )
