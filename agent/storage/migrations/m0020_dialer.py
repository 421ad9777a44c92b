"""Dial lists, their entries and attempts, the do-not-call list, missed-call claims
(M6, M7, A1–A6, B3, B10; docs/auto-dial.md).

The two partial indexes answer "the next entry" with one probe per time zone
(agent/core/dial_list.py): every ORDER BY column is in the index, ascending; the
sort key is already turned for the direction, so no second index is needed.
"""

from __future__ import annotations

import peewee as pw

from agent.storage.migrations.base import execute, types_for

PICKABLE = "state IN ('pending', 'postponed')"


def up(db: pw.Database) -> None:
    t = types_for(db)
    # Keys are hex text: byte order everywhere (PostgreSQL's default collation may not be).
    collate = ' COLLATE "C"' if t.postgres else ""
    execute(
        db,
        f"""
        CREATE TABLE dial_lists (
            id               {t.id_primary_key},
            owner_ext        TEXT NOT NULL,
            name             TEXT NOT NULL,
            created_at       {t.timestamp} NOT NULL,
            sort_field       TEXT NOT NULL DEFAULT '',
            sort_descending  {t.boolean} NOT NULL DEFAULT {t.false}
        )
        """,
        "CREATE INDEX dial_lists_owner ON dial_lists (owner_ext, id)",
        f"""
        CREATE TABLE dial_entries (
            id               {t.id_primary_key},
            list_id          {t.bigint} NOT NULL REFERENCES dial_lists (id) ON DELETE CASCADE,
            position         {t.bigint} NOT NULL,
            number           TEXT NOT NULL,
            contact_id       {t.bigint},
            contact_name     TEXT,
            detail           TEXT,
            planned_event    TEXT,
            sort_value       TEXT,
            sort_key         TEXT{collate} NOT NULL DEFAULT '',
            zone             TEXT{collate} NOT NULL DEFAULT '',
            next_dial_at     {t.timestamp} NOT NULL,
            attempts         INTEGER NOT NULL DEFAULT 0,
            tries_no_answer  INTEGER NOT NULL DEFAULT 0,
            tries_busy       INTEGER NOT NULL DEFAULT 0,
            tries_failed     INTEGER NOT NULL DEFAULT 0,
            state            TEXT NOT NULL,
            last_outcome     TEXT,
            last_attempt_at  {t.timestamp},
            created_at       {t.timestamp} NOT NULL
        )
        """,
        "CREATE INDEX dial_entries_position ON dial_entries (list_id, position)",
        # A4 smart mode: earliest next dial, fewest attempts, sort field, list order.
        "CREATE INDEX dial_entries_smart ON dial_entries "
        f"(list_id, zone, next_dial_at, attempts, sort_key, position) WHERE {PICKABLE}",
        # Plain mode: sort field, list order.
        "CREATE INDEX dial_entries_plain ON dial_entries "
        f"(list_id, zone, sort_key, position) WHERE {PICKABLE}",
        # B11: postponed numbers by due time.
        "CREATE INDEX dial_entries_postponed ON dial_entries (list_id, next_dial_at) "
        "WHERE state = 'postponed'",
        # Duplicates on import, DNC marking, "all numbers of a contact" (U6).
        "CREATE INDEX dial_entries_number ON dial_entries (number, list_id)",
        "CREATE INDEX dial_entries_contact ON dial_entries (list_id, contact_id) "
        "WHERE contact_id IS NOT NULL",
        f"""
        CREATE TABLE dial_attempts (
            id                 {t.id_primary_key},
            entry_id           {t.bigint} REFERENCES dial_entries (id) ON DELETE SET NULL,
            list_id            {t.bigint} NOT NULL,
            operator_ext       TEXT NOT NULL,
            number             TEXT NOT NULL,
            uuid               TEXT,
            started_at         {t.timestamp} NOT NULL,
            ended_at           {t.timestamp},
            outcome            TEXT,
            talk_s             INTEGER,
            provisional        {t.boolean} NOT NULL DEFAULT {t.false},
            prev_state         TEXT NOT NULL,
            prev_next_dial_at  {t.timestamp} NOT NULL
        )
        """,
        # Attempts left open by a crash, found at start (issue 5, item 8).
        "CREATE INDEX dial_attempts_open ON dial_attempts (operator_ext, id) WHERE outcome IS NULL",
        "CREATE INDEX dial_attempts_entry ON dial_attempts (entry_id)",
        "CREATE INDEX dial_attempts_uuid ON dial_attempts (uuid)",
        f"""
        CREATE TABLE dnc_numbers (
            number     TEXT NOT NULL PRIMARY KEY,
            reason     TEXT,
            added_by   TEXT,
            added_at   {t.timestamp} NOT NULL
        )
        """,
        f"""
        CREATE TABLE missed_claims (
            number      TEXT NOT NULL PRIMARY KEY,
            claimed_by  TEXT NOT NULL,
            claimed_at  {t.timestamp} NOT NULL,
            expires_at  {t.timestamp} NOT NULL
        )
        """,
    )
