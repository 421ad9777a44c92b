"""The vendor's Ed25519 key pair: the public half ships in the agent, the private half
never does (L1; issue 8 item 2; docs/licensing.md, "The vendor's key").

The private key lives in one PEM file (PKCS#8, optionally encrypted with a passphrase)
at a path the vendor gives on the command line; nothing here writes it anywhere else,
prints it or logs it.

cryptography is imported by the functions that use it: the running agent imports this
module for :func:`agent_public_key` only (issue 2, idle memory).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Final

from agent.core.errors import ConfigError, InvalidInput
from agent.core.license import LicenseTerms, Rejection, assemble_key, check_terms, signing_payload
from agent.logs import redact_value

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

PRODUCTION_PUBLIC_KEY: Final = "933c621fdb033c205f05b50066bba4af2c39f728a4e8af4b07a6bbb2f214239b"
"""The vendor's public key (32 bytes, hex). Its private half is kept by the vendor
(docs/licensing.md); replacing it invalidates every key issued before."""

ENV_PUBLIC_KEY: Final = "PHONET_AGENT_LICENSE_PUBKEY"
"""A test public key (64 hex digits) for a non-frozen agent (contracts.md §2)."""


def parse_public_key(text: str, source: str) -> bytes:
    """32 raw bytes from 64 hex digits; a ConfigError naming ``source`` otherwise."""
    try:
        raw = bytes.fromhex(text.strip())
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise ConfigError(f"{source} is not an Ed25519 public key (64 hex digits)")
    return raw


def agent_public_key(
    environ: Mapping[str, str] | None = None, *, frozen: bool | None = None
) -> bytes:
    """The public key this agent verifies keys with.

    A frozen build (PyInstaller: ``sys.frozen``) always uses the production key, so a
    customer cannot swap in a key pair of their own; a source or wheel install takes
    ``PHONET_AGENT_LICENSE_PUBKEY`` when set, which is how tests sign their own keys.
    """
    env = os.environ if environ is None else environ
    is_frozen = bool(getattr(sys, "frozen", False)) if frozen is None else frozen
    override = env.get(ENV_PUBLIC_KEY, "").strip()
    if override and not is_frozen:
        return parse_public_key(override, ENV_PUBLIC_KEY)
    return parse_public_key(PRODUCTION_PUBLIC_KEY, "the built-in vendor key")


def public_key_hex(private_key: Ed25519PrivateKey) -> str:
    return private_key.public_key().public_bytes_raw().hex()


def generate_vendor_key(path: Path, passphrase: str | None = None) -> Ed25519PrivateKey:
    """Make a new vendor key pair and write its private half to ``path`` (readable by its
    owner only); never overwrites a file. Returns the private key (for its public half)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise InvalidInput(
            f"{path} exists: a vendor key is never overwritten (keys issued with it would "
            "stop matching); choose another path",
            field="private_key",
        ) from exc
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return key


def load_vendor_key(path: Path, passphrase: str | None = None) -> Ed25519PrivateKey:
    """The vendor's private key from its PEM file; InvalidInput saying what is wrong
    (never the key's content)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if passphrase:
        redact_value(passphrase)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(
            f"cannot read the vendor key {path}: {exc.strerror}", field="private_key"
        ) from exc
    try:
        key = serialization.load_pem_private_key(
            data, password=passphrase.encode() if passphrase else None
        )
    except TypeError as exc:  # encrypted without a passphrase, or the reverse
        raise InvalidInput(
            f"the vendor key {path} is "
            + (
                "not encrypted: drop the passphrase"
                if passphrase
                else "encrypted: give its passphrase"
            ),
            field="private_key",
        ) from exc
    except ValueError as exc:
        raise InvalidInput(
            f"{path} is not a PEM private key, or the passphrase is wrong", field="private_key"
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidInput(f"{path} holds a key of another kind than Ed25519", field="private_key")
    return key


def issue_key(private_key: Ed25519PrivateKey, terms: LicenseTerms) -> str:
    """Sign ``terms`` (checked first: InvalidInput with the field) into a product key."""
    checked = check_terms(terms)
    if isinstance(checked, Rejection):
        raise InvalidInput(checked.message, field=checked.field, message_key=checked.message_key)
    return assemble_key(checked, private_key.sign(signing_payload(checked)))


def verifies(public_key: bytes, private_key: Ed25519PrivateKey) -> bool:
    """Whether ``private_key`` is the other half of ``public_key`` (a vendor's check)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    return (
        Ed25519PublicKey.from_public_bytes(public_key).public_bytes_raw()
        == private_key.public_key().public_bytes_raw()
    )


def today_utc() -> date:
    from datetime import UTC, datetime

    return datetime.now(UTC).date()
