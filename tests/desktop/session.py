"""A real, private desktop session for the desktop tests (desktop-testing.md).

One session bus of our own (``dbus-daemon`` with a config that activates nothing,
so no system-configured dunst or keyring sneaks in), a virtual screen (``Xvfb``), a
real tray host (``trayer``), a real notification server (``dunst`` with a test
configuration: nothing expires, a dmenu script picks popup buttons), and a real
Secret Service (``gnome-keyring-daemon``, unlocked). What the notification server
receives is recorded by a D-Bus monitor connection (:class:`BusRecorder`).

Everything is started once per test session by ``tests/desktop/conftest.py``; the
agent under test runs as a subprocess with :attr:`DesktopSession.env`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REQUIRED = (
    "dbus-daemon",
    "Xvfb",
    "trayer",
    "dunst",
    "dunstctl",
    "gnome-keyring-daemon",
    "xdotool",
    "import",
    "secret-tool",
)
START_TIMEOUT_S = 20.0
NOTIFICATIONS = "org.freedesktop.Notifications"
SECRETS = "org.freedesktop.secrets"
KEYRING_PASSWORD = "phonet-test-keyring"

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""

# Nothing expires (timeout 0), so a test sees what is displayed until the agent
# replaces or closes it. The dmenu script answers `dunstctl context` by picking the
# line whose action identifier is written in the file named by $DUNST_PICK_FILE.
DUNSTRC = """[global]
    monitor = 0
    follow = none
    width = 360
    height = 300
    origin = top-right
    offset = 10x40
    notification_limit = 0
    indicate_hidden = yes
    font = Monospace 9
    format = "<b>%s</b>\\n%b"
    markup = no
    sticky_history = yes
    history_length = 50
    dmenu = {dmenu}
    always_run_script = true
    show_indicators = no
    mouse_left_click = do_action, close_current
[urgency_low]
    timeout = 0
[urgency_normal]
    timeout = 0
[urgency_critical]
    timeout = 0
"""

DMENU_SCRIPT = """#!/bin/sh
# Called by `dunstctl context` with one line per action, e.g. "#Hang up (Summary) [7,hangup]".
want=$(cat "{pick}" 2>/dev/null)
while IFS= read -r line; do
    case "$line" in
        *",$want]"*) printf '%s\\n' "$line"; exit 0 ;;
    esac
done
exit 1
"""


class MissingPart(Exception):
    """A binary of the desktop session is not installed: the tests skip, saying which."""


def missing_binaries() -> list[str]:
    return [name for name in REQUIRED if shutil.which(name) is None]


def wait_for(condition: Callable[[], Any], timeout: float = START_TIMEOUT_S, what: str = "") -> Any:
    """Poll a condition until it is truthy (never a fixed sleep for ordering)."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what or condition}")
        time.sleep(0.05)


def _die_with_parent() -> None:
    """In the child: SIGTERM when the test process dies, so nothing outlives a killed run."""
    import ctypes

    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


# ------------------------------------------------------------------ D-Bus helpers


def _bus(address: str) -> Any:
    from jeepney.io.blocking import open_dbus_connection

    return open_dbus_connection(bus=address)


def name_has_owner(address: str, name: str) -> bool:
    from jeepney.bus_messages import message_bus

    try:
        with _bus(address) as conn:
            reply = conn.send_and_get_reply(message_bus.NameHasOwner(name), timeout=5)
    except (OSError, TimeoutError):
        return False
    return bool(reply.body[0])


@dataclass
class Notice:
    """One notification as the server received it, and what became of it."""

    id: int | None
    app_name: str
    replaces_id: int
    summary: str
    body: str
    actions: dict[str, str]  # identifier -> title
    closed_reason: int | None = None  # 1 expired, 2 dismissed, 3 closed by the app

    @property
    def open(self) -> bool:
        return self.id is not None and self.closed_reason is None


