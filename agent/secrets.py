"""The only holder of secrets: the OS keyring (U1, U2, G1, G6; contracts.md §2).

Service ``Phonet Agent``; users ``{domain}/{ext}`` (an operator's API key),
``{domain}/team`` (the team's default key), ``robot/{server}/{user}`` (the robot
database password). ``PHONET_API_KEY``, when set, wins for that process only and is
never saved. Every secret read is registered with the log redactor at once.

The backend: on Windows the Credential Manager, set explicitly (a frozen build has
no entry points to discover it by); elsewhere keyring's own choice (the Secret
Service on Linux, the Keychain on macOS). A backend that is no OS keyring — none
at all, the null one, or keyrings.alt's files (installing that package is enough
to make its plaintext file the default) — counts as "no keyring": the agent says
so in words and never writes a secret there. On Linux with no way to a session D-Bus
(a headless server) that is known without importing keyring, whose backend discovery
costs ~15 MB and ~0.2 s (issue 2: :func:`_no_session_bus`).
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
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
        if not self.use_keyring or backend_problem() is not None:
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
        problem = backend_problem()
        if problem is not None:
            raise ConfigError(problem, message_key="error.no_keyring")
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
        if backend_problem() is not None:
            return
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
        problem = backend_problem()
        if problem is not None:
            raise SecretMissing(
                f"{problem}; for this process only, set {ENV_API_KEY}",
                message_key="error.no_keyring",
            )
        for name in (SecretName.api_key(domain, ext), SecretName.team_api_key(domain)):
            value = self.get(name)
            if value:
                return value
        raise SecretMissing(
            f"no API key for {domain}/{ext}: run `phonet-agent secret set api-key` "
            f"or set {ENV_API_KEY}"
        )


NOT_A_KEYRING = (
    "keyring.backends.fail.",  # none found
    "keyring.backends.null.",  # stores nothing
    "keyrings.alt.",  # files in the home directory, plaintext or weakly encrypted
)


def backend_name() -> str:
    """The keyring backend in use, e.g. ``keyring.backends.SecretService.Keyring``."""
    keyring, _ = _keyring()
    backend = keyring.get_keyring()
    return f"{type(backend).__module__}.{type(backend).__name__}"


def backend_problem() -> str | None:
    """None when an OS keyring holds the secrets; else what is wrong, in words."""
    if _no_session_bus():
        return _no_keyring("no D-Bus session bus")
    keyring, _ = _keyring()
    backend = keyring.get_keyring()
    backends = getattr(backend, "backends", None)  # keyring's chainer: the real ones
    chosen = list(backends) if backends is not None else [backend]
    usable = [b for b in chosen if not _module_of(b).startswith(NOT_A_KEYRING)]
    if usable:
        return None
    return _no_keyring(", ".join(_module_of(b) + type(b).__name__ for b in chosen) or "none")


def _no_keyring(why: str) -> str:
    if sys.platform.startswith("linux"):
        where = (
            "on Linux a Secret Service must run in the desktop session "
            "(GNOME Keyring or KWallet), reachable over D-Bus"
        )
    else:
        where = "the operating system's credential store could not be reached"
    return f"no OS keyring backend is available to keep secrets ({why}): {where}"


def _no_session_bus() -> bool:
    """Linux without any way to a session D-Bus, where an OS keyring (a Secret Service,
    KWallet) lives, and nothing else choosing a backend: keyring would import every
    backend (gi, secretstorage, cryptography: ~15 MB and ~0.2 s of a headless agent's
    start) only to choose its "fail" one, so say it without importing keyring (issue 2).
    Once keyring is loaded (a secret was read, a test set a backend), it is asked."""
    if not sys.platform.startswith("linux") or "keyring" in sys.modules:
        return False
    env = os.environ
    # GLib (libsecret) also finds $XDG_RUNTIME_DIR/bus, and may start a bus for a display.
    reachable = ("DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "WAYLAND_DISPLAY")
    if any(env.get(name) for name in (*reachable, "PYTHON_KEYRING_BACKEND")):
        return False
    runtime_dir = env.get("XDG_RUNTIME_DIR")
    if runtime_dir and Path(runtime_dir, "bus").exists():
        return False
    config = env.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    if Path(config, "python_keyring", "keyringrc.cfg").exists():  # keyring's config file
        return False
    return not _backend_plugins()


@functools.cache
def _backend_plugins() -> tuple[str, ...]:
    """Keyring backends installed beside keyring's own (and keyrings.alt's files, which
    are no OS keyring): a plugin may need no D-Bus."""
    from importlib.metadata import entry_points

    own = ("keyring.backends.", *NOT_A_KEYRING)
    found = entry_points(group="keyring.backends")
    return tuple(ep.value for ep in found if not (ep.value + ".").startswith(own))


def _module_of(backend: object) -> str:
    return type(backend).__module__ + "."


def _keyring() -> tuple[Any, Any]:
    import keyring
    import keyring.errors

    if sys.platform == "win32":
        # The Credential Manager, set explicitly: a frozen build has no entry points to
        # find it by (windows-packaging.md, "PyInstaller notes").
        from keyring.backends.Windows import WinVaultKeyring

        if not isinstance(keyring.get_keyring(), WinVaultKeyring):
            from agent.winsupport import windows_keyring

            keyring.set_keyring(windows_keyring())
    return keyring, keyring.errors
