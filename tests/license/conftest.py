"""Licensing tests sign their own keys with a test key pair (issue 8 item 6): the vendor's
private key never comes near them. A non-frozen agent takes the test public key from
``PHONET_AGENT_LICENSE_PUBKEY`` (contracts.md §2).

Fixtures:

- ``vendor`` (session): a test :class:`Vendor` with a fresh key pair; ``vendor.key(...)``
  signs a product key.
- ``test_pubkey``: sets ``PHONET_AGENT_LICENSE_PUBKEY`` to the vendor's public key for
  the test (agents, the CLI and subprocesses then accept its keys).
- ``db_url`` / ``pg_url`` / ``pg_server``: tests/fixtures/postgres.py.
- ``agent_factory``: in-process agents on the simulator (tests/scenarios/conftest.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.core.license import LicenseTerms
from agent.license.keys import ENV_PUBLIC_KEY, issue_key
from tests.fixtures.postgres import *  # noqa: F403
from tests.scenarios.conftest import agent_factory  # noqa: F401  (a fixture)

# Valid EDRPOU codes (checksums hold): one of each weight rule, and one where the
# first sum is 10 and the second weights decide.
CODE = "32855961"  # 30–60 million: weights 7,1,2,3,4,5,6
OTHER_CODE = "14360570"  # below 30 million: weights 1..7
ISSUED = date(2025, 1, 15)


@dataclass
class Vendor:
    private: Ed25519PrivateKey

    @property
    def public(self) -> bytes:
        return self.private.public_key().public_bytes_raw()

    @property
    def public_hex(self) -> str:
        return self.public.hex()

    def key(
        self,
        client_id: str,
        code: str = CODE,
        count: int = 3,
        *,
        expires: date | None = None,
        issued: date = ISSUED,
    ) -> str:
        return issue_key(self.private, LicenseTerms(client_id, code, count, issued, expires))


@pytest.fixture(scope="session")
def vendor() -> Vendor:
    return Vendor(Ed25519PrivateKey.generate())


@pytest.fixture
def test_pubkey(vendor: Vendor, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv(ENV_PUBLIC_KEY, vendor.public_hex)
    yield vendor.public_hex
