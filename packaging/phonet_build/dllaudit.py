"""The frozen onedir's DLL audit: what each binary imports is bundled or part of Windows.

Wine cannot answer this: it carries its own builtin copies of many DLLs that a clean
Windows lacks (the VC++ runtimes ``msvcp140.dll``, ``vcruntime140_1.dll``…), so a
binary whose runtime PyInstaller left out still loads under wine and fails on an
operator's machine. And wine lacks some that every Windows 10 has
(``bcryptprimitives.dll``, see wineshim.py), so an import error under wine may be no
fault of the build. This audit reads each binary's import tables (pe.py) and names:

- an imported DLL that is neither in the onedir nor part of Windows 10 (x64), and
- a bundled DLL that is Windows's own: a copy next to the agent would shadow the
  system's (a wine stand-in or a wine builtin caught by accident).
"""

from __future__ import annotations

from pathlib import Path

from phonet_build.pe import NotPE, PEFile

BINARY_SUFFIXES = (".exe", ".dll", ".pyd")

# DLLs in System32 of every Windows 10 x64 (and 11) that the agent's binaries import;
# plus the API sets (api-ms-win-*, ext-ms-win-*), which Windows 10 resolves itself.
WINDOWS_DLLS = frozenset(
    {
        "advapi32.dll",
        "bcrypt.dll",
        "bcryptprimitives.dll",
        "cfgmgr32.dll",
        "combase.dll",
        "comctl32.dll",
        "comdlg32.dll",
        "crypt32.dll",
        "dbghelp.dll",
        "dnsapi.dll",
        "dwmapi.dll",
        "gdi32.dll",
        "gdiplus.dll",
        "imm32.dll",
        "iphlpapi.dll",
        "kernel32.dll",
        "kernelbase.dll",
        "mpr.dll",
        "mscoree.dll",  # .NET Framework 4.8's loader, part of Windows 10
        "msimg32.dll",
        "msvcrt.dll",
        "ncrypt.dll",
        "netapi32.dll",
        "normaliz.dll",
        "ntdll.dll",
        "ole32.dll",
        "oleaut32.dll",
        "opengl32.dll",
        "powrprof.dll",
        "propsys.dll",
        "psapi.dll",
        "rpcrt4.dll",
        "secur32.dll",
        "setupapi.dll",
        "shcore.dll",
        "shell32.dll",
        "shlwapi.dll",
        "ucrtbase.dll",
        "user32.dll",
        "userenv.dll",
        "uxtheme.dll",
        "version.dll",
        "winhttp.dll",
        "wininet.dll",
        "winmm.dll",
        "winspool.drv",
        "wintrust.dll",
        "wldap32.dll",
        "ws2_32.dll",
        "wsock32.dll",
        "wtsapi32.dll",
    }
)
# Windows's own DLLs that may ride along: the Universal CRT is part of Windows 10,
# but PyInstaller bundles it when the build machine is older.
MAY_BUNDLE = frozenset({"ucrtbase.dll"})


def is_windows_dll(name: str) -> bool:
    lower = name.lower()
    return lower in WINDOWS_DLLS or lower.startswith(("api-ms-win-", "ext-ms-win-"))


def audit_onedir(root: Path) -> list[str]:
    """Problems of the onedir at ``root`` (empty when every import resolves)."""
    binaries = sorted(
        p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in BINARY_SUFFIXES
    )
    bundled = {p.name.lower() for p in binaries}
    problems: list[str] = []
    missing: dict[str, list[str]] = {}
    for path in binaries:
        relative = path.relative_to(root).as_posix()
        if is_windows_dll(path.name) and path.name.lower() not in MAY_BUNDLE:
            problems.append(f"{relative}: a Windows system DLL is bundled")
        try:
            imports = PEFile.read(path).imported_dlls()
        except (NotPE, ValueError, IndexError) as exc:  # struct.error is a ValueError
            problems.append(f"{relative}: unreadable PE ({exc})")
            continue
        for dll in imports:
            if dll.lower() not in bundled and not is_windows_dll(dll):
                missing.setdefault(dll.lower(), []).append(relative)
    for dll, users in sorted(missing.items()):
        shown = ", ".join(users[:3]) + (f" and {len(users) - 3} more" if len(users) > 3 else "")
        problems.append(f"{dll} is neither bundled nor part of Windows (needed by {shown})")
    return problems
