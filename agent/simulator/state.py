"""Everything the simulated PBX remembers: users, sessions, calls, history, faults.

Synchronous and loop-free; the engine and the HTTP handlers mutate it from the
simulator's one event loop, so it needs no locks. ``reset()`` brings it back to
how it started (contracts.md §3, ``POST /_sim/reset``).
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass, field, replace
from typing import Any

from agent.simulator.history import HistoryStore
from agent.simulator.model import DEFAULT_SCRIPT, Call, Plan, User
from agent.simulator.shapes import WireStyle

DEFAULT_EXT = "001"
DEFAULT_DND_CODE = "*78"


def random_api_key() -> str:
    """32 random alphanumerics, the shape of the sample keys (phonet-api.md §0)."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(32))


def new_session_id() -> str:
    """A Tomcat-style session id: 32 upper-case hex characters (phonet-api.md §1.2)."""
    return secrets.token_hex(16).upper()


def digits(number: str) -> str:
    """Numbers are matched by their digits: ``+380 44 …`` and ``38044…`` are one."""
    return re.sub(r"\D", "", number)


@dataclass(slots=True)
class Faults:
    """Injected trouble (``POST /_sim/faults``); none of it touches ``/_sim/``.

    ``rest_5xx`` and ``ws_refuse`` count down one per matching request.
    ``rest_delay_ms`` delays every REST request until cleared, or only the next
    ``rest_delay_n`` when that is set (an extension: the contract's table names the
    delay but not how many requests it holds for).
    ``history_lag_ms`` (an extension) writes a finished call's history record that long
    after its hang-up: the real PBX's history may trail the live stream by an amount
    phonet-api.md does not state, which is why B4 fetches a gap twice.
    """

    rest_5xx: int = 0
    rest_delay_ms: int = 0
    rest_delay_n: int | None = None
    ws_refuse: int = 0
    duplicate_events: bool = False
    history_lag_ms: int = 0

    def take_rest_5xx(self) -> bool:
        if self.rest_5xx > 0:
            self.rest_5xx -= 1
            return True
        return False

    def take_rest_delay(self) -> float:
        if self.rest_delay_ms <= 0 or self.rest_delay_n == 0:
            return 0.0
        if self.rest_delay_n is not None:
            self.rest_delay_n -= 1
        return self.rest_delay_ms / 1000

    def take_ws_refuse(self) -> bool:
        if self.ws_refuse > 0:
            self.ws_refuse -= 1
            return True
        return False

    def as_json(self) -> dict[str, Any]:
        return {
            "rest_5xx": self.rest_5xx,
            "rest_delay_ms": self.rest_delay_ms,
            "rest_delay_n": self.rest_delay_n,
            "ws_refuse": self.ws_refuse,
            "duplicate_events": self.duplicate_events,
            "history_lag_ms": self.history_lag_ms,
        }


@dataclass(slots=True)
class Config:
    """Knobs settable at run time (``POST /_sim/config``, an extension)."""

    operator_answer_s: float = 1.0
    session_ttl_s: float | None = None  # None: sessions live until /_sim/expire

    def as_json(self) -> dict[str, Any]:
        return {"operator_answer_s": self.operator_answer_s, "session_ttl_s": self.session_ttl_s}


@dataclass(slots=True)
class SimState:
    style: WireStyle
    api_key: str
    initial_config: Config
    config: Config = field(default_factory=Config)
    users: dict[str, User] = field(default_factory=dict)
    sessions: dict[str, float] = field(default_factory=dict)  # id -> created (monotonic)
    scripts: dict[str, Plan] = field(default_factory=dict)  # digits of the number -> plan
    faults: Faults = field(default_factory=Faults)
    calls: dict[str, Call] = field(default_factory=dict)
    history: HistoryStore = field(default_factory=HistoryStore)
    history_seq: int = 0  # counts generated records, for the parentUuid quirk
    recordings: set[str] = field(default_factory=set)  # uuids (no dashes) with audio
    requests: list[dict[str, Any]] = field(default_factory=list)
    _next_user_id: int = 1

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Back to the start: one default user, no calls, history, sessions or faults."""
        self.config = replace(self.initial_config)
        self.users.clear()
        self._next_user_id = 1
        self.add_user(
            DEFAULT_EXT,
            "Олена Петренко",
            f"olena.petrenko@{self.style.domain}",
            DEFAULT_DND_CODE,
        )
        self.sessions.clear()
        self.scripts.clear()
        self.faults = Faults()
        self.calls.clear()
        self.history.clear()
        self.history_seq = 0
        self.recordings.clear()
        self.requests.clear()

    # -- users ------------------------------------------------------------------

    def add_user(
        self, ext: str, display_name: str, email: str | None, dnd_code: str | None = None
    ) -> User:
        """Add or replace an employee; a replaced one keeps its id and pause state."""
        old = self.users.get(ext)
        if old is None:
            user = User(self._next_user_id, ext, display_name, email, dnd_code)
            self._next_user_id += 1
        else:
            user = User(old.id, ext, display_name, email, dnd_code, old.paused)
        self.users[ext] = user
        return user

    # -- sessions (phonet-api.md §1) ---------------------------------------------

    def open_session(self, now: float) -> str:
        session = new_session_id()
        self.sessions[session] = now
        return session

    def session_valid(self, session: str | None, now: float) -> bool:
        if session is None or session not in self.sessions:
            return False
        ttl = self.config.session_ttl_s
        if ttl is not None and now - self.sessions[session] > ttl:
            del self.sessions[session]
            return False
        return True

    def expire_sessions(self) -> int:
        count = len(self.sessions)
        self.sessions.clear()
        return count

    def secret_values(self) -> list[str]:
        """What the masking must hide: the API key and every live session id."""
        return [self.api_key, *self.sessions]

    # -- scripts (contracts.md §3, /_sim/script) --------------------------------

    def script_for(self, number: str) -> Plan:
        return self.scripts.get(digits(number), DEFAULT_SCRIPT)
