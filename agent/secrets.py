"""The only holder of secrets: the OS keyring (U1, U2, G1, G6; contracts.md §2).

Service ``Phonet Agent``; users ``{domain}/{ext}`` (an operator's API key),
``{domain}/team`` (the team's default key), ``robot/{server}/{user}`` (the robot
database password). ``PHONET_API_KEY``, when set, wins for that process only and is
never saved. Every secret read is registered with the log redactor at once.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from agent.core.errors import ConfigError, SecretMissing
from agent.logs import redact_value

SERVICE = "Phonet Agent"
ENV_API_KEY = "PHONET_API_KEY"

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SecretName:
    """A named secret and its keyring user."""

    kind: str  # "api-key" | "team-api-key" | "robot-password"
    user: str

    @classmethod
    def api_key(cls, domain: str, ext: str) -> SecretName:
        return cls("api-key", f"{domain}/{ext}")

    @classmethod
    def team_api_key(cls, domain: str) -> SecretName:
        return cls("team-api-key", f"{domain}/team")

    @classmethod
    def robot_password(cls, server: str, user: str) -> SecretName:
        return cls("robot-password", f"robot/{server}/{user}")


class Secrets:
    """Read and write secrets in the keyring; the keyring module is imported lazily."""

    def __init__(self, *, use_keyring: bool = True) -> None:
        self.use_keyring = use_keyring

    def get(self, name: SecretName) -> str | None:
        if not self.use_keyring:
            return None
        keyring, errors = _keyring()
        try:
            value: str | None = keyring.get_password(SERVICE, name.user)
        except errors.KeyringError as exc:
            log.warning("keyring unavailable: %s", type(exc).__name__)
            return None
        redact_value(value)
        return value

    def set(self, name: SecretName, value: str) -> None:
        redact_value(value)
        keyring, errors = _keyring()
        try:
            keyring.set_password(SERVICE, name.user, value)
        except errors.NoKeyringError as exc:
            raise ConfigError(
                "no OS keyring is available to store secrets on this machine",
                message_key="error.no_keyring",
            ) from exc
        except errors.KeyringError as exc:
            raise ConfigError(f"the keyring refused the secret: {type(exc).__name__}") from exc

    def delete(self, name: SecretName) -> None:
        keyring, errors = _keyring()
        try:
            keyring.delete_password(SERVICE, name.user)
        except errors.PasswordDeleteError:
            pass

    def has(self, name: SecretName) -> bool:
        return self.get(name) is not None

    def api_key(self, domain: str, ext: str) -> str:
        """The operator's key: PHONET_API_KEY, else the keyring, else the team key."""
        from_env = os.environ.get(ENV_API_KEY)
        if from_env:
            redact_value(from_env)
            return from_env
        for name in (SecretName.api_key(domain, ext), SecretName.team_api_key(domain)):
            value = self.get(name)
            if value:
                return value
        raise SecretMissing(
            f"no API key for {domain}/{ext}: run `phonet-agent secret set api-key` "
            f"or set {ENV_API_KEY}"
        )


def _keyring() -> tuple[Any, Any]:
    import keyring
    import keyring.errors

    return keyring, keyring.errors
