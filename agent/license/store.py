"""The licence's rows in the database: the client ID and the installed key (L1, U10).

Both live in the ``kv`` table (storage.md): the licence needs two values, so it adds
no table of its own. Functions here run on the storage worker
(``await storage.run(load, storage.kv)``).

- ``license.client_id``: one UUID per database, made by the first agent (or CLI command)
  that opens it. Several agents starting at once on one PostgreSQL agree on one:
  it is written with a single compare-and-set and read back.
- ``license.key``: ``{"key": text, "installed_at": ISO}``, the product key as installed.
  Only a key that verified is stored; it is judged again at every read (it may expire,
  or the agent's public key may differ), so its client code and count are never
  copied anywhere else.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol

CLIENT_ID_KEY: Final = "license.client_id"
KEY_KEY: Final = "license.key"


class KeyValues(Protocol):
    """The part of ``agent.storage.KeyValueRepository`` used here."""

    def get(self, key: str, default: object = None) -> object: ...
    def set(self, key: str, value: object) -> None: ...
    def compare_and_set(self, key: str, expected: object, value: object) -> bool: ...


@dataclass(frozen=True, slots=True)
class Stored:
    client_id: str
    key: str | None
    installed_at: str | None


def ensure_client_id(kv: KeyValues) -> str:
    """This database's client ID, made now if it has none (L1: "created at the first start")."""
    current = kv.get(CLIENT_ID_KEY)
    if isinstance(current, str) and current:
        return current
    kv.compare_and_set(CLIENT_ID_KEY, None, str(uuid.uuid4()))
    found = kv.get(CLIENT_ID_KEY)  # ours, or the one another agent wrote first
    assert isinstance(found, str)
    return found


def load(kv: KeyValues) -> Stored:
    client_id = ensure_client_id(kv)
    raw = kv.get(KEY_KEY)
    if isinstance(raw, dict) and isinstance(raw.get("key"), str):
        at = raw.get("installed_at")
        return Stored(client_id, raw["key"], at if isinstance(at, str) else None)
    return Stored(client_id, None, None)


def save_key(kv: KeyValues, key: str, now: datetime) -> None:
    kv.set(KEY_KEY, {"key": key, "installed_at": now.isoformat()})
