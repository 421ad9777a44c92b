"""An index for the contact list's search by name or company (M1; issue 4).

The search keeps contacts whose ``search`` text (``search_text``: name and company,
case-folded) contains the typed text anywhere. Without an index a text no contact
has read all of them (~2 s at 1M). A substring needs a trigram index:

- PostgreSQL: ``pg_trgm``'s GIN index, which serves ``search LIKE '%…%'`` itself (the
  planner picks it or the ordered ``contacts_search`` scan, as the text is rare or
  common). pg_trgm is a trusted extension (PostgreSQL 13+): the database's owner
  may create it. Where it cannot be had (not installed, no right), the migration
  says so in the log and the search scans, as before.
- SQLite: an FTS5 table with the trigram tokenizer over ``contacts.search``
  (external content: the text is not stored twice; ``detail=none``: trigrams and
  row ids only, 72 MB at 1M contacts). FTS5 written row by row from a trigger
  costs ~50 µs a row (it flushes its buffer at every statement's savepoint), ~10 µs
  even in batches: an import of 84k contacts would take ~1 s more. So the triggers
  only note which contacts changed (``contacts_fts_stale``, ~2 µs a row, with the
  text the index holds for each, which FTS5 needs to take it out), and
  ``ContactSearch.refresh`` (agent/storage/contact_search.py) brings the index up
  to date in batches afterwards, off the writer's path — PostgreSQL's GIN
  ``fastupdate`` pending list works the same way. A search reads the noted
  contacts from ``contacts`` itself, so it is exact at every moment.

Existing contacts are noted here and indexed by the first refresh after start (a
database of 1M contacts: ~15 s in the background), so the migration itself is quick.
An SQLite without FTS5's trigram tokenizer (older than 3.34; Python 3.11's own builds
have it) gets neither table nor triggers, and the search scans as before.
"""

from __future__ import annotations

import logging
import sqlite3

import peewee as pw

from agent.storage.migrations.base import PEEWEE_ERRORS, execute

log = logging.getLogger(__name__)


def up(db: pw.Database) -> None:
    if isinstance(db, pw.PostgresqlDatabase):
        _postgresql(db)
    else:
        _sqlite(db)


def _postgresql(db: pw.Database) -> None:
    try:
        # A savepoint: a refusal (no pg_trgm on the server, no right to add it, its
        # operator class in a schema off the search path) leaves the migration whole.
        with db.atomic(), PEEWEE_ERRORS:
            execute(
                db,
                "CREATE EXTENSION IF NOT EXISTS pg_trgm",
                "CREATE INDEX IF NOT EXISTS contacts_search_trgm ON contacts "
                "USING gin (search gin_trgm_ops) WHERE deleted_at IS NULL",
            )
    except pw.DatabaseError as exc:
        log.warning(
            "contact search: no pg_trgm index (%s); searching contacts by name reads them all",
            " ".join(str(exc).split())[:200],
        )


def _sqlite(db: pw.Database) -> None:
    try:
        with db.atomic(), PEEWEE_ERRORS:  # a savepoint
            execute(
                db,
                "CREATE VIRTUAL TABLE IF NOT EXISTS contacts_fts USING fts5(search, "
                "content='contacts', content_rowid='id', "
                "tokenize='trigram case_sensitive 1', detail='none')",
            )
    except pw.DatabaseError as exc:  # an SQLite without FTS5, or older than 3.34
        log.warning(
            "contact search: SQLite %s has no FTS5 trigram tokenizer (%s); searching "
            "contacts by name reads them all",
            sqlite3.sqlite_version,
            " ".join(str(exc).split())[:200],
        )
        return
    execute(
        db,
        # A contact whose text changed since the index last took it in, and the text
        # the index holds for it (NULL: none). The first note since then wins.
        "CREATE TABLE IF NOT EXISTS contacts_fts_stale (id INTEGER PRIMARY KEY, indexed TEXT)",
        "INSERT OR IGNORE INTO contacts_fts_stale (id, indexed) "
        "SELECT id, NULL FROM contacts WHERE deleted_at IS NULL",
        """
        CREATE TRIGGER IF NOT EXISTS contacts_fts_inserted AFTER INSERT ON contacts
        WHEN new.deleted_at IS NULL BEGIN
            INSERT OR IGNORE INTO contacts_fts_stale (id, indexed) VALUES (new.id, NULL);
        END
        """,
        """
        CREATE TRIGGER IF NOT EXISTS contacts_fts_updated
        AFTER UPDATE OF search, deleted_at ON contacts
        WHEN old.search IS NOT new.search
            OR (old.deleted_at IS NULL) <> (new.deleted_at IS NULL) BEGIN
            INSERT OR IGNORE INTO contacts_fts_stale (id, indexed)
            VALUES (old.id, CASE WHEN old.deleted_at IS NULL THEN old.search END);
        END
        """,
        """
        CREATE TRIGGER IF NOT EXISTS contacts_fts_deleted AFTER DELETE ON contacts BEGIN
            INSERT OR IGNORE INTO contacts_fts_stale (id, indexed)
            VALUES (old.id, CASE WHEN old.deleted_at IS NULL THEN old.search END);
        END
        """,
    )
