"""For tests of other areas that run several agents on one database (team mode, B5).

Without a licence key a database runs as one seat (contracts.md §2), so a second agent
on it is refused once the first one's heartbeat is in. Such tests give the database
seats first::

    from tests.license.support import give_seats

    async def test_two_agents(db_url, agent_factory, simulator, monkeypatch):
        give_seats(db_url, 5, monkeypatch)
        first = await agent_factory(simulator, db_url=db_url)
        second = await agent_factory(simulator, db_url=db_url, ext="002")

It signs a key with a throwaway test key pair and makes this process trust that key
pair (``PHONET_AGENT_LICENSE_PUBKEY``, for the test only); the vendor's key is never
involved.
"""

from __future__ import annotations

import asyncio
from datetime import date
from functools import cache

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.core.license import LicenseTerms
from agent.license.keys import ENV_PUBLIC_KEY, issue_key
from agent.license.service import LicenseService
from agent.storage import Storage

TEST_CODE = "32855961"  # a valid EDRPOU


@cache
def _test_vendor() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def give_seats(db_url: str, count: int, monkeypatch: pytest.MonkeyPatch) -> str:
    """Install a key for ``count`` seats in the database at ``db_url``; returns the key.
    Call it before the agents start (from a sync or async test alike)."""
    vendor = _test_vendor()
    public = vendor.public_key().public_bytes_raw()
    monkeypatch.setenv(ENV_PUBLIC_KEY, public.hex())

    async def install() -> str:
        async with Storage(db_url) as storage:
            service = LicenseService(storage, public_key=public)
            terms = LicenseTerms(await service.client_id(), TEST_CODE, count, date(2025, 1, 1))
            key = issue_key(vendor, terms)
            await service.install(key)
            return key

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(install())
    # Inside a running loop (an async test): do it on a thread with a loop of its own.
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, install()).result()
