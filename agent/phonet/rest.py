"""The Phonet REST client (phonet-api.md §1–§2) over one ``httpx.AsyncClient``.

Every library error is translated into ``agent/core/errors.py`` at this boundary
(architecture.md, rule 6); no message ever holds the API key or the session id.

Session handling (phonet-api.md §1): ``POST /rest/security/authorize`` answers with a
``JSESSIONID`` cookie, sent back on every call. A 403 (or 401/302, §4.2 [I]) on a call
means the session died: authorize again and retry that call once (wearesho Sender).
Authorizing is serialised, so parallel requests that hit an expired session authorize
once between them. We keep the session id ourselves rather than in httpx's cookie jar,
whose domain rules (IP hosts, ``Domain=`` attributes) we do not want to depend on.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import logging
import re
import ssl
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Literal
from urllib.parse import quote, urlsplit

import httpx

from agent.core.connection import Decision, FailureKind, LinkFailure, classify
from agent.core.errors import (
    ConfigError,
    InvalidInput,
    PbxAuthRejected,
    PbxError,
    PbxProtocolError,
    PbxSessionExpired,
    PbxUnreachable,
)
from agent.core.events import CallInfo, HistoryRecord
from agent.logs import redact_value
from agent.phonet.wire import (
    FrameRejected,
    PbxUser,
    make_call_body,
    make_call_uuid,
    mask_secrets,
    parse_active_calls,
    parse_history,
    parse_users,
)

log = logging.getLogger("agent.phonet.rest")

HistoryKind = Literal["company", "users", "missed"]

# phonet-api.md §2.3: "limit" is at most 50; a short page ends the listing.
PAGE_LIMIT: Final = 50
_HISTORY_PATHS: Final[dict[str, str]] = {
    "company": "/rest/calls/company.api",
    "users": "/rest/calls/users.api",
    "missed": "/rest/calls/missed.api",
}
_AUTHORIZE: Final = "/rest/security/authorize"
_SESSION_COOKIE: Final = "JSESSIONID"
_UUID_CHARS: Final = re.compile(r"[0-9A-Fa-f-]{1,64}")
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class RestStats:
    """Counters for the health page (B15); the client updates them, callers only read."""

    requests: int = 0
    errors: int = 0
    authorizations: int = 0
    reauthorizations: int = 0  # forced by a dead session (403 mid-work)
    rejected_records: int = 0  # history/active records the wire could not read
    last_latency_ms: float | None = None
    last_error: str | None = None


def make_ssl_context(ca_file: str | None) -> ssl.SSLContext:
    """The CA file when given (the simulator's ``--tls`` CA), else the OS trust store."""
    if ca_file is None:
        import truststore  # the OS store: corporate CAs work as in the browser

        ctx: ssl.SSLContext = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        return ctx
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot read the CA file {ca_file}: {exc.strerror or exc}") from exc


def epoch_ms(value: datetime) -> int:
    """An aware datetime as epoch milliseconds (timeFrom/timeTo, phonet-api.md §2.3)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: history windows are in UTC")
    return (value - _EPOCH) // timedelta(milliseconds=1)


def _is_tls_error(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class PhonetRest:
    """The REST side of one Phonet account (phonet-api.md §2)."""

    def __init__(
        self,
        *,
        domain: str,
        api_key: str,
        base_url: str | None = None,
        ca_file: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self._domain = domain
        self._api_key = api_key
        redact_value(api_key)  # every handler of the agent masks it (agent/logs.py)
        self._base = (base_url or f"https://{domain}").rstrip("/")
        self._host = urlsplit(self._base).netloc or domain
        self._session: str | None = None
        self._auth_lock = asyncio.Lock()
        self.stats = RestStats()
        # A jar that takes nothing: the session is ours to send (see the module doc).
        jar = http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        self._client = httpx.AsyncClient(
            base_url=self._base,
            # phonet-api.md §0: JSON content type on every call, GETs included.
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            cookies=jar,
            timeout=httpx.Timeout(timeout_s),
            # Plain HTTP (the simulator, a PBX on the LAN) has no TLS, and no redirect is
            # followed (below): no context, which httpx would build from certifi (~2 MB,
            # ~40 ms at start; issue 2).
            verify=make_ssl_context(ca_file) if self._base.startswith("https:") else False,
            follow_redirects=False,  # a 302 is a dead session to us (§4.2), not a hop
        )

    async def __aenter__(self) -> PhonetRest:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    # ------------------------------------------------------------- secrets

    def _redact(self, text: str) -> str:
        for secret in (self._api_key, self._session):
            if secret:
                text = text.replace(secret, "***")
        return mask_secrets(text)

    def _fail(self, error: PbxError) -> PbxError:
        self.stats.errors += 1
        self.stats.last_error = str(error)
        return error

    # ----------------------------------------------------------- transport

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Sequence[tuple[str, str | int]] | None = None,
        body: object = None,
        session: str | None = None,
    ) -> httpx.Response:
        headers = {"Cookie": f"{_SESSION_COOKIE}={session}"} if session else None
        content = None if body is None else json.dumps(body).encode()
        self.stats.requests += 1
        started = time.perf_counter()
        try:
            response = await self._client.request(
                method, path, params=list(params or ()), content=content, headers=headers
            )
        except httpx.HTTPError as exc:
            raise self._fail(self._transport_error(exc, path)) from exc
        self.stats.last_latency_ms = (time.perf_counter() - started) * 1000.0
        return response

    def _transport_error(self, exc: httpx.HTTPError, path: str) -> PbxError:
        where = f"{self._host}{path}"
        detail = self._redact(str(exc) or type(exc).__name__)
        if isinstance(exc, httpx.TimeoutException):
            return PbxUnreachable(f"{where}: timed out ({type(exc).__name__})")
        if isinstance(exc, httpx.TransportError):
            kind = "TLS error" if _is_tls_error(exc) else "network error"
            return PbxUnreachable(f"{where}: {kind}: {detail}")
        return PbxProtocolError(f"{where}: {detail}")

    def _status_error(self, response: httpx.Response, path: str) -> PbxError:
        where = f"{self._host}{path}"
        status = response.status_code
        decision = classify(LinkFailure(FailureKind.HTTP_STATUS, status=status))
        if decision is Decision.RETRY:
            return PbxUnreachable(f"{where}: the PBX answered HTTP {status}")
        if decision is Decision.REAUTHENTICATE:
            return PbxSessionExpired(f"{where}: HTTP {status} again after a fresh authorize")
        return PbxProtocolError(f"{where}: unexpected HTTP {status}")

    # ------------------------------------------------------------- session

    async def authorize(self) -> None:
        """Get a fresh session (phonet-api.md §1). 401/403 → PbxAuthRejected."""
        async with self._auth_lock:
            await self._authorize_locked()

    async def _authorize_locked(self) -> None:
        self._session = None
        body = {"domain": self._domain, "apiKey": self._api_key}
        response = await self._send("POST", _AUTHORIZE, body=body)
        if response.status_code in (401, 403):
            raise self._fail(
                PbxAuthRejected(
                    f"{self._host}: the PBX refused the API key (HTTP {response.status_code})"
                )
            )
        if not response.is_success:
            status = LinkFailure(FailureKind.HTTP_STATUS, status=response.status_code)
            what = f"{self._host}{_AUTHORIZE}: HTTP {response.status_code}"
            if classify(status) is Decision.RETRY:
                raise self._fail(PbxUnreachable(what))
            raise self._fail(PbxProtocolError(f"{what} (not an answer to authorize)"))
        session = _session_cookie(response)
        if session is None:  # wearesho: no Set-Cookie is an auth failure (CookieException)
            raise self._fail(
                PbxProtocolError(f"{self._host}: authorize answered without a session cookie")
            )
        redact_value(session)  # httpcore's debug trace would print the Set-Cookie header
        self._session = session
        self.stats.authorizations += 1

    async def _current_session(self) -> str:
        if self._session is None:
            async with self._auth_lock:
                if self._session is None:
                    await self._authorize_locked()
        assert self._session is not None
        return self._session

    async def _reauthorize(self, stale: str) -> None:
        async with self._auth_lock:
            if self._session == stale:  # nobody refreshed it while we waited
                log.info("PBX session expired: authorizing again")
                self.stats.reauthorizations += 1
                await self._authorize_locked()

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Sequence[tuple[str, str | int]] | None = None,
        body: object = None,
        want_json: bool = True,
    ) -> object:
        """One authorized call; a dead session is renewed and the call retried once."""
        for attempt in (1, 2):
            session = await self._current_session()
            response = await self._send(method, path, params=params, body=body, session=session)
            if response.is_success:
                return self._json(response, path) if want_json else None
            status = LinkFailure(FailureKind.HTTP_STATUS, status=response.status_code)
            if attempt == 1 and classify(status) is Decision.REAUTHENTICATE:
                await self._reauthorize(stale=session)
                continue
            raise self._fail(self._status_error(response, path))
        raise AssertionError("unreachable")  # pragma: no cover

    def _json(self, response: httpx.Response, path: str) -> object:
        try:
            return json.loads(response.content)
        except ValueError as exc:  # includes UnicodeDecodeError
            raise self._fail(
                PbxProtocolError(f"{self._host}{path}: the answer is not JSON")
            ) from exc

    def _expect_list(self, payload: object, path: str) -> list[object]:
        if not isinstance(payload, list):
            raise self._fail(
                PbxProtocolError(
                    f"{self._host}{path}: expected a JSON array, got {type(payload).__name__}"
                )
            )
        return payload

    def _report(self, rejected: list[FrameRejected], what: str) -> None:
        if rejected:
            self.stats.rejected_records += len(rejected)
            first = rejected[0]
            log.warning(
                "%d %s record(s) skipped; first: %s (%s)",
                len(rejected),
                what,
                first.reason,
                first.excerpt,
            )

    # ----------------------------------------------------------- endpoints

    async def users(self) -> list[PbxUser]:
        """``GET /rest/users`` (phonet-api.md §2.1)."""
        path = "/rest/users"
        return parse_users(self._expect_list(await self._call("GET", path), path))

    async def active_calls(self, own_ext: str) -> list[CallInfo]:
        """``GET /rest/calls/active/v3`` (phonet-api.md §2.2), seen from ``own_ext``."""
        path = "/rest/calls/active/v3"
        payload = self._expect_list(await self._call("GET", path), path)
        calls, rejected = parse_active_calls(payload, own_ext=own_ext)
        self._report(rejected, "active-call")
        return calls

    async def history(
        self,
        kind: HistoryKind,
        *,
        time_from: datetime,
        time_to: datetime,
        limit: int = PAGE_LIMIT,
        offset: int = 0,
        directions: Sequence[int] | None = None,
    ) -> list[HistoryRecord]:
        """One page of ``/rest/calls/{kind}.api`` (phonet-api.md §2.3)."""
        records, _ = await self._history_page(
            kind, time_from, time_to, limit=limit, offset=offset, directions=directions
        )
        return records

    async def _history_page(
        self,
        kind: HistoryKind,
        time_from: datetime,
        time_to: datetime,
        *,
        limit: int,
        offset: int,
        directions: Sequence[int] | None,
    ) -> tuple[list[HistoryRecord], list[object]]:
        if not 1 <= limit <= PAGE_LIMIT:
            raise ValueError(f"limit must be 1..{PAGE_LIMIT}")  # wearesho's client rule
        if offset < 0:
            raise ValueError("offset cannot be negative")
        path = _HISTORY_PATHS[kind]
        params: list[tuple[str, str | int]] = [
            ("timeFrom", epoch_ms(time_from)),
            ("timeTo", epoch_ms(time_to)),
            ("limit", limit),
            ("offset", offset),
        ]
        # §2.3: the encoding of "directions" is not settled; repeated keys are the plainest
        # reading and the simulator accepts them (with the [] and bitmask forms).
        params += [("directions", int(d)) for d in directions or ()]
        raw = self._expect_list(await self._call("GET", path, params=params), path)
        records, rejected = parse_history(raw)
        self._report(rejected, "history")
        return records, raw

    async def history_pages(
        self,
        kind: HistoryKind,
        *,
        time_from: datetime,
        time_to: datetime,
        directions: Sequence[int] | None = None,
    ) -> AsyncIterator[tuple[int, list[HistoryRecord]]]:
        """Every page of the window as ``(offset, records)``; stops on a short page (§2.3).

        A page is "short" by its raw record count, so a record the wire skips does not
        end the listing early. Records may repeat across pages when new calls end inside
        the window while paging (offsets shift): callers merge by uuid.
        """
        offset = 0
        previous: list[object] | None = None
        while True:
            records, raw = await self._history_page(
                kind, time_from, time_to, limit=PAGE_LIMIT, offset=offset, directions=directions
            )
            if raw and raw == previous:  # a server that ignores offset would loop forever
                raise self._fail(PbxProtocolError(f"{self._host}: history paging does not advance"))
            yield offset, records
            if len(raw) < PAGE_LIMIT:
                return
            offset += len(raw)
            previous = raw

    async def make_call(self, ext: str, number: str) -> str:
        """``POST /rest/user/makeCall`` (phonet-api.md §2.4); the call's normalised uuid."""
        path = "/rest/user/makeCall"
        payload = await self._call("POST", path, body=make_call_body(ext, number))
        uuid = make_call_uuid(payload)
        if uuid is None:
            raise self._fail(PbxProtocolError(f"{self._host}{path}: no uuid in the answer"))
        return uuid

    async def hangup(self, uuid: str) -> None:
        """``GET /rest/calls/active/{uuid}/hangup`` (phonet-api.md §2.5): an empty answer."""
        await self._call("GET", f"/rest/calls/active/{_path_uuid(uuid)}/hangup", want_json=False)

    def audio_url(self, uuid: str) -> str:
        """The recording (phonet-api.md §2.6); public path, available after the call ends."""
        return f"{self._base}/rest/public/calls/{_path_uuid(uuid)}/audio"


def _path_uuid(uuid: str) -> str:
    uuid = uuid.strip()
    if not _UUID_CHARS.fullmatch(uuid):
        raise InvalidInput("not a call id", field="uuid")
    return quote(uuid, safe="")


def _session_cookie(response: httpx.Response) -> str | None:
    """The JSESSIONID value of the first Set-Cookie that carries one (phonet-api.md §1.2)."""
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        if name.strip() == _SESSION_COOKIE:
            value = rest.split(";", 1)[0].strip()
            if value:
                return value
    return None
