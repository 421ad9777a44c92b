"""The one error tree of the agent (architecture.md, rule 6).

Adapters translate library errors into these at their boundary
(``raise PbxUnreachable(...) from exc``); only thread entry points and the runtime
catch everything, and log once. Expected failures (a form field, a spreadsheet row)
are values, not exceptions.

::

    AgentError                       message_key + safe message (never a secret)
    ├── ConfigError                  not configured / bad settings          exit 2/3
    │   └── SecretMissing            no key in the keyring, no PHONET_API_KEY
    ├── PbxError                     anything the PBX said or did not say
    │   ├── PbxUnreachable           network, TLS, timeouts, 5xx            exit 3, retry
    │   ├── PbxAuthRejected          the PBX refused the API key            exit 4, give up
    │   ├── PbxSessionExpired        403 on a REST call: authorize again
    │   └── PbxProtocolError         a reply we cannot read (not JSON, bad shape)
    ├── StorageError                 the database failed                    exit 3
    ├── LicenseError                 a product key refused                  exit 5 / 2
    └── InvalidInput                 a number, a URL, a file the user gave  exit 2
"""

from __future__ import annotations


class AgentError(Exception):
    """Base of every error the agent raises on purpose.

    ``message_key`` names the user-facing text in ``agent/i18n``; ``str(err)`` is a
    plain English message safe for logs (no secrets, ever).
    """

    message_key = "error.internal"
    exit_code = 1

    def __init__(self, message: str, *, message_key: str | None = None) -> None:
        super().__init__(message)
        if message_key is not None:
            self.message_key = message_key


class ConfigError(AgentError):
    message_key = "error.config"
    exit_code = 3


class SecretMissing(ConfigError):
    message_key = "error.secret_missing"


class PbxError(AgentError):
    message_key = "error.pbx"
    exit_code = 3


class PbxUnreachable(PbxError):
    message_key = "error.pbx_unreachable"


class PbxAuthRejected(PbxError):
    message_key = "error.pbx_auth_rejected"
    exit_code = 4


class PbxSessionExpired(PbxError):
    message_key = "error.pbx_session_expired"


class PbxProtocolError(PbxError):
    message_key = "error.pbx_protocol"


class StorageError(AgentError):
    message_key = "error.storage"
    exit_code = 3


class LicenseError(AgentError):
    message_key = "error.license"
    exit_code = 5


class InvalidInput(AgentError):
    message_key = "error.invalid_input"
    exit_code = 2

    def __init__(
        self, message: str, *, field: str | None = None, message_key: str | None = None
    ) -> None:
        super().__init__(message, message_key=message_key)
        self.field = field
