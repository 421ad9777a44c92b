"""Where the agent keeps its files (contracts.md §2, "Data dir")."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "phonet-agent"


@dataclass(frozen=True, slots=True)
class DataDir:
    root: Path

    @classmethod
    def resolve(cls, explicit: str | os.PathLike[str] | None = None) -> DataDir:
        """``--data-dir``, else ``PHONET_AGENT_DATA_DIR``, else the OS's user data dir."""
        chosen = explicit or os.environ.get("PHONET_AGENT_DATA_DIR")
        root = (
            Path(chosen) if chosen else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
        )
        return cls(root.expanduser().resolve())

    def ensure(self) -> DataDir:
        self.root.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        return self

    @property
    def database(self) -> Path:
        return self.root / "agent.db"

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.database}"

    @property
    def config(self) -> Path:
        return self.root / "config.toml"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def log_file(self) -> Path:
        return self.logs / "agent.log"

    @property
    def lock_file(self) -> Path:
        return self.root / "agent.lock"

    @property
    def api_file(self) -> Path:
        return self.root / "api.json"
