"""Step 5: installer.iss compiled with ISCC under wine, signed if configured, plus the
negative compiles that prove the toolchain fails loudly (windows-packaging.md).

Signing is configured by the environment (never logged):
  PHONET_SIGN_PKCS12     a .pfx/.p12 code-signing certificate
  PHONET_SIGN_PASSWORD   its password
  PHONET_SIGN_TIMESTAMP  optional RFC 3161 timestamp URL
ISCC cannot wait on a Unix signer directly ("WaitForSingleObject failed"), so its
SignTool runs ``cmd /c sign.cmd``, which starts osslsigncode detached through
``start /unix`` and polls for a marker file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from phonet_build.common import (
    BUILD,
    CACHE,
    ON_WINDOWS,
    ROOT,
    BuildError,
    agent_version,
    run,
    say,
    windows_runner,
)
from phonet_build.toolchain import ISCC, ensure_apt_packages, ensure_inno, wine_env
from phonet_build.winpython import to_windows_path

SCRIPT = ROOT / "installer.iss"
OUTPUT = BUILD / "installer"
SIGN_DIR = CACHE / "sign"
SIGN_ENV = ("PHONET_SIGN_PKCS12", "PHONET_SIGN_PASSWORD")


@dataclass(frozen=True)
class Compile:
    """One ISCC run: its exit code, output and the setup it should have written."""

    code: int
    output: str
    setup: Path


def setup_name(version: str) -> str:
    return f"PhonetAgent-Setup-{version}.exe"


def iscc_command(
    script: Path, defines: dict[str, str | None], sign_command: str | None = None
) -> list[str]:
    cmd = [*windows_runner(), str(ISCC), "/Q"]
    for name, value in defines.items():
        cmd.append(f"/D{name}" if value is None else f"/D{name}={value}")
    if sign_command is not None:
        cmd.append(f"/Sphonetsign={sign_command}")
    cmd.append(to_windows_path(script))
    return cmd


def compile_setup(
    *,
    script: Path = SCRIPT,
    source_dir: Path,
    output_dir: Path,
    extra: dict[str, str | None] | None = None,
    sign: bool = False,
) -> Compile:
    version = agent_version()
    defines: dict[str, str | None] = {
        "AppVersion": version,
        "SourceDir": to_windows_path(source_dir),
        "IconFile": to_windows_path(BUILD / "assets" / "agent.ico"),
        "OutputDir": to_windows_path(output_dir),
        **(extra or {}),
    }
    sign_command = None
    if sign:
        defines["Sign"] = None
        sign_command = _sign_bridge()
    output_dir.mkdir(parents=True, exist_ok=True)
    setup = output_dir / setup_name(version)
    setup.unlink(missing_ok=True)
    proc = run(iscc_command(script, defines, sign_command), env=wine_env(), check=False)
    return Compile(proc.returncode, proc.stdout, setup)


def signing_configured() -> bool:
    return all(os.environ.get(name) for name in SIGN_ENV)


def _sign_bridge() -> str:
    """Write sign.cmd/sign.sh and return ISCC's SignTool command ($f = the file)."""
    ensure_apt_packages(["osslsigncode"])
    SIGN_DIR.mkdir(parents=True, exist_ok=True)
    # `start /unix` passes arguments mangled (quotes kept, backslashes escaped): the file
    # goes through the environment, and the script's path must hold no space.
    sh = SIGN_DIR / "sign.sh"
    if " " in str(sh):
        sh = Path(tempfile.mkdtemp(prefix="phonet-sign-")) / "sign.sh"
    sh.write_text(
        """#!/bin/sh
# Called detached by sign.cmd (start /unix): sign $PHONET_SIGN_FILE (a Windows path)
# in place, then leave FILE.signed or FILE.failed for sign.cmd to find.
f=$(winepath -u "$PHONET_SIGN_FILE")
pass=$(mktemp)
trap 'rm -f "$pass"' EXIT
printf '%s' "$PHONET_SIGN_PASSWORD" > "$pass"
set -- sign -pkcs12 "$PHONET_SIGN_PKCS12" -readpass "$pass" -n "Phonet Agent" -h sha256
if [ -n "$PHONET_SIGN_TIMESTAMP" ]; then set -- "$@" -ts "$PHONET_SIGN_TIMESTAMP"; fi
if osslsigncode "$@" -in "$f" -out "$f.signing" > "$f.log" 2>&1 \\
   && mv -f "$f.signing" "$f"; then
  rm -f "$f.log"; touch "$f.signed"
else
  rm -f "$f.signing"; touch "$f.failed"
fi
""",
        encoding="utf-8",
    )
    sh.chmod(0o755)
    cmd = SIGN_DIR / "sign.cmd"
    cmd.write_text(
        "\r\n".join(
            [
                "@echo off",
                'set "F=%~1"',
                'set "PHONET_SIGN_FILE=%~1"',
                'del "%F%.signed" "%F%.failed" 2>nul',
                f"start /unix {sh}",
                "set /a N=0",
                ":wait",
                'if exist "%F%.signed" goto ok',
                'if exist "%F%.failed" goto bad',
                "set /a N+=1",
                "if %N% GTR 300 goto bad",
                "ping -n 2 127.0.0.1 >nul",
                "goto wait",
                ":ok",
                'del "%F%.signed"',
                "exit /b 0",
                ":bad",
                'type "%F%.log" 2>nul',
                'del "%F%.failed" "%F%.log" 2>nul',
                "exit /b 1",
                "",
            ]
        ),
        encoding="utf-8",
    )
    # cmd /c strips the first and last quote of the line: wrap the whole command once more.
    return f"cmd /c $q$q{to_windows_path(cmd)}$q $f$q"


