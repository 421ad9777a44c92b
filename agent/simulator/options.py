"""How a simulator is asked to run, and what it tells its clients (contracts.md §3)."""

from __future__ import annotations

import json
from dataclasses import dataclass

DEFAULT_DOMAIN = "sim.phonet.local"


@dataclass(frozen=True, slots=True)
class SimulatorOptions:
    """The command-line options of ``phonet-agent simulator`` as one value.

    ``api_key`` None means a random 32-character alphanumeric key (phonet-api.md §0:
    the sample keys are that shape). ``operator_answer_s`` is how long the operator's
    own phone rings on a makeCall before it answers (contracts.md §3).
    """

    host: str = "127.0.0.1"
    port: int = 0
    tls: bool = False
    seconds: bool = False
    domain: str = DEFAULT_DOMAIN
    api_key: str | None = None
    dashed_uuids: bool = False
    operator_answer_s: float = 1.0


@dataclass(frozen=True, slots=True)
class SimulatorInfo:
    """Where a running simulator listens and how to log in to it: the banner."""

    base_url: str
    ws_url: str
    domain: str
    api_key: str
    ca_file: str | None

    def banner(self) -> str:
        """The one JSON line printed on stdout at start (contracts.md §3)."""
        return json.dumps(
            {
                "base_url": self.base_url,
                "ws_url": self.ws_url,
                "domain": self.domain,
                "api_key": self.api_key,
                "ca_file": self.ca_file,
            }
        )
