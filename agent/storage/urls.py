"""Database URLs of ``--db`` (contracts.md §2): parsed, checked, and shown without a password.

``sqlite:///…`` names a file by its absolute path, taken verbatim (no percent
decoding, so ``DataDir.database_url`` round-trips any path): ``sqlite:////home/u/agent.db``
and ``sqlite:///home/u/agent.db`` both mean ``/home/u/agent.db``, and
``sqlite:///C:\\Users\\u\\agent.db`` a Windows path. ``sqlite:///:memory:`` is for tests.

``postgresql://user:password@host:port/dbname?sslmode=require`` (or ``postgres://``)
names a team database (B5); user and password are percent-decoded, and a few libpq
options may follow in the query string.

A URL in any message goes through :func:`redact_url` first: the password never
leaves this module (preamble: secrets never appear in logs or exceptions).
"""

from __future__ import annotations

import ntpath
import posixpath
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from agent.core.errors import ConfigError

Dialect = Literal["sqlite", "postgresql"]

_PG_SCHEMES = ("postgresql", "postgres")

# libpq connection options a team may need in the URL (postgresql.org/docs/15/libpq-connect.html).
_PG_OPTIONS = frozenset(
    {
        "application_name",
        "connect_timeout",
        "keepalives",
        "keepalives_idle",
        "keepalives_interval",
        "keepalives_count",
        "options",
        "sslmode",
        "sslcert",
        "sslkey",
        "sslrootcert",
        "sslcrl",
        "target_session_attrs",
    }
)

_USAGE = "use sqlite:///ABSOLUTE/PATH.db or postgresql://USER:PASSWORD@HOST:PORT/DBNAME"


@dataclass(frozen=True, slots=True)
class DatabaseUrl:
    """A checked ``--db`` URL. ``str()`` and ``repr()`` never show the password."""

    dialect: Dialect
    raw: str = field(repr=False)
    path: str | None = None  # sqlite: the file, or ":memory:"
    host: str | None = None
    port: int | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    dbname: str | None = None
    options: tuple[tuple[str, str], ...] = ()

    @property
    def display(self) -> str:
        """The URL as logs and messages may show it."""
        return redact_url(self.raw)

    def __str__(self) -> str:
        return self.display


def redact_url(url: str) -> str:
    """``url`` with the password replaced by ``***`` and the query dropped.

    Works on malformed URLs too (an error message must be safe before the URL is
    known to be good). The query goes because libpq also takes ``?password=``.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return f"***@{url.rpartition('@')[2]}" if "@" in url else url
    if scheme == "sqlite":
        return url
    netloc, slash, path = rest.partition("/")
    userinfo, at, hostport = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.partition(':')[0]}:***@{hostport}"
    path = path.partition("?")[0].partition("#")[0]
    return f"{scheme}://{netloc}{slash}{path}"


def parse_database_url(url: str) -> DatabaseUrl:
    """Check ``url`` and split it into its parts; :class:`ConfigError` says what is wrong."""
    url = url.strip()
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme == "sqlite":
        return _parse_sqlite(url)
    if scheme in _PG_SCHEMES:
        return _parse_postgresql(url)
    shown = redact_url(url)
    if not scheme:
        raise ConfigError(f"database URL {shown!r} has no scheme: {_USAGE}")
    raise ConfigError(f"database URL scheme {scheme!r} is not supported: {_USAGE}")


def _parse_sqlite(url: str) -> DatabaseUrl:
    rest = url[len("sqlite://") :]
    if rest == "/:memory:":
        return DatabaseUrl("sqlite", url, path=":memory:")
    # SQLAlchemy's form puts the path after the third slash, the file-URL form after
    # the second; whichever is absolute on some OS is the file.
    for candidate in (rest[1:], rest):
        if candidate and (posixpath.isabs(candidate) or _is_windows_abs(candidate)):
            return DatabaseUrl("sqlite", url, path=candidate)
    raise ConfigError(f"database URL {url!r} needs an absolute file path: {_USAGE}")


def _is_windows_abs(path: str) -> bool:
    drive, tail = ntpath.splitdrive(path)
    return bool(drive) and tail[:1] in ("/", "\\")


def _parse_postgresql(url: str) -> DatabaseUrl:
    shown = redact_url(url)
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"database URL {shown!r} has a bad port") from None
    dbname = unquote(parts.path.lstrip("/"))
    if not dbname or "/" in dbname:
        raise ConfigError(f"database URL {shown!r} needs one database name after the host")
    options = tuple(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted({key for key, _ in options} - _PG_OPTIONS - {"password"})
    if unknown:
        raise ConfigError(
            f"database URL {shown!r} has unknown options {', '.join(unknown)}; "
            f"known: {', '.join(sorted(_PG_OPTIONS))}"
        )
    password = unquote(parts.password) if parts.password is not None else None
    query_password = [value for key, value in options if key == "password"]
    return DatabaseUrl(
        "postgresql",
        url,
        host=parts.hostname or None,
        port=port,
        user=unquote(parts.username) if parts.username else None,
        password=query_password[-1] if query_password else password,
        dbname=dbname,
        options=tuple((key, value) for key, value in options if key != "password"),
    )