def verify_signature(setup: Path) -> str:
    ca = os.environ.get("PHONET_SIGN_CAFILE")
    cmd = ["osslsigncode", "verify", "-in", str(setup)]
    if ca:
        cmd += ["-CAfile", ca]
    proc = run(cmd, check=False, quiet=True)
    if "Signature verification: ok" not in proc.stdout and "Succeeded" not in proc.stdout:
        print(proc.stdout[-3000:], flush=True)
        raise BuildError(f"{setup.name}: the signature does not verify")
    return "signed"


def make_test_certificate() -> None:
    """A throwaway self-signed code-signing certificate (``--test-sign``): proves the
    signing bridge end to end without a real certificate."""
    folder = CACHE / "test-sign"
    folder.mkdir(parents=True, exist_ok=True)
    key, cert, p12 = folder / "key.pem", folder / "cert.pem", folder / "test.p12"
    password = "phonet-test-only"  # a throwaway test certificate
    if not p12.exists():
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
             "-subj", "/CN=Phonet Agent test signing", "-addext", "extendedKeyUsage=codeSigning",
             "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True,
        )  # fmt: skip
        subprocess.run(
            ["openssl", "pkcs12", "-export", "-inkey", str(key), "-in", str(cert),
             "-out", str(p12), "-passout", f"pass:{password}"],
            check=True, capture_output=True,
        )  # fmt: skip
    os.environ["PHONET_SIGN_PKCS12"] = str(p12)
    os.environ["PHONET_SIGN_PASSWORD"] = password
    os.environ["PHONET_SIGN_CAFILE"] = str(cert)


def negative_compiles(source_dir: Path) -> str:
    """A typo and a missing build must both fail with exit 2 (ISCC's compile error)."""
    folder = BUILD / "negative"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    broken = folder / "installer-typo.iss"
    text = SCRIPT.read_text(encoding="utf-8")
    if "\nAppMutex=" not in text:
        raise BuildError("installer.iss has no AppMutex line to break")
    broken.write_text(text.replace("\nAppMutex=", "\nAppMutx=", 1), encoding="utf-8")
    typo = compile_setup(script=broken, source_dir=source_dir, output_dir=folder / "out")
    empty = folder / "empty-build"
    empty.mkdir()
    missing = compile_setup(source_dir=empty, output_dir=folder / "out")
    results = {"typo": typo, "missing build": missing}
    for name, result in results.items():
        if result.code != 2 or result.setup.exists():
            raise BuildError(f"negative compile ({name}) exited {result.code}, expected 2")
    return "negative compiles: typo and missing build exit 2"


def build_installer(*, test_sign: bool = False) -> str:
    ensure_apt_packages()  # wine32:i386 can vanish after an unrelated apt-get install
    ensure_inno()
    source_dir = BUILD / "windows" / "agent"
    if test_sign:
        make_test_certificate()
    sign = signing_configured()
    if sign and ON_WINDOWS:
        raise BuildError("the signing bridge is for wine; on Windows sign with signtool")
    result = compile_setup(source_dir=source_dir, output_dir=OUTPUT, sign=sign)
    if result.code != 0 or not result.setup.is_file():
        # Without wine32 ISCC "succeeds" and writes nothing: always check the file.
        raise BuildError(f"ISCC exited {result.code} and wrote no {result.setup.name}")
    state = verify_signature(result.setup) if sign else "unsigned (signing not configured)"
    size = result.setup.stat().st_size / 1e6
    say(f"{result.setup} ({size:.0f} MB, {state})")
    negative = negative_compiles(source_dir)
    return f"{result.setup.name} ({size:.0f} MB, {state}); {negative}"
