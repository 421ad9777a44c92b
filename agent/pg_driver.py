"""peewee without psycopg2 until PostgreSQL is asked for (the idle-memory goal).

peewee imports psycopg2 at import time, and psycopg2 (libpq, its own TLS) costs
about 10 MB of resident memory — a fifth of the agent's idle budget — on every
machine, although most agents use SQLite. :func:`install` (called by
``agent/__init__.py``, before anything imports peewee) makes peewee's import see no
psycopg2; :func:`enable_postgresql` hands peewee the driver the first time a
PostgreSQL URL is opened, as peewee's own import would have. The PostgreSQL
storage tests prove it for the peewee version we ship.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from types import ModuleType
from typing import Any


class _HidePsycopg2(importlib.abc.Loader):
    def __init__(self, inner: importlib.abc.Loader) -> None:
        self.inner = inner

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        hidden = "psycopg2" not in sys.modules
        if hidden:
            sys.modules["psycopg2"] = None  # type: ignore[assignment]  # import -> ImportError
        try:
            self.inner.exec_module(module)
        finally:
            if hidden and sys.modules.get("psycopg2", ...) is None:
                del sys.modules["psycopg2"]


class _PeeweeFinder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, name: str, path: Any = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name != "peewee":
            return None
        sys.meta_path.remove(self)  # once; the real finders find the file
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _HidePsycopg2(spec.loader)
        return spec


def install() -> None:
    """Before peewee is first imported; harmless when it already was."""
    if "peewee" not in sys.modules and not any(isinstance(f, _PeeweeFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _PeeweeFinder())


def enable_postgresql() -> None:
    """Give peewee psycopg2 (idempotent). Called before a PostgreSQL database is made."""
    peewee: Any = importlib.import_module("peewee")
    if getattr(peewee, "psycopg2", None) is not None:
        return
    import psycopg2
    from psycopg2 import extensions
    from psycopg2.extras import Json, register_uuid

    register_uuid()
    peewee.psycopg2 = psycopg2
    peewee.pg_extensions = extensions
    peewee.pg_register_uuid = register_uuid
    peewee.Json_pg2 = Json
    # peewee 4 copies the driver's transaction constants into its adapter class body.
    adapter = getattr(peewee, "Psycopg2Adapter", None)
    if adapter is not None:
        adapter.txn_idle = extensions.TRANSACTION_STATUS_IDLE
        adapter.txn_inerror = extensions.TRANSACTION_STATUS_INERROR
        adapter.txn_unknown = extensions.TRANSACTION_STATUS_UNKNOWN
