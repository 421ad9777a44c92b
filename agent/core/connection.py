"""Connection trouble, classified rather than guessed (architecture.md, rule 7).

Pure: the adapters describe what went wrong as a :class:`LinkFailure`; :func:`classify`
says retry, re-authenticate or give up; :func:`backoff` yields the delays (U3: reconnect
after ``reconnect_s``, then doubling up to a cap, with jitter); :class:`LinkMonitor`
turns connect/disconnect outcomes into "log once when lost, once when back" decisions
and keeps the counts of the health page (B15). Time and randomness are arguments.

Models: websockets ``asyncio/client.py`` (``process_exception``: network errors, timeouts
and HTTP 5xx at the handshake are retried, other statuses are fatal) and ``client.py``
(``backoff``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final


class FailureKind(StrEnum):
    """What an adapter saw go wrong, before any interpretation."""

    NETWORK = "network"  # DNS, refused, reset, unreachable
    TLS = "tls"  # certificate or TLS handshake
    TIMEOUT = "timeout"  # connect, open or read timed out
    HTTP_STATUS = "http_status"  # an HTTP answer that is not the one expected (see status)
    CLOSED = "closed"  # the server closed the stream with a close frame (see close_code)
    CLOSED_ABRUPTLY = "closed_abruptly"  # the TCP connection ended without a close frame
    KEEPALIVE_TIMEOUT = "keepalive_timeout"  # our ping got no pong: a dead link
    PROTOCOL = "protocol"  # an answer we cannot read (not WebSocket, not JSON…)
    AUTH_REJECTED = "auth_rejected"  # authorize refused the API key (401/403)
    SESSION_EXPIRED = "session_expired"  # a REST call got 403 on our session
    BAD_ADDRESS = "bad_address"  # the URL or proxy setting cannot be used as it is


class Decision(StrEnum):
    RETRY = "retry"  # wait the backoff delay, connect again
    REAUTHENTICATE = "reauthenticate"  # prove the key again first (REST authorize), then retry
    GIVE_UP = "give_up"  # retrying cannot help: the operator must act (Connect, settings)


@dataclass(frozen=True, slots=True)
class LinkFailure:
    """One failure as an adapter saw it; ``detail`` is safe text (no secrets) for logs."""

    kind: FailureKind
    status: int | None = None  # HTTP status, for HTTP_STATUS
    close_code: int | None = None  # WebSocket close code, for CLOSED
    detail: str = ""

    def describe(self) -> str:
        """A short English phrase for the log and the health page."""
        base = {
            FailureKind.NETWORK: "network error",
            FailureKind.TLS: "TLS error",
            FailureKind.TIMEOUT: "timed out",
            FailureKind.HTTP_STATUS: f"HTTP {self.status}",
            FailureKind.CLOSED: f"closed by the PBX (code {self.close_code})",
            FailureKind.CLOSED_ABRUPTLY: "connection lost",
            FailureKind.KEEPALIVE_TIMEOUT: "no answer to keepalive pings",
            FailureKind.PROTOCOL: "unreadable answer",
            FailureKind.AUTH_REJECTED: "API key refused",
            FailureKind.SESSION_EXPIRED: "session expired",
            FailureKind.BAD_ADDRESS: "unusable address",
        }[self.kind]
        return f"{base}: {self.detail}" if self.detail else base


# HTTP statuses (at the WebSocket handshake or a REST call). phonet-api.md §4.2: 403 is
# the PBX's "session or key no good"; 401 and 302 are seen by one integrator [I].
_AUTH_STATUSES: Final = frozenset({401, 403, 302})
# Worth another try: request timeout, too early, rate limited (websockets retries 5xx only;
# these three are transient by definition, RFC 9110 §15.5.9, RFC 8470, RFC 6585).
_TRANSIENT_4XX: Final = frozenset({408, 425, 429})

# WebSocket close codes (RFC 6455 §7.4.1). phonet-api.md §3.3: the PBX's codes are
# undocumented, and so is how it signals a bad key after the handshake. A policy
# violation or an application code (4000-4999) may mean "bad key": check it first.
_CHECK_KEY_CLOSE: Final = frozenset({1008})
_APPLICATION_CLOSE: Final = range(4000, 5000)

_TABLE: Final = {
    FailureKind.NETWORK: Decision.RETRY,
    FailureKind.TLS: Decision.RETRY,  # a certificate may be fixed; the health page says "TLS"
    FailureKind.TIMEOUT: Decision.RETRY,
    FailureKind.CLOSED_ABRUPTLY: Decision.RETRY,
    FailureKind.KEEPALIVE_TIMEOUT: Decision.RETRY,
    FailureKind.PROTOCOL: Decision.RETRY,  # a proxy's error page is as likely as a bug
    FailureKind.AUTH_REJECTED: Decision.GIVE_UP,
    FailureKind.SESSION_EXPIRED: Decision.REAUTHENTICATE,
    FailureKind.BAD_ADDRESS: Decision.GIVE_UP,
}


def classify(failure: LinkFailure) -> Decision:
    """Retry, re-authenticate or give up, for one described failure."""
    if failure.kind is FailureKind.HTTP_STATUS:
        return _classify_status(failure.status)
    if failure.kind is FailureKind.CLOSED:
        code = failure.close_code
        if code in _CHECK_KEY_CLOSE or (code is not None and code in _APPLICATION_CLOSE):
            return Decision.REAUTHENTICATE
        return Decision.RETRY  # 1000/1001 (restart), 1011-1014 (server trouble), none
    return _TABLE[failure.kind]


def _classify_status(status: int | None) -> Decision:
    if status is None or status >= 500 or status in _TRANSIENT_4XX:
        return Decision.RETRY
    if status in _AUTH_STATUSES:
        return Decision.REAUTHENTICATE
    return Decision.GIVE_UP  # 400, 404…: a wrong domain or URL; retrying will not fix it


# ------------------------------------------------------------------ backoff

JITTER_SPREAD: Final = 0.1


def backoff(
    initial_s: float,
    max_s: float,
    jitter: Callable[[], float],
    *,
    factor: float = 2.0,
    spread: float = JITTER_SPREAD,
) -> Iterator[float]:
    """Delays before reconnecting: ``initial_s``, then ×``factor`` up to ``max_s``, forever.

    features.md U3 defaults: 10 s, doubling, 60 s cap, with jitter. Each delay is scaled
    by ``1 + spread·(2r − 1)`` where ``r = jitter()`` in [0, 1), so ``r = 0.5`` gives the
    plain sequence; the result never exceeds ``max_s``. Jitter keeps the agents of a
    team from all reconnecting on the same tick after a PBX restart.
    """
    if initial_s < 0 or max_s < 0:
        raise ValueError("delays cannot be negative")
    base = min(initial_s, max_s)
    while True:
        scaled = base * (1.0 + spread * (2.0 * jitter() - 1.0))
        yield max(0.0, min(max_s, scaled))
        base = min(max_s, base * factor)


class Backoff:
    """A restartable :func:`backoff`: ``next_delay()`` walks it, ``reset()`` starts over."""

    def __init__(self, initial_s: float, max_s: float, jitter: Callable[[], float]) -> None:
        self._args = (initial_s, max_s, jitter)
        self._delays = backoff(*self._args)

    def next_delay(self) -> float:
        return next(self._delays)

    def reset(self) -> None:
        self._delays = backoff(*self._args)


# -------------------------------------------------------------- link monitor


class LinkState(StrEnum):
    """contracts.md §4 ``status.link``."""

    OFFLINE = "offline"
    CONNECTING = "connecting"
    ONLINE = "online"


@dataclass(frozen=True, slots=True)
class LinkChange:
    """A change worth telling the operator and the log about (once each way).

    ``gave_up`` is True when the link stopped trying for good (e.g. "API key refused");
    only an operator action (Connect, a new key) starts it again.
    """

    state: LinkState
    at: datetime
    reason: str | None = None  # None when the link came up
    gave_up: bool = False

    @property
    def up(self) -> bool:
        return self.state is LinkState.ONLINE


@dataclass(frozen=True, slots=True)
class LinkStats:
    """What the health page shows about the live link (B15)."""

    state: LinkState
    since: datetime | None  # when ``state`` began
    last_event_at: datetime | None  # the last frame received
    connects: int  # successful connections
    reconnects: int  # successful connections after the first
    attempts_failed: int  # failed attempts in a row (0 when online)
    reauthentications: int  # key checks made after a refusal
    last_reason: str | None  # the last failure, described
    gave_up: bool


@dataclass(frozen=True, slots=True)
class NextStep:
    """What to do after a failure: the decision, the wait, and a change to report (or None)."""

    decision: Decision
    delay_s: float
    change: LinkChange | None


class LinkMonitor:
    """Connect/disconnect outcomes in, "what to report and how long to wait" out.

    Reports once when the link is lost (or the first attempt fails) and once when it is
    back; repeated failures in between only update the stats. The backoff restarts after
    a connection that stayed up at least ``healthy_s``: a server that accepts and at once
    drops us keeps backing off instead of being hammered every ``initial_s``.
    """

    def __init__(
        self,
        *,
        reconnect_s: float,
        max_delay_s: float,
        jitter: Callable[[], float],
        healthy_s: float | None = None,
    ) -> None:
        self._jitter = jitter
        self._backoff = Backoff(reconnect_s, max_delay_s, jitter)
        self._healthy_given = healthy_s is not None
        self._healthy_s = max_delay_s if healthy_s is None else healthy_s
        self._state = LinkState.OFFLINE
        self._since: datetime | None = None
        self._last_event_at: datetime | None = None
        self._connects = 0
        self._failed_in_row = 0
        self._reauths = 0
        self._last_reason: str | None = None
        self._gave_up = False
        self._reported_down = False

    @property
    def state(self) -> LinkState:
        return self._state

    def set_backoff(self, reconnect_s: float, max_delay_s: float) -> None:
        """New U3 settings while the link runs: the next delay is ``reconnect_s`` again,
        doubling up to ``max_delay_s``; the counts (the health page's, B15) are kept."""
        self._backoff = Backoff(reconnect_s, max_delay_s, self._jitter)
        if not self._healthy_given:
            self._healthy_s = max_delay_s

    def stats(self) -> LinkStats:
        return LinkStats(
            state=self._state,
            since=self._since,
            last_event_at=self._last_event_at,
            connects=self._connects,
            reconnects=max(0, self._connects - 1),
            attempts_failed=self._failed_in_row,
            reauthentications=self._reauths,
            last_reason=self._last_reason,
            gave_up=self._gave_up,
        )

    def _enter(self, state: LinkState, now: datetime) -> None:
        # "since" marks crossing between up and down: offline and connecting are both
        # "down since the drop" for the health page, however many attempts follow.
        crossing = (state is LinkState.ONLINE) != (self._state is LinkState.ONLINE)
        if crossing or self._since is None:
            self._since = now
        self._state = state

    def connecting(self, now: datetime) -> None:
        """An attempt starts: "connecting" until it ends (offline while waiting to retry)."""
        if self._gave_up:  # a new run after giving up: its first failure is news again
            self._gave_up = False
            self._reported_down = False
        self._enter(LinkState.CONNECTING, now)

    def connected(self, now: datetime) -> LinkChange:
        """The stream is up: always reported (the first time, or "back")."""
        self._enter(LinkState.ONLINE, now)
        self._connects += 1
        self._failed_in_row = 0
        self._reported_down = False
        return LinkChange(state=LinkState.ONLINE, at=now)

    def frame(self, now: datetime) -> None:
        self._last_event_at = now

    def failed(self, now: datetime, failure: LinkFailure) -> NextStep:
        """An attempt failed or the stream dropped: the decision, the wait, the report."""
        up_s = (now - self._since).total_seconds() if self._since is not None else 0.0
        if self._state is LinkState.ONLINE and up_s >= self._healthy_s:
            self._backoff.reset()
        self._failed_in_row += 1
        self._last_reason = failure.describe()
        decision = classify(failure)
        self._enter(LinkState.OFFLINE, now)
        change = None
        if not self._reported_down:
            self._reported_down = True
            change = LinkChange(state=LinkState.OFFLINE, at=now, reason=self._last_reason)
        if decision is Decision.GIVE_UP:
            return NextStep(decision, 0.0, self.give_up(now, self._last_reason))
        return NextStep(decision, self._backoff.next_delay(), change)

    def reauthenticated(self) -> None:
        """A key check was made (B15 counts re-authorisations)."""
        self._reauths += 1

    def give_up(self, now: datetime, reason: str) -> LinkChange:
        """Stop for good; always reported, even when "lost" was reported already."""
        self._gave_up = True
        self._reported_down = True
        self._last_reason = reason
        self._enter(LinkState.OFFLINE, now)
        return LinkChange(state=LinkState.OFFLINE, at=now, reason=reason, gave_up=True)

    def stopped(self, now: datetime) -> None:
        """The client was stopped on purpose (Disconnect): offline, nothing to report.

        The next run starts afresh: its first failure is reported again.
        """
        self._enter(LinkState.OFFLINE, now)
        self._reported_down = False
