"""``--tls``: a throwaway CA and a server certificate for 127.0.0.1 and localhost.

contracts.md §3: clients hard-wired to ``https://``/``wss://`` (the real PBX is
HTTPS only, phonet-api.md §0) can be pointed at the simulator and told to trust
``ca_file``. The files live in a private temporary directory that is removed when
the simulator stops.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True, slots=True)
class TlsFiles:
    ca_file: str  # the CA certificate (PEM) clients trust
    cert_file: str  # the server's private key and certificate chain (PEM)


@contextmanager
def tls_files() -> Iterator[TlsFiles]:
    ca = trustme.CA(organization_name="Phonet simulator")
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    with tempfile.TemporaryDirectory(prefix="phonet-sim-tls-") as directory:
        ca_path = Path(directory) / "ca.pem"
        cert_path = Path(directory) / "server.pem"
        ca.cert_pem.write_to_path(str(ca_path))
        leaf.private_key_and_cert_chain_pem.write_to_path(str(cert_path))
        yield TlsFiles(ca_file=str(ca_path), cert_file=str(cert_path))
