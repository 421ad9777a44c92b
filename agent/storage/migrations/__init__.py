"""The schema's history, oldest first (docs/architecture/storage.md, "Migrations").

To add a migration: write ``mNNNN_what.py`` next to these with ``def up(db) -> None``
(SQL through ``base.execute``, column types from ``base.types_for(db)``), import
it below and append it to the list. Listed by hand, not discovered, so a frozen
build (PyInstaller) carries every one; a test checks that no file is left out.
Never edit a migration that has shipped: add the next one.
"""

from __future__ import annotations

from agent.storage.migrations import (
    m0001_journal,
    m0002_state,
    m0010_contacts,
    m0011_events,
    m0012_sales,
    m0014_lookup_indexes,
    m0015_contact_search,
    m0020_dialer,
    m0030_jobs,
)
from agent.storage.migrations.base import Migration, migrations_from

MIGRATIONS: tuple[Migration, ...] = migrations_from(
    m0001_journal,
    m0002_state,
    m0010_contacts,
    m0011_events,
    m0012_sales,
    m0014_lookup_indexes,
    m0015_contact_search,
    m0020_dialer,
    m0030_jobs,
)

__all__ = ["MIGRATIONS", "Migration"]
