"""Call events and the call uuids declined as unimportant (U8, C2, A5, J1, J2).

``events`` is the manual's event document; ``unimportant_calls`` keeps the uuid
of every call whose event the operator declined, for good: the history import
(J1) never loads those calls.
"""

from __future__ import annotations

import peewee as pw

from agent.storage.migrations.base import execute, types_for


def up(db: pw.Database) -> None:
    t = types_for(db)
    execute(
        db,
        f"""
        CREATE TABLE events (
            id           {t.id_primary_key} NOT NULL,
            call_uuid    TEXT CHECK (length(call_uuid) <= 40),
            number       TEXT CHECK (length(number) <= 20),
            contact_id   {t.bigint} REFERENCES contacts (id),
            operator_ext TEXT NOT NULL,
            direction    TEXT,
            kind         TEXT NOT NULL,
            importance   TEXT NOT NULL,
            planned_at   {t.timestamp},
            notes        TEXT NOT NULL DEFAULT '',
            fields       {t.json} NOT NULL DEFAULT '{{}}',
            state        TEXT NOT NULL CHECK (state IN ('open', 'saved', 'declined')),
            source       TEXT NOT NULL,
            done_at      {t.timestamp},
            created_at   {t.timestamp} NOT NULL,
            updated_at   {t.timestamp} NOT NULL
        )
        """,
        # has_event_for(uuid) (J1), the event of a call (A5).
        "CREATE INDEX events_call ON events (call_uuid) WHERE call_uuid IS NOT NULL",
        # A contact's events, newest first: last note (B13), last events (U9).
        "CREATE INDEX events_contact ON events (contact_id, created_at)",
        # Planned events still to do: a contact's nearest (M4), all by time (M6, B11).
        """
        CREATE INDEX events_planned_contact ON events (contact_id, planned_at)
        WHERE planned_at IS NOT NULL AND done_at IS NULL AND state <> 'declined'
        """,
        """
        CREATE INDEX events_planned ON events (planned_at)
        WHERE planned_at IS NOT NULL AND done_at IS NULL AND state <> 'declined'
        """,
        # The events list, newest first, and one operator's open events (A5).
        "CREATE INDEX events_created ON events (created_at, id)",
        "CREATE INDEX events_open ON events (operator_ext, created_at) WHERE state = 'open'",
        f"""
        CREATE TABLE unimportant_calls (
            uuid         TEXT NOT NULL PRIMARY KEY CHECK (length(uuid) = 32),
            operator_ext TEXT NOT NULL,
            marked_at    {t.timestamp} NOT NULL
        )
        """,
    )
