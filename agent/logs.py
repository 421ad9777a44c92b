"""Logging set-up and the redacting filter: no secret reaches a log line.

Secrets (API keys, passwords, session ids) are registered with :func:`redact_value`
by agent/secrets.py as soon as they are read; every handler the agent installs
formats through :class:`RedactingFormatter`, which masks them and the shapes that
carry them (``apiKey=…`` in the live-stream URL, ``JSESSIONID=…``, ``"apiKey": "…"``,
URL passwords) in the message *and* in exception text.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
import threading
from pathlib import Path

MASK = "***"

_PATTERNS = [
    re.compile(r"(?i)(apiKey=)[^&\s\"']+"),
    re.compile(r"(?i)(JSESSIONID=)[A-Za-z0-9_\-]+"),
    re.compile(r"(?i)(\"(?:apiKey|api_key|password|token)\"\s*:\s*\")[^\"]*"),
    re.compile(r"(?i)((?:token|password|secret)=)[^&\s\"']+"),
    re.compile(r"(?i)(Bearer\s+)[A-Za-z0-9_\-\.]+"),
    re.compile(r"([a-z][a-z0-9+.\-]*://[^:/\s@]+:)[^@\s/]+(@)"),  # scheme://user:PASSWORD@
]

_known_secrets: set[str] = set()
_lock = threading.Lock()


def redact_value(secret: str | None) -> None:
    """Mask this exact value wherever it would appear in a log line from now on."""
    if secret and len(secret) >= 4:
        with _lock:
            _known_secrets.add(secret)


def redact(text: str) -> str:
    """The text with every known secret and secret-carrying shape masked."""
    for pattern in _PATTERNS:
        text = pattern.sub(
            lambda m: m.group(1) + MASK + (m.group(2) if m.lastindex == 2 else ""), text
        )
    with _lock:
        secrets = sorted(_known_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class RedactingFilter(logging.Filter):
    """For handlers we do not own (e.g. a test's caplog): masks the message in place."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def setup_logging(log_file: Path | None, *, verbose: bool = False, console: bool = True) -> None:
    """Root logging for an agent process: a rotated file and, optionally, stderr."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    formatter = RedactingFormatter(FORMAT)
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.handlers.RotatingFileHandler(
            log_file, maxBytes=2_000_000, backupCount=5, encoding="utf-8"
        )
        file_handler.setFormatter(formatter)
        root.addHandler(file_handler)
    if console:
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(formatter)
        stream.setLevel(logging.DEBUG if verbose else logging.WARNING)
        root.addHandler(stream)
    root.addFilter(RedactingFilter())
    # Libraries that would log URLs (the live-stream URL carries the API key).
    for noisy in ("httpx", "httpcore", "websockets", "uvicorn.access", "hpack", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
