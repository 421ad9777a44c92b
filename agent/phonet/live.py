"""The Phonet live stream client (phonet-api.md §3.3) over ``websockets``.

Dumb on purpose: it connects, hands every frame over raw through ``on_frame`` (parsing
happens where the runtime decides), and reconnects per the core's classification and
backoff (``agent/core/connection.py``; architecture.md, rule 7). It never sends a
message: no client of the real PBX does (§3.3).

The URL carries the API key in its query string, so it is built in one place
(:func:`live_url`) and only its masked form (:func:`masked_url`) is ever logged;
websockets' own debug log (which prints the request line) goes through a redacting
adapter, and its exceptions (``InvalidURI`` embeds the URI) are translated into
:class:`LinkFailure` values with safe text.

Keepalive: the PBX's is undocumented (§3.3, §8). We send protocol-level pings (RFC 6455
control frames, not messages) every ``ping_interval_s`` (20 s) and drop the link when
no pong comes within as long again, so a dead NAT mapping or a sleeping laptop is
noticed in under a minute rather than at the OS's TCP timeout. Any RFC 6455 server
answers pings; if the PBX should not, ``ping_interval_s=None`` turns them off.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosed,
    InvalidMessage,
    InvalidProxy,
    InvalidStatus,
    InvalidURI,
    WebSocketException,
)

import agent
from agent.core.connection import (
    Decision,
    FailureKind,
    LinkChange,
    LinkFailure,
    LinkMonitor,
    LinkState,
    LinkStats,
)
from agent.core.errors import PbxAuthRejected, PbxError
from agent.logs import redact_value
from agent.phonet.rest import make_ssl_context
from agent.phonet.wire import mask_secrets

log = logging.getLogger("agent.phonet.live")

LIVE_PATH: Final = "/live/connector/v3/easy"
KEY_REFUSED: Final = "API key refused"
_KEEPALIVE_REASON: Final = "keepalive ping timeout"  # websockets' own close reason


def live_url(base: str, *, domain: str, api_key: str, ext: str) -> str:
    """``{base}/live/connector/v3/easy?domain=…&apiKey=…&subscriber=…`` (§3.3).

    ``base`` is ``wss://{domain}`` or an override (the simulator's ``ws://`` URL); a base
    that already ends with the live path is used as it is.
    """
    parts = urlsplit(base.rstrip("/"))
    path = parts.path if parts.path.endswith(LIVE_PATH) else parts.path + LIVE_PATH
    query = urlencode({"domain": domain, "apiKey": api_key, "subscriber": ext})
    return urlunsplit((parts.scheme, parts.netloc, path, query, ""))


def masked_url(url: str) -> str:
    """The live URL as it may be logged: the key replaced by ``***``."""
    return mask_secrets(url)


def _check_backoff(reconnect_s: float, max_delay_s: float) -> None:
    if reconnect_s < 0 or max_delay_s < 0:
        raise ValueError("reconnect delays cannot be negative")


class _RedactingAdapter(logging.LoggerAdapter[logging.Logger]):
    """websockets logs the request line (with the key) at debug level: mask it."""

    def __init__(self, logger: logging.Logger, secret: str) -> None:
        super().__init__(logger, {})
        self._secret = secret

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if not self.isEnabledFor(level):
            return
        text = str(msg) % args if args else str(msg)
        if self._secret:
            text = text.replace(self._secret, "***")
        self.logger.log(level, mask_secrets(text), **kwargs)

    def process(
        self, msg: object, kwargs: MutableMapping[str, Any]
    ) -> tuple[object, MutableMapping[str, Any]]:
        return msg, kwargs


def _utcnow() -> datetime:
    return datetime.now(UTC)


class LiveStream:
    """One subscriber's live stream, reconnecting until cancelled or refused for good."""

    def __init__(
        self,
        *,
        domain: str,
        api_key: str,
        ext: str,
        on_frame: Callable[[str], None],
        on_link: Callable[[LinkChange], None],
        ws_base_url: str | None = None,
        ca_file: str | None = None,
        reconnect_s: float = 10.0,
        max_delay_s: float = 60.0,
        check_key: Callable[[], Awaitable[None]] | None = None,
        jitter: Callable[[], float] = random.random,
        ping_interval_s: float | None = 20.0,
        open_timeout_s: float = 10.0,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._api_key = api_key
        redact_value(api_key)  # every handler of the agent masks it (agent/logs.py)
        self._url = live_url(
            ws_base_url or f"wss://{domain}", domain=domain, api_key=api_key, ext=ext
        )
        self._ssl: ssl.SSLContext | None = (
            make_ssl_context(ca_file) if self._url.startswith("wss:") else None
        )
        self._on_frame = on_frame
        self._on_link = on_link
        self._check_key = check_key
        self._ping_interval_s = ping_interval_s
        self._open_timeout_s = open_timeout_s
        self._clock = clock
        _check_backoff(reconnect_s, max_delay_s)
        self._backoff_s = (reconnect_s, max_delay_s)
        self._monitor = LinkMonitor(reconnect_s=reconnect_s, max_delay_s=max_delay_s, jitter=jitter)
        self._wake = asyncio.Event()  # Connect pressed: the next wait ends at once
        self._replan = asyncio.Event()  # the wait in progress must look again
        self._wait_s: float | None = None  # the wait in progress (None: not waiting)
        self._ws_logger = _RedactingAdapter(logging.getLogger("agent.phonet.live.ws"), api_key)
        self._frame_errors = 0

    @property
    def state(self) -> LinkState:
        return self._monitor.state

    @property
    def stats(self) -> LinkStats:
        return self._monitor.stats()

    @property
    def url_for_log(self) -> str:
        return masked_url(self._url)

    @property
    def backoff(self) -> tuple[float, float]:
        """(``reconnect_s``, ``max_delay_s``) in force: the U3 settings the link follows."""
        return self._backoff_s

    def reconnect_now(self) -> None:
        """The Connect button: skip the rest of the current wait (no-op while connected)."""
        if self._monitor.state is not LinkState.ONLINE:
            self._wake.set()
            self._replan.set()

    def set_backoff(self, reconnect_s: float, max_delay_s: float) -> None:
        """U3 changed while the agent runs (routes_settings.py applies the saved setting).

        The backoff starts over: the next failure waits ``reconnect_s``, doubling up to
        ``max_delay_s``. A wait in progress ends no later than ``reconnect_s`` after it
        began (an operator who lowers the delay while the link is down expects it to
        apply to that wait); it is never made longer.
        """
        _check_backoff(reconnect_s, max_delay_s)
        self._backoff_s = (reconnect_s, max_delay_s)
        self._monitor.set_backoff(reconnect_s, max_delay_s)
        log.info("reconnect delay now %.2f s, doubling up to %.2f s", reconnect_s, max_delay_s)
        if self._wait_s is not None:
            self._wait_s = min(self._wait_s, reconnect_s, max_delay_s)
            self._replan.set()

    async def run(self) -> None:
        """Connect, deliver frames, reconnect per the backoff; returns when it gives up.

        Cancel the task to stop. After giving up (the key was refused, or the address
        is wrong) a new ``run()`` starts over, e.g. after the operator fixed the setting.
        """
        log.debug("live stream: %s", self.url_for_log)
        try:
            while True:
                failure = await self._attempt()
                step = self._monitor.failed(self._clock(), failure)
                if step.change is not None:
                    self._report(step.change, step.delay_s)
                if step.decision is Decision.GIVE_UP:
                    return
                if step.decision is Decision.REAUTHENTICATE and await self._key_refused():
                    self._report(self._monitor.give_up(self._clock(), KEY_REFUSED), 0.0)
                    return
                await self._wait(step.delay_s)
        finally:
            if not self._monitor.stats().gave_up:
                self._monitor.stopped(self._clock())

    # ---------------------------------------------------------------- steps

    async def _attempt(self) -> LinkFailure:
        """One connection, from handshake to drop; what ended it."""
        self._wake.clear()  # a Connect press from now on cuts the next wait short
        self._monitor.connecting(self._clock())
        try:
            ws = await connect(
                self._url,
                ssl=self._ssl,
                open_timeout=self._open_timeout_s,
                ping_interval=self._ping_interval_s,
                ping_timeout=self._ping_interval_s,
                close_timeout=2.0,
                logger=self._ws_logger,
                user_agent_header=f"phonet-agent/{agent.__version__}",
            )
        except (WebSocketException, OSError, TimeoutError) as exc:
            return self._failure(exc)
        try:
            self._report(self._monitor.connected(self._clock()), 0.0)
            return await self._receive(ws)
        finally:
            # A normal close (1000) also when the task is cancelled (Disconnect): the
            # context manager would say 1011 "internal error" for any exception.
            await ws.close()

    async def _receive(self, ws: ClientConnection) -> LinkFailure:
        while True:
            try:
                message = await ws.recv()
            except ConnectionClosed as exc:
                return self._closed(exc)
            self._monitor.frame(self._clock())
            text = message if isinstance(message, str) else message.decode("utf-8", "replace")
            try:
                self._on_frame(text)
            except Exception:
                # A bug downstream must not drop the link; say it once per run of them.
                self._frame_errors += 1
                if self._frame_errors == 1:
                    log.exception("on_frame failed; the live link stays up")
            else:
                self._frame_errors = 0

    async def _key_refused(self) -> bool:
        """Ask REST whether the key is dead (a 403 at the handshake is ambiguous)."""
        if self._check_key is None:
            return False
        self._monitor.reauthenticated()
        try:
            await self._check_key()
        except PbxAuthRejected:
            return True
        except PbxError as exc:  # the PBX is down as a whole: keep retrying
            log.debug("key check inconclusive: %s", exc)
        return False

    async def _wait(self, delay_s: float) -> None:
        """Wait ``delay_s`` (``set_backoff`` may shorten it), or until Connect is pressed."""
        loop = asyncio.get_running_loop()
        began = loop.time()
        self._wait_s = delay_s
        try:
            while not self._wake.is_set():
                remaining = began + self._wait_s - loop.time()
                if remaining <= 0:
                    return
                self._replan.clear()
                try:
                    # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a
                    # cancellation (CPython gh-86296) and Disconnect would not stop us.
                    async with asyncio.timeout(remaining):
                        await self._replan.wait()
                except TimeoutError:
                    return
        finally:
            self._wait_s = None

    def _report(self, change: LinkChange, delay_s: float) -> None:
        if change.state is LinkState.ONLINE:
            stats = self._monitor.stats()
            if stats.connects == 1:
                log.info("live link up")
            else:
                log.info("live link back")
        elif change.gave_up:
            log.error("live link stopped: %s", change.reason)
        else:
            log.warning("live link lost: %s; retrying in %.1f s", change.reason, delay_s)
        try:
            self._on_link(change)
        except Exception:
            log.exception("on_link failed")

    # ---------------------------------------------------- failure translation

    def _safe(self, text: str) -> str:
        if self._api_key:
            text = text.replace(self._api_key, "***")
        return mask_secrets(text)[:200]

    def _closed(self, exc: ConnectionClosed) -> LinkFailure:
        if exc.rcvd is not None:
            return LinkFailure(
                FailureKind.CLOSED, close_code=exc.rcvd.code, detail=self._safe(exc.rcvd.reason)
            )
        if exc.sent is not None and exc.sent.reason == _KEEPALIVE_REASON:
            return LinkFailure(FailureKind.KEEPALIVE_TIMEOUT)
        return LinkFailure(FailureKind.CLOSED_ABRUPTLY)

    def _failure(self, exc: BaseException) -> LinkFailure:
        """websockets/OS errors at connect time as a failure value (no URI, no key)."""
        if isinstance(exc, InvalidStatus):
            return LinkFailure(FailureKind.HTTP_STATUS, status=exc.response.status_code)
        if isinstance(exc, InvalidURI | InvalidProxy):  # str(InvalidURI) holds the key
            return LinkFailure(FailureKind.BAD_ADDRESS, detail=type(exc).__name__)
        if isinstance(exc, ConnectionClosed):
            return self._closed(exc)
        if isinstance(exc, InvalidMessage) and isinstance(exc.__cause__, EOFError):
            return LinkFailure(FailureKind.CLOSED_ABRUPTLY, detail="during the handshake")
        if isinstance(exc, ssl.SSLError):
            return LinkFailure(FailureKind.TLS, detail=self._safe(str(exc)))
        if isinstance(exc, TimeoutError):
            return LinkFailure(FailureKind.TIMEOUT, detail="opening handshake")
        if isinstance(exc, OSError):
            return LinkFailure(FailureKind.NETWORK, detail=self._safe(str(exc)))
        return LinkFailure(FailureKind.PROTOCOL, detail=self._safe(str(exc)))
