"""Keep API keys and session ids out of the simulator's logs and request log.

contracts.md §3: the simulator logs to stderr with API keys and session ids masked,
and ``/_sim/requests`` shows raw query and body text with the same masking. The
patterns cover the places a secret travels in the Phonet protocol: the live URL's
``apiKey=`` (phonet-api.md §3.3), authorize's JSON ``"apiKey"`` (§1.1) and the
``JSESSIONID`` cookie (§1.2); the known secrets themselves are masked wherever else
they turn up.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable

MASK = "***"

_PATTERNS = (
    # apiKey=VALUE in a query string (URL-encoded or not), up to the next separator.
    re.compile(r"(?i)(api_?key=)[^&\s\"']*"),
    # "apiKey": "VALUE" in JSON text.
    re.compile(r"(?i)(\"api_?key\"\s*:\s*\")[^\"]*"),
    # JSESSIONID=VALUE in a cookie, or Java's ;jsessionid= URL rewriting.
    re.compile(r"(?i)(jsessionid=)[A-Za-z0-9_.-]*"),
)


def mask(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every API key and session id replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text


class MaskingFilter(logging.Filter):
    """A logging filter that masks secrets in each record's final message.

    ``secrets`` is called per record, so session ids minted after the filter was
    installed are masked too. The record's message is rewritten in place (and its
    arguments dropped), so every handler downstream sees the masked text.
    """

    def __init__(self, secrets: Callable[[], Iterable[str]] = tuple) -> None:
        super().__init__()
        self._secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask(message, self._secrets())
        if masked != message:
            record.msg = masked
            record.args = None
        return True