@dataclass
class BusRecorder:
    """Records Notify calls, their ids, closes and invoked actions on the session bus."""

    address: str
    notices: list[Notice] = field(default_factory=list)
    invoked: list[tuple[int, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _pending: dict[tuple[str, int], Notice] = field(default_factory=dict)
    _thread: threading.Thread | None = None
    _stop: bool = False

    def start(self) -> None:
        from jeepney.bus_messages import Monitoring

        self._conn = _bus(self.address)
        rules = [
            f"type='method_call',interface='{NOTIFICATIONS}'",
            f"type='signal',interface='{NOTIFICATIONS}'",
            "type='method_return'",
        ]
        self._conn.send_and_get_reply(Monitoring().BecomeMonitor(rules), timeout=5)
        self._thread = threading.Thread(target=self._run, name="bus-recorder", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop = True
        with contextlib.suppress(Exception):
            self._conn.close()

    def _run(self) -> None:
        from jeepney import HeaderFields, MessageType

        while not self._stop:
            try:
                msg = self._conn.receive(timeout=0.5)
            except TimeoutError:
                continue
            except Exception:
                return
            fields = msg.header.fields
            kind = msg.header.message_type
            with self._lock:
                if kind is MessageType.method_call and fields.get(HeaderFields.member) == "Notify":
                    app, replaces, _icon, summary, body, actions, _hints, _t = msg.body
                    pairs = dict(zip(actions[::2], actions[1::2], strict=False))
                    notice = Notice(None, app, replaces, summary, body, pairs)
                    self.notices.append(notice)
                    self._pending[(fields[HeaderFields.sender], msg.header.serial)] = notice
                elif kind is MessageType.method_return:
                    key = (
                        fields.get(HeaderFields.destination),
                        fields.get(HeaderFields.reply_serial),
                    )
                    notice = self._pending.pop(key, None)  # type: ignore[arg-type]
                    if notice is not None:
                        notice.id = int(msg.body[0])
                elif kind is MessageType.signal:
                    member = fields.get(HeaderFields.member)
                    if member == "NotificationClosed":
                        nid, reason = msg.body
                        for notice in self.notices:
                            if notice.id == nid and notice.closed_reason is None:
                                notice.closed_reason = int(reason)
                    elif member == "ActionInvoked":
                        self.invoked.append((int(msg.body[0]), str(msg.body[1])))

    def snapshot(self) -> list[Notice]:
        with self._lock:
            return [Notice(**vars(n)) for n in self.notices]

    def mark(self) -> int:
        """A position in the record: later checks look only at what came after it."""
        with self._lock:
            return len(self.notices)

    def since(self, mark: int) -> list[Notice]:
        return self.snapshot()[mark:]

    def showing(self) -> list[Notice]:
        return [n for n in self.snapshot() if n.open]


# ------------------------------------------------------------------ the session


@dataclass
class DesktopSession:
    root: Path
    artifacts: Path
    env: dict[str, str] = field(default_factory=dict)
    _processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    recorder: BusRecorder | None = None

    # ---------------------------------------------------------------- start

    def start(self) -> DesktopSession:
        missing = missing_binaries()
        if missing:
            raise MissingPart("not installed: " + ", ".join(missing))
        self.root.mkdir(parents=True, exist_ok=True)
        self.artifacts.mkdir(parents=True, exist_ok=True)
        home = self.root / "home"
        for folder in (home, self.root / "data", self.root / "run", self.root / "config"):
            folder.mkdir(parents=True, exist_ok=True)
        (self.root / "run").chmod(0o700)
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "HOME": str(home),
            "XDG_DATA_HOME": str(self.root / "data"),
            "XDG_CONFIG_HOME": str(self.root / "config"),
            "XDG_RUNTIME_DIR": str(self.root / "run"),
            "NO_AT_BRIDGE": "1",  # GTK would look for an accessibility bus otherwise
        }
        try:
            self._start_bus()
            self._start_x()
            self._start_tray_host()
            self._start_dunst()
            self._start_keyring()
        except BaseException:
            self.stop()
            raise
        self.recorder = BusRecorder(self.env["DBUS_SESSION_BUS_ADDRESS"])
        self.recorder.start()
        return self

    def _spawn(self, name: str, args: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        with (self.root / f"{name}.log").open("ab") as log:  # the child keeps its own copy
            kwargs.setdefault("stdout", log)
            kwargs.setdefault("stderr", log)
            kwargs.setdefault("stdin", subprocess.DEVNULL)
            process = subprocess.Popen(
                args, env=kwargs.pop("env", self.env), preexec_fn=_die_with_parent, **kwargs
            )
        self._processes.append((name, process))
        return process

    def _start_bus(self) -> None:
        socket_path = self.root / "bus"
        config = self.root / "bus.conf"
        config.write_text(BUS_CONFIG.format(socket=socket_path))
        self._spawn("dbus", ["dbus-daemon", "--nofork", f"--config-file={config}"])
        wait_for(socket_path.exists, what="the session bus socket")
        self.env["DBUS_SESSION_BUS_ADDRESS"] = f"unix:path={socket_path}"
        wait_for(
            lambda: name_has_owner(self.env["DBUS_SESSION_BUS_ADDRESS"], "org.freedesktop.DBus"),
            what="the session bus",
        )

    def _start_x(self) -> None:
        read_fd, write_fd = os.pipe()
        self._spawn(
            "xvfb",
            [
                "Xvfb",
                "-displayfd",
                str(write_fd),
                "-screen",
                "0",
                "640x400x24",
                "-nolisten",
                "tcp",
                "-noreset",
            ],
            pass_fds=(write_fd,),
        )
        os.close(write_fd)
        with os.fdopen(read_fd) as reader:
            number = reader.readline().strip()
        if not number:
            raise MissingPart("Xvfb did not start (see xvfb.log)")
        self.env["DISPLAY"] = f":{number}"

    def _start_tray_host(self) -> None:
        self._spawn(
            "trayer",
            [
                "trayer",
                "--edge",
                "top",
                "--align",
                "left",
                "--widthtype",
                "request",
                "--height",
                "32",
                "--SetDockType",
                "false",
                "--SetPartialStrut",
                "false",
                "--transparent",
                "false",
                "--tint",
                "0x203040",
            ],
        )
        wait_for(lambda: self.tray_host_window() != 0, what="trayer to own the tray selection")

    def tray_host_window(self) -> int:
        from Xlib import X, display

        conn = display.Display(self.env["DISPLAY"])
        try:
            atom = conn.intern_atom("_NET_SYSTEM_TRAY_S0")
            owner = conn.get_selection_owner(atom)
            return 0 if owner in (X.NONE, 0) else int(owner.id)
        finally:
            conn.close()

    def stop_tray_host(self) -> None:
        self._terminate("trayer")
        wait_for(lambda: self.tray_host_window() == 0, what="the tray selection to go")

    def restart_tray_host(self) -> None:
        self._start_tray_host()

    def _start_dunst(self) -> None:
        pick = self.root / "dunst-pick"
        dmenu = self.root / "dunst-dmenu.sh"
        dmenu.write_text(DMENU_SCRIPT.format(pick=pick))
        dmenu.chmod(0o755)
        rc = self.root / "dunstrc"
        rc.write_text(DUNSTRC.format(dmenu=dmenu))
        self._pick_file = pick
        self._spawn("dunst", ["dunst", "-config", str(rc)])
        wait_for(
            lambda: name_has_owner(self.env["DBUS_SESSION_BUS_ADDRESS"], NOTIFICATIONS),
            what="dunst on the bus",
        )

    def _start_keyring(self) -> None:
        process = self._spawn(
            "keyring",
            ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
            stdin=subprocess.PIPE,
        )
        assert process.stdin is not None
        process.stdin.write(KEYRING_PASSWORD.encode())  # no newline (desktop-testing.md)
        process.stdin.close()
        wait_for(
            lambda: name_has_owner(self.env["DBUS_SESSION_BUS_ADDRESS"], SECRETS),
            what="gnome-keyring on the bus",
        )

    # ---------------------------------------------------------------- use

    def run(self, args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        kwargs.setdefault("timeout", 30)
        return subprocess.run(args, env={**self.env, **kwargs.pop("env", {})}, **kwargs)

    def screenshot(self, name: str) -> Path:
        path = self.artifacts / f"{name}.png"
        self.run(["import", "-window", "root", str(path)], check=True)
        return path

    def tray_area(self, name: str, width: int = 96, height: int = 32) -> Path:
        """A screenshot of the tray host's strip (top left), where our icon docks."""
        path = self.artifacts / f"{name}.png"
        self.run(
            ["import", "-window", "root", "-crop", f"{width}x{height}+0+0", "+repage", str(path)],
            check=True,
        )
        return path

    def dunst_count(self) -> int:
        result = self.run(["dunstctl", "count", "displayed"])
        return int(result.stdout.strip() or 0)

    def pick_action(self, identifier: str) -> None:
        """Act as the user: choose a popup button through dunst's context menu."""
        self._pick_file.write_text(identifier)
        result = self.run(["dunstctl", "context"])
        assert result.returncode == 0, result.stderr

    def click_popup(self) -> None:
        """Act as the user: click the newest popup's body (its default action)."""
        result = self.run(["dunstctl", "action", "0"])
        assert result.returncode == 0, result.stderr

    def close_all_popups(self) -> None:
        self.run(["dunstctl", "close-all"])

    # ---------------------------------------------------------------- stop

    def _terminate(self, name: str) -> None:
        for entry in list(self._processes):
            label, process = entry
            if label != name:
                continue
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)
            self._processes.remove(entry)

    def stop(self) -> None:
        if self.recorder is not None:
            self.recorder.stop()
        for name, _ in reversed(list(self._processes)):
            self._terminate(name)


@contextlib.contextmanager
def bare_bus(root: Path) -> Iterator[str]:
    """A session bus with nothing on it (no notification server, no keyring)."""
    root.mkdir(parents=True, exist_ok=True)
    socket_path = root / "bare-bus"
    config = root / "bare-bus.conf"
    config.write_text(BUS_CONFIG.format(socket=socket_path))
    process = subprocess.Popen(
        ["dbus-daemon", "--nofork", f"--config-file={config}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_die_with_parent,
    )
    try:
        wait_for(socket_path.exists, what="the bare bus")
        address = f"unix:path={socket_path}"
        wait_for(lambda: name_has_owner(address, "org.freedesktop.DBus"), what="the bare bus")
        yield address
    finally:
        process.terminate()
        process.wait(5)


@contextlib.contextmanager
def desktop_session(root: Path, artifacts: Path) -> Iterator[DesktopSession]:
    session = DesktopSession(root, artifacts).start()
    try:
        yield session
    finally:
        session.stop()
