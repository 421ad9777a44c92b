"""The database adapter (architecture.md, "Storage"; docs/architecture/storage.md).

:class:`Storage` is the one entry point: the repositories (``journal``, ``kv``,
``settings``) and the worker thread they run on. SQLite by default, PostgreSQL
for a team (B5).
"""

from __future__ import annotations

from agent.storage.database import Storage, create_database, open_database
from agent.storage.repositories import (
    MAX_PAGE,
    TEAM_SCOPE,
    JournalRepository,
    KeyValueRepository,
    SettingsRepository,
    operator_scope,
)
from agent.storage.urls import DatabaseUrl, parse_database_url, redact_url

__all__ = [
    "MAX_PAGE",
    "TEAM_SCOPE",
    "DatabaseUrl",
    "JournalRepository",
    "KeyValueRepository",
    "SettingsRepository",
    "Storage",
    "create_database",
    "open_database",
    "operator_scope",
    "parse_database_url",
    "redact_url",
]
