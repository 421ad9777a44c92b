"""Step 6: the installer's smoke test under wine (issue 9, item 3).

In a fresh wine prefix on a private Xvfb screen: silent per-user installs and
uninstalls of a smoke build of installer.iss, with a tiny Inno program
(packaging/smoke/mutex-holder.iss) standing in for a running agent. Checked:
the files and registry keys read back, the running agent asked to quit first, setup
and uninstall refused while an agent that will not quit runs, the remembered autostart
task and its removal when unticked, WebView2 detection both ways, the installed
agent's selftest, and a clean uninstall that keeps user data unless asked.

The smoke build differs from the release build in two defines only: its default
folder is ``{localappdata}\\Programs`` (wine cannot expand ``{autopf}`` per user:
"SHGetKnownFolderPath failed with code 0x80070057") and it compresses fast.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from phonet_build.common import BUILD, CACHE, PACKAGING, ROOT, BuildError, run, say
from phonet_build.display import virtual_display
from phonet_build.freeze import NO_ERROR_DIALOG, parse_selftest, windows_selftest_problems
from phonet_build.inno import compile_setup
from phonet_build.toolchain import ensure_apt_packages, ensure_inno, wine_env
from phonet_build.wineshim import install_shims
from phonet_build.winpython import to_windows_path

SMOKE = BUILD / "smoke"
PREFIX = CACHE / "wine-smoke"
HOLDER_ISS = PACKAGING / "smoke" / "mutex-holder.iss"
RUN_KEY = r"HKCU\Software\Microsoft\Windows\CurrentVersion\Run"
WEBVIEW2_KEY = r"HKCU\Software\Microsoft\EdgeUpdate\Clients\{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}"
TOAST_KEY = r"HKCU\Software\Classes\AppUserModelId\Phonet.Agent"
# Written by earlier builds' --selftest (its notifier was named "Phonet Agent").
LEGACY_TOAST_KEY = r"HKCU\Software\Classes\AppUserModelId\Phonet Agent"
AGENT_KEYS = [
    r"HKCU\Software\Classes\tel",
    r"HKCU\Software\Classes\callto",
    r"HKCU\Software\Classes\PhonetAgent.Url",
    r"HKCU\Software\Phonet\Phonet Agent",
    TOAST_KEY,
    LEGACY_TOAST_KEY,
]


def app_id() -> str:
    """The AppId from installer.iss (its uninstall key is ``{AppId}_is1``)."""
    match = re.search(
        r"^AppId=\{(\{[0-9A-F-]+\})", (ROOT / "installer.iss").read_text("utf-8"), re.M
    )
    if match is None:
        raise BuildError("installer.iss has no AppId")
    return match.group(1)


class Wine:
    """One wine prefix on one display."""

    def __init__(self, prefix: Path, display: str) -> None:
        self.prefix = prefix
        self.env = {**wine_env(prefix), "DISPLAY": display}
        self.user = prefix / "drive_c" / "users" / os.environ.get("USER", "root")

    def create(self) -> None:
        if self.prefix.exists():
            shutil.rmtree(self.prefix)
        run(["wineboot", "--init"], env=self.env, timeout=600, quiet=True)
        self.wait_idle()
        run(["winecfg", "-v", "win10"], env=self.env, timeout=300, quiet=True)
        self.wait_idle()
        install_shims(self.prefix)  # what wine 8 lacks and Windows 10 has (wineshim.py)

    def wait_idle(self) -> None:
        run(["wineserver", "-w"], env=self.env, timeout=600, quiet=True)

    def kill(self) -> None:
        run(["wineserver", "-k"], env=self.env, check=False, quiet=True)

    def run(self, *args: str | Path, timeout: float = 600) -> int:
        return run(["wine", *args], env=self.env, timeout=timeout, check=False).returncode

    def start(self, *args: str | Path) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            ["wine", *map(str, args)],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )

    def reg_value(self, key: str, name: str | None = None) -> str | None:
        """A registry value's data, or None when the key or value is absent."""
        which = ["/ve"] if name is None else ["/v", name]
        proc = run(["wine", "reg", "query", key, *which], env=self.env, check=False, quiet=True)
        if proc.returncode != 0:
            return None
        for line in proc.stdout.splitlines():
            parts = re.split(r"\s{4}", line.strip(), maxsplit=2)
            if len(parts) >= 2 and parts[1].startswith("REG_"):
                return parts[2] if len(parts) == 3 else ""
        return None

    def key_exists(self, key: str) -> bool:
        proc = run(["wine", "reg", "query", key], env=self.env, check=False, quiet=True)
        return proc.returncode == 0

    def reg_set(self, key: str, name: str, data: str) -> None:
        run(["wine", "reg", "add", key, "/v", name, "/d", data, "/f"], env=self.env, quiet=True)

    def reg_delete(self, key: str) -> None:
        run(["wine", "reg", "delete", key, "/f"], env=self.env, check=False, quiet=True)


