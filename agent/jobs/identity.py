"""Who an agent is in a team: a stable id per data dir, the host, the process.

Leases, runs, heartbeats and secret holders name the agent by ``agent_id`` (B5).
It is a random id kept in the data dir's ``agent-id`` file, so an agent keeps its
identity across restarts, two agents on one machine (two data dirs) differ, and
no personal data goes into a shared database beyond the host name.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass, replace
from pathlib import Path

FILE_NAME = "agent-id"


@dataclass(frozen=True, slots=True)
class AgentIdentity:
    agent_id: str
    host: str
    pid: int

    def for_command(self, name: str) -> AgentIdentity:
        """A one-off command beside the agent (``import-history``) is another holder."""
        return replace(self, agent_id=f"{self.agent_id}/{name}-{self.pid}")


def agent_identity(data_dir_root: Path) -> AgentIdentity:
    path = data_dir_root / FILE_NAME
    agent_id = _read(path)
    if agent_id is None:
        agent_id = secrets.token_hex(8)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("x", encoding="utf-8") as handle:  # the first process wins
                handle.write(agent_id + "\n")
        except FileExistsError:
            agent_id = _read(path) or agent_id
        except OSError:
            pass  # a read-only data dir: the id lives as long as the process
    return AgentIdentity(agent_id, socket.gethostname() or "localhost", os.getpid())


def _read(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return text if text.isalnum() and 4 <= len(text) <= 64 else None
