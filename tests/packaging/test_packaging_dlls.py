"""The frozen onedir's DLLs (issue 9): what each binary imports is bundled or part of
Windows, and wine 8 gets the ``bcryptprimitives.dll`` it lacks and every Windows 10 has
(the cause of "DLL load failed while importing _python_calamine" under wine).

The Windows binaries here are real: pip's own launcher (distlib's ``w64.exe``, built
with MSVC) and the stand-in DLL the build writes."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "packaging"))

from phonet_build import dllaudit, pe, wineshim  # noqa: E402

_DISTLIB = importlib.util.find_spec("pip._vendor.distlib")
assert _DISTLIB is not None and _DISTLIB.submodule_search_locations
LAUNCHER = Path(next(iter(_DISTLIB.submodule_search_locations))) / "w64.exe"


def _stand_in() -> bytes:
    return pe.forwarder_dll("bcryptprimitives.dll", {"ProcessPrng": "advapi32.SystemFunction036"})


def test_the_import_tables_of_a_real_windows_binary_are_read() -> None:
    image = pe.PEFile.read(LAUNCHER)

    assert image.machine == pe.MACHINE_AMD64
    assert [d.lower() for d in image.imported_dlls()] == [
        "kernel32.dll",
        "user32.dll",
        "shlwapi.dll",
    ]


def test_the_stand_in_dll_forwards_processprng_to_rtlgenrandom() -> None:
    image = pe.PEFile(_stand_in(), "bcryptprimitives.dll")

    assert image.machine == pe.MACHINE_AMD64
    assert image.exports() == {"ProcessPrng": "advapi32.SystemFunction036"}
    assert image.imported_dlls() == []  # no code, nothing to load first


def test_exports_are_sorted_for_the_loaders_binary_search() -> None:
    image = pe.PEFile(pe.forwarder_dll("x.dll", {"b": "k.B", "a": "k.A", "c": "k.C"}))

    assert list(image.exports()) == ["a", "b", "c"]


def test_bytes_that_are_not_a_pe_image_are_refused() -> None:
    with pytest.raises(pe.NotPE, match="no MZ header"):
        pe.PEFile(b"\x7fELF" + bytes(100), "agent")


def _onedir(tmp_path: Path) -> Path:
    root = tmp_path / "agent"
    (root / "_internal").mkdir(parents=True)
    shutil.copy(LAUNCHER, root / "agent.exe")
    return root


def test_a_onedir_whose_imports_are_all_windows_dlls_passes(tmp_path: Path) -> None:
    assert dllaudit.audit_onedir(_onedir(tmp_path)) == []


def test_a_dll_neither_bundled_nor_part_of_windows_is_named(tmp_path: Path) -> None:
    """What wine hides: its builtin msvcp140.dll loads where a clean Windows has none."""
    root = _onedir(tmp_path)
    exe = root / "_internal" / "helper.pyd"
    exe.write_bytes(LAUNCHER.read_bytes().replace(b"SHLWAPI.dll", b"MSVCP14.dll"))

    assert dllaudit.audit_onedir(root) == [
        "msvcp14.dll is neither bundled nor part of Windows (needed by _internal/helper.pyd)"
    ]
    (root / "_internal" / "MSVCP14.dll").write_bytes(pe.forwarder_dll("MSVCP14.dll", {}))
    assert dllaudit.audit_onedir(root) == []


def test_a_bundled_windows_dll_is_refused(tmp_path: Path) -> None:
    """The wine stand-in must never ride along: it would shadow the real one."""
    root = _onedir(tmp_path)
    (root / "_internal" / "bcryptprimitives.dll").write_bytes(_stand_in())

    assert dllaudit.audit_onedir(root) == [
        "_internal/bcryptprimitives.dll: a Windows system DLL is bundled"
    ]


def test_api_sets_and_the_rust_extensions_needs_count_as_windows() -> None:
    for name in ("api-ms-win-core-synch-l1-2-0.dll", "bcryptprimitives.dll", "KERNEL32.dll"):
        assert dllaudit.is_windows_dll(name)
    assert not dllaudit.is_windows_dll("vcruntime140.dll")  # bundled, not Windows's


def test_the_stand_in_goes_into_system32_once(tmp_path: Path) -> None:
    prefix = tmp_path / "wine"

    assert wineshim.install_shims(prefix) == ["bcryptprimitives.dll"]
    written = prefix / "drive_c" / "windows" / "system32" / "bcryptprimitives.dll"
    assert written.read_bytes() == _stand_in()
    assert wineshim.install_shims(prefix) == []


def test_a_wine_that_has_the_dll_keeps_its_own(tmp_path: Path) -> None:
    system32 = tmp_path / "wine" / "drive_c" / "windows" / "system32"
    system32.mkdir(parents=True)
    (system32 / "bcryptprimitives.dll").write_bytes(b"MZ wine's builtin")

    assert wineshim.install_shims(tmp_path / "wine") == []
    assert (system32 / "bcryptprimitives.dll").read_bytes() == b"MZ wine's builtin"
