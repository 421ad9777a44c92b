"""What wine 8 lacks for the frozen agent: ``bcryptprimitives.dll``'s ``ProcessPrng``.

Rust's standard library (since 1.78) and the ``getrandom`` crate take their random
bytes from ``ProcessPrng`` in ``bcryptprimitives.dll``, part of every Windows 10
(rust-lang/rust#121337, which notes the same failure on Ubuntu 22.04's wine). Two
of the agent's Rust-built extensions import it: python-calamine (reading xls/xlsx/ods,
M6) and cryptography's ``_rust`` binding (licences, L1; the simulator's TLS). Debian
12's wine 8.0 has no such DLL (later wine releases do), so under wine both fail with
``ImportError: DLL load failed … Module not found`` although the onedir holds every
file they need: the audit of the onedir's imports (freeze.py) and real Windows agree.

This module puts a stand-in into a wine prefix's ``system32`` — a DLL with no code
whose ``ProcessPrng`` forwards to ``advapi32.SystemFunction036`` (``RtlGenRandom``:
the same "fill this buffer with random bytes", returning TRUE). It is for the wine
prefixes of ``dev.py package`` only and never part of the onedir or the installer:
PyInstaller skips DLLs under the Windows folder, and the onedir audit fails the build
if a system DLL is ever bundled.
"""

from __future__ import annotations

from pathlib import Path

from phonet_build.pe import forwarder_dll

SHIMS: dict[str, dict[str, str]] = {
    # BOOL ProcessPrng(PBYTE, SIZE_T) and BOOLEAN RtlGenRandom(PVOID, ULONG) take the
    # same registers on x64; Rust ignores the result (ProcessPrng always returns TRUE).
    "bcryptprimitives.dll": {"ProcessPrng": "advapi32.SystemFunction036"},
}


def install_shims(prefix: Path) -> list[str]:
    """Write each stand-in DLL a wine prefix lacks; return the ones written.

    A prefix whose wine already has the DLL (wine 9 and later) is left alone.
    """
    system32 = prefix / "drive_c" / "windows" / "system32"
    written = []
    for name, forwards in SHIMS.items():
        target = system32 / name
        data = forwarder_dll(name, forwards)
        if target.is_file() and target.read_bytes() != data:
            continue  # wine's own (builtin) DLL: better than ours
        if not target.is_file():
            system32.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            written.append(name)
    return written
