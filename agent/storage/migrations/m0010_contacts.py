"""Contacts and the number index (U7; contracts.md §4 "contact").

A contact keeps its phones and free attributes as JSON: they are always read
and written with the contact. Lookups by number go through ``contact_numbers``:
one row per (key, contact), the key being the E.164 form of a number the
operator's search fields make (agent/core/contacts.py ``search_keys``), so a
ring finds its contact with one index probe whatever the contact count.
"""

from __future__ import annotations

import peewee as pw

from agent.storage.migrations.base import execute, types_for


def up(db: pw.Database) -> None:
    t = types_for(db)
    # SQLite: a table keyed by its primary key alone is smaller and one probe faster.
    without_rowid = "" if t.postgres else " WITHOUT ROWID"
    execute(
        db,
        f"""
        CREATE TABLE contacts (
            id              {t.id_primary_key} NOT NULL,
            name            TEXT NOT NULL,
            company         TEXT,
            phones          {t.json} NOT NULL DEFAULT '[]',
            attributes      {t.json} NOT NULL DEFAULT '{{}}',
            responsible_ext TEXT,
            search          TEXT NOT NULL DEFAULT '',
            last_contact_at {t.timestamp},
            created_at      {t.timestamp} NOT NULL,
            updated_at      {t.timestamp} NOT NULL,
            deleted_at      {t.timestamp},
            merged_into     {t.bigint}
        )
        """,
        # The contact list, ordered by name (and company), paged; deleted ones left out.
        "CREATE INDEX contacts_search ON contacts (search, id) WHERE deleted_at IS NULL",
        f"""
        CREATE TABLE contact_numbers (
            key         TEXT NOT NULL,
            contact_id  {t.bigint} NOT NULL REFERENCES contacts (id),
            phone_index INTEGER,
            PRIMARY KEY (key, contact_id)
        ){without_rowid}
        """,
        # Re-indexing one contact (an edit, a merge, a delete) drops its keys.
        "CREATE INDEX contact_numbers_contact ON contact_numbers (contact_id)",
    )
