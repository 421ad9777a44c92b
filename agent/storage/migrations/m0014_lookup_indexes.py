"""The popup's lookup reads a contact's newest robot answer (B13, J2; issue 4).

Without an index of its own that read walked every event of the contact through
``events_contact`` and read each row to check its source. A partial index of the
robot's events alone makes it one probe of a small index (none at all for a team
without the robot); the id breaks a tie of creation times, as the query orders
(agent/storage/events_repo.py ``ROBOT_EVENT_ID``). Safe to run on a database in use
and by several agents at once (the runner locks; IF NOT EXISTS).
"""

from __future__ import annotations

import peewee as pw

from agent.storage.migrations.base import execute


def up(db: pw.Database) -> None:
    execute(
        db,
        "CREATE INDEX IF NOT EXISTS events_robot ON events (contact_id, created_at, id) "
        "WHERE source = 'robot'",
    )
