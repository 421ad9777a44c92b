"""peewee models: how rows map to Python values. The tables themselves are made by
the migrations (``agent/storage/migrations/``), never by ``create_table``.

The models are bound to no database: every query runs as ``query.execute(db)``
with the database of its :class:`~agent.storage.database.Storage`, so two storages
in one process (tests, the team and a local database) never share state
(architecture.md, rule 5: no module-level state).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import peewee as pw


class UtcDateTimeField(pw.Field):
    """An aware datetime, stored in UTC; always read back as an aware UTC datetime.

    PostgreSQL keeps ``TIMESTAMPTZ``. SQLite keeps fixed-width ISO 8601 text
    (``2024-05-01T09:30:00.000000+00:00``), which sorts like the instant it names,
    so indexes and ``>=`` work on it. The value is sent as that text to both:
    PostgreSQL reads it as a ``timestamptz`` literal. A naive datetime is a bug
    upstream (events.py: times are aware UTC) and is refused, never guessed.
    """

    field_type = "TIMESTAMPTZ"

    def db_value(self, value: datetime | None) -> str | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"{self.name}: expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"{self.name}: naive datetime {value.isoformat()}; give it a time zone"
            )
        return value.astimezone(UTC).isoformat(timespec="microseconds")

    def python_value(self, value: Any) -> datetime | None:
        return to_utc(value)


def utc_text(value: datetime, what: str = "time") -> str:
    """How a time is stored: fixed-width ISO 8601 in UTC. A naive time is refused."""
    if value.tzinfo is not UTC:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{what}: naive datetime {value.isoformat()}; give it a time zone")
        value = value.astimezone(UTC)
    return value.isoformat(timespec="microseconds")


def to_utc(value: Any) -> datetime | None:
    """A stored time (text from SQLite, a datetime from psycopg2) as an aware UTC datetime."""
    if value is None:
        return None
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(parsed, datetime):
        raise TypeError(f"not a stored time: {value!r}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # written by hand without an offset: UTC
    return parsed.astimezone(UTC)


class _Base(pw.Model):
    class Meta:
        legacy_table_names = False


class CallRow(_Base):
    """One journal row: every field of :class:`agent.core.journal.JournalEntry`."""

    uuid = pw.CharField(primary_key=True, max_length=32)  # 32 lower-case hex (events.py)
    direction = pw.TextField()  # Direction value
    number = pw.TextField()
    operator_ext = pw.TextField()
    dial_at = UtcDateTimeField()
    answer_at = UtcDateTimeField(null=True)
    end_at = UtcDateTimeField(null=True)  # NULL while the call is in progress
    talk_s = pw.IntegerField(default=0)
    duration_s = pw.IntegerField(null=True)
    disposition = pw.IntegerField(null=True)  # phonet-api.md §2.9, 0–4
    outcome = pw.TextField(null=True)  # Outcome value
    recording_url = pw.TextField(null=True)
    contact_id = pw.BigIntegerField(null=True)
    contact_name = pw.TextField(null=True)
    parent_uuid = pw.TextField(null=True)
    trunk = pw.TextField(null=True)
    source = pw.TextField()  # Source value
    final = pw.BooleanField(default=False)

    class Meta:
        table_name = "calls"


class KeyValueRow(_Base):
    key = pw.TextField(primary_key=True)
    value = pw.TextField()  # canonical JSON (repositories._dump_json)
    updated_at = UtcDateTimeField()

    class Meta:
        table_name = "kv"


class SettingRow(_Base):
    scope = pw.TextField()  # "team" or "operator:{domain}/{ext}"
    name = pw.TextField()
    value = pw.TextField()  # canonical JSON
    updated_at = UtcDateTimeField()

    class Meta:
        table_name = "settings"
        primary_key = pw.CompositeKey("scope", "name")


class SchemaVersionRow(_Base):
    version = pw.IntegerField(primary_key=True)
    name = pw.TextField()
    applied_at = UtcDateTimeField()

    class Meta:
        table_name = "schema_version"


MODELS: tuple[type[pw.Model], ...] = (CallRow, KeyValueRow, SettingRow, SchemaVersionRow)
"""Every model; a test checks each against the table the migrations made."""
