"""Licensing adapters (L1, U10; issue 8; docs/licensing.md).

- ``keys.py``: the vendor's Ed25519 key pair (the public half ships; issuing keys).
- ``store.py``: the client ID and the installed key in the database (``kv``).
- ``presence.py``: who holds a seat now (the team heartbeats of issue 6), and the
  ``SeatLedger`` that takes and gives back seats atomically.
- ``service.py``: :class:`LicenseService`, for the agent, the local API and the CLI.
- ``wiring.py``: ``attach_license(agent)``, called by the composition root (the seat at
  start), and ``SeatGate``, the seat in front of every Connect.
- ``commands.py``: ``phonet-agent license …``.

The rules themselves are pure, in ``agent/core/license.py`` (keys) and
``agent/core/license_seats.py`` (seats).
"""