@dataclass
class Checks:
    results: list[tuple[str, bool, str]] = field(default_factory=list)

    def check(self, name: str, ok: bool, detail: object = "") -> bool:
        self.results.append((name, ok, str(detail)))
        say(f"  {'ok  ' if ok else 'FAIL'} {name}{f': {detail}' if detail and not ok else ''}")
        return ok

    @property
    def failed(self) -> list[str]:
        return [
            f"{name} ({detail})" if detail else name for name, ok, detail in self.results if not ok
        ]


def wait_for_log(log: Path, timeout: float = 300) -> str:
    """Setup and uninstall logs end with "Log closed." once the process is done (the
    uninstaller hands over to a copy of itself, so its exit is no signal)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists():
            text = log.read_text(encoding="utf-8-sig", errors="replace")
            if "Log closed." in text:
                return text
        time.sleep(0.2)
    raise BuildError(f"{log.name} did not close within {timeout:g} s")


class Smoke:
    def __init__(self, wine: Wine, setup: Path, holder: Path) -> None:
        self.wine = wine
        self.setup = setup
        self.holder = holder
        self.checks = Checks()
        self.app_dir = wine.user / "AppData" / "Local" / "Programs" / "Phonet Agent"
        self.data_dir = wine.user / "AppData" / "Local" / "phonet-agent"
        self.shortcut = (
            wine.user / "AppData" / "Roaming" / "Microsoft" / "Windows" / "Start Menu"
            / "Programs" / "Phonet Agent.lnk"
        )  # fmt: skip
        self.uninstall_key = (
            r"HKCU\Software\Microsoft\Windows\CurrentVersion\Uninstall" + "\\" + app_id() + "_is1"
        )
        self.counter = 0

    def _log(self, name: str) -> Path:
        self.counter += 1
        return SMOKE / f"{self.counter:02d}-{name}.log"

    def install(self, name: str, *switches: str) -> tuple[int, str]:
        log = self._log(name)
        code = self.wine.run(
            self.setup, "/VERYSILENT", "/SUPPRESSMSGBOXES", "/NORESTART", "/CURRENTUSER",
            f"/LOG={to_windows_path(log)}", *switches,
        )  # fmt: skip
        return code, wait_for_log(log)

    def uninstall(self, name: str, *switches: str) -> str:
        log = self._log(name)
        self.wine.run(
            self.app_dir / "unins000.exe", "/VERYSILENT", "/SUPPRESSMSGBOXES", "/NORESTART",
            f"/LOG={to_windows_path(log)}", *switches,
        )  # fmt: skip
        return wait_for_log(log)

    @contextmanager
    def agent_running(self, *, stubborn: bool) -> Iterator[subprocess.Popen[bytes]]:
        ready = SMOKE / "holder.ready"
        stop = SMOKE / "holder.stop"
        ready.unlink(missing_ok=True)
        stop.unlink(missing_ok=True)
        args = ["/VERYSILENT", f"/READY={to_windows_path(ready)}", f"/STOP={to_windows_path(stop)}"]
        proc = self.wine.start(self.holder, *args, *(["/STUBBORN"] if stubborn else []))
        deadline = time.monotonic() + 60
        while not ready.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise BuildError("the mutex holder did not start")
            time.sleep(0.1)
        try:
            yield proc
        finally:
            stop.touch()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()

    # ------------------------------------------------------------ the scenario

    def run_all(self) -> None:
        self.first_install_asks_the_agent_to_quit()
        self.installed_keys_and_files()
        self.installed_agent_selftest()
        self.reinstall_remembers_autostart_and_sees_webview2()
        self.unticking_autostart_removes_it()
        self.refused_while_the_agent_will_not_quit()
        self.uninstall_removes_every_key_and_keeps_data()
        self.uninstall_deletes_data_when_asked()

    def first_install_asks_the_agent_to_quit(self) -> None:
        c = self.checks
        with self.agent_running(stubborn=False) as holder:
            code, log = self.install("install", "/TASKS=autostart", "/NOWEBVIEW2")
            holder_gone = holder.wait(30) is not None
        self.wine.wait_idle()
        c.check("install exits 0", code == 0, f"exit {code}")
        c.check("setup asked the running agent to quit", "Asked the running agent to quit" in log)
        c.check(
            "the agent quit before the AppMutex check",
            holder_gone and "The agent quit after" in log,
        )
        c.check("WebView2 missing is detected", "WebView2 runtime missing" in log)

    def installed_keys_and_files(self) -> None:
        c, w = self.checks, self.wine
        exe = "agent.exe"
        c.check("agent.exe installed", (self.app_dir / exe).is_file(), self.app_dir)
        c.check("uninstaller installed", (self.app_dir / "unins000.exe").is_file())
        for proto in ("tel", "callto"):
            command = w.reg_value(rf"HKCU\Software\Classes\{proto}\shell\open\command") or ""
            c.check(
                f"{proto}: opens agent.exe with the URL",
                exe in command and '"%1"' in command,
                command,
            )
            c.check(
                f"{proto}: is a URL protocol",
                w.reg_value(rf"HKCU\Software\Classes\{proto}", "URL Protocol") == "",
            )
            assoc = w.reg_value(
                r"HKCU\Software\Phonet\Phonet Agent\Capabilities\URLAssociations", proto
            )
            c.check(f"{proto}: URLAssociations names the ProgID", assoc == "PhonetAgent.Url", assoc)
        progid = w.reg_value(r"HKCU\Software\Classes\PhonetAgent.Url\shell\open\command") or ""
        c.check("ProgID opens agent.exe", exe in progid, progid)
        registered = w.reg_value(r"HKCU\Software\RegisteredApplications", "Phonet Agent")
        c.check("RegisteredApplications points at Capabilities",
                registered == r"Software\Phonet\Phonet Agent\Capabilities", registered)  # fmt: skip
        run_value = w.reg_value(RUN_KEY, "Phonet Agent") or ""
        c.check(
            "autostart Run value written", run_value.endswith('agent.exe" --autostart'), run_value
        )
        name = w.reg_value(r"HKCU\Software\Classes\AppUserModelId\Phonet.Agent", "DisplayName")
        c.check("toast identity registered", name == "Phonet Agent", name)
        c.check("uninstall entry registered", w.key_exists(self.uninstall_key))
        c.check("Start-menu shortcut created", self.shortcut.is_file(), self.shortcut)
        if self.shortcut.is_file():
            has_id = "Phonet.Agent".encode("utf-16-le") in self.shortcut.read_bytes()
            # Wine's IShellLink may not store the property store: reported, not fatal.
            state = "carries" if has_id else "does not carry"
            say(f"  info the shortcut {state} the AppUserModelID (real Windows decides)")

    def installed_agent_selftest(self) -> None:
        # A crash at start fails fast instead of waiting on PyInstaller's dialog.
        proc = run(["wine", self.app_dir / "agent.exe", "--selftest"],
                   env={**self.wine.env, **NO_ERROR_DIALOG}, check=False, timeout=300)  # fmt: skip
        self.wine.wait_idle()
        try:
            problems = windows_selftest_problems(parse_selftest(proc.stdout))
        except BuildError as exc:
            problems = [str(exc)]
        self.checks.check(
            "the installed agent passes --selftest", not problems, "; ".join(problems)
        )

    def reinstall_remembers_autostart_and_sees_webview2(self) -> None:
        self.wine.reg_set(WEBVIEW2_KEY, "pv", "120.0.2210.91")
        self.wine.reg_set(LEGACY_TOAST_KEY, "DisplayName", "Phonet Agent")
        code, log = self.install("reinstall-remembered")
        self.wine.wait_idle()
        self.wine.reg_delete(WEBVIEW2_KEY)
        c = self.checks
        c.check("reinstall exits 0", code == 0, f"exit {code}")
        c.check("setup removes the toast key earlier selftests wrote",
                not self.wine.key_exists(LEGACY_TOAST_KEY))  # fmt: skip
        c.check("autostart remembered on reinstall",
                self.wine.reg_value(RUN_KEY, "Phonet Agent") is not None)  # fmt: skip
        c.check("WebView2 present is detected", "WebView2 runtime present: 120.0.2210.91" in log)

    def unticking_autostart_removes_it(self) -> None:
        code, _ = self.install("reinstall-no-autostart", "/MERGETASKS=!autostart", "/NOWEBVIEW2")
        self.wine.wait_idle()
        c = self.checks
        c.check("reinstall without autostart exits 0", code == 0, f"exit {code}")
        c.check(
            "autostart removed when unticked", self.wine.reg_value(RUN_KEY, "Phonet Agent") is None
        )
        code, _ = self.install("reinstall-remembers-off", "/NOWEBVIEW2")
        self.wine.wait_idle()
        c.check("unticked autostart stays off on reinstall",
                code == 0 and self.wine.reg_value(RUN_KEY, "Phonet Agent") is None)  # fmt: skip

    def refused_while_the_agent_will_not_quit(self) -> None:
        c = self.checks
        exe = self.app_dir / "agent.exe"
        before = exe.stat().st_mtime_ns
        with self.agent_running(stubborn=True):
            code, log = self.install("install-refused", "/NOWEBVIEW2")
            c.check("setup refuses while the agent runs", code != 0, f"exit {code}")
            c.check("setup left the installed files alone", exe.stat().st_mtime_ns == before)
            c.check(
                "setup saw the agent still running",
                "still running" in log or "no quit event" in log,
            )
            self.uninstall("uninstall-refused")
            c.check("uninstall refuses while the agent runs",
                    exe.is_file() and self.wine.key_exists(self.uninstall_key))  # fmt: skip
        self.wine.wait_idle()

    def uninstall_removes_every_key_and_keeps_data(self) -> None:
        c, w = self.checks, self.wine
        self.wine.reg_set(RUN_KEY, "Phonet Agent", f'"{self.app_dir}\\agent.exe" --autostart')
        # What the running agent's notifier writes (desktop-notifier names the key after
        # its app_name, the AppUserModelID), and an earlier selftest's key.
        self.wine.reg_set(TOAST_KEY, "DisplayName", "Phonet.Agent")
        self.wine.reg_set(LEGACY_TOAST_KEY, "DisplayName", "Phonet Agent")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "agent.db").write_bytes(b"smoke")
        self.uninstall("uninstall")
        w.wait_idle()
        c.check("uninstall removed the program folder", not self.app_dir.exists(), self.app_dir)
        c.check("uninstall removed the shortcut", not self.shortcut.exists())
        for key in [*AGENT_KEYS, self.uninstall_key]:
            c.check(f"uninstall removed {key}", not w.key_exists(key))
        registered = w.reg_value(r"HKCU\Software\RegisteredApplications", "Phonet Agent")
        c.check("uninstall removed the RegisteredApplications value", registered is None)
        c.check(
            "uninstall removed the autostart value", w.reg_value(RUN_KEY, "Phonet Agent") is None
        )
        c.check("uninstall kept the user's data unasked", (self.data_dir / "agent.db").is_file())

    def uninstall_deletes_data_when_asked(self) -> None:
        code, _ = self.install("install-again", "/NOWEBVIEW2")
        self.wine.wait_idle()
        self.uninstall("uninstall-delete-data", "/DELETEUSERDATA")
        self.wine.wait_idle()
        c = self.checks
        c.check("install after uninstall exits 0", code == 0, f"exit {code}")
        c.check("/DELETEUSERDATA removes the user's data", not self.data_dir.exists())
        c.check("the second uninstall is clean too", not self.app_dir.exists())


def compile_smoke_builds() -> tuple[Path, Path]:
    result = compile_setup(
        source_dir=BUILD / "windows" / "agent",
        output_dir=SMOKE / "setup",
        extra={"SmokeTest": None},
    )
    if result.code != 0 or not result.setup.is_file():
        raise BuildError(f"the smoke build of installer.iss failed (ISCC exit {result.code})")
    holder = compile_setup(
        script=HOLDER_ISS, source_dir=BUILD / "windows" / "agent", output_dir=SMOKE / "holder"
    )
    holder_exe = SMOKE / "holder" / "mutex-holder.exe"
    if holder.code != 0 or not holder_exe.is_file():
        raise BuildError(f"mutex-holder.iss failed to compile (ISCC exit {holder.code})")
    return result.setup, holder_exe


def smoke_test() -> str:
    ensure_apt_packages()
    ensure_inno()
    if not (BUILD / "windows" / "agent" / "agent.exe").is_file():
        raise BuildError("no frozen agent: run the freeze step first")
    if SMOKE.exists():
        shutil.rmtree(SMOKE)
    SMOKE.mkdir(parents=True)
    setup, holder = compile_smoke_builds()
    with virtual_display() as display:
        wine = Wine(PREFIX, display)
        started = time.monotonic()
        wine.create()
        say(f"fresh wine prefix in {time.monotonic() - started:.0f} s")
        smoke = Smoke(wine, setup, holder)
        try:
            smoke.run_all()
        finally:
            wine.kill()
    report = [{"check": n, "ok": ok, "detail": d} for n, ok, d in smoke.checks.results]
    (SMOKE / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    failed = smoke.checks.failed
    if failed:
        raise BuildError(f"smoke test: {len(failed)} failed: " + "; ".join(failed))
    return f"{len(report)} checks passed"
