"""``--selftest``: which desktop backends this build chose, and whether the core works.

Prints ONE JSON line (contracts.md §2) and exits 0 when the core works: a loopback
HTTP and WebSocket round trip through the same Starlette/uvicorn/httpx/websockets stack
the agent uses, every agent module and every library the agent loads on first use
importing (``imports``), and the paths behind them working (``features``: a tiny xlsx
written and read back through agent.files, the numbering plan's data, an Ed25519
signature). Each backend gets ``{"backend": name, "probe": result}`` where the
result is ``"ok"``, ``"ok: <detail>"`` or ``"unavailable: <reason>"`` (wine cannot run
WinRT toasts or the WebView2 window; a headless Linux box has no tray).

Probes never hang: each runs on a daemon thread with a timeout, and GUI libraries are
imported lazily inside their own ``try``. The frozen build's packaging step
(packaging/phonet_build/freeze.py) asserts the Windows backends from this output.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import socket
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import agent
from agent.tray_backend import (
    choose_backend,
    session_bus_present,
    statusnotifier_host,
    tray_host_window,
)

PROBE_TIMEOUT_S = 10.0
IMPORTS_TIMEOUT_FACTOR = 6  # some 200 modules, from a slow disk or under wine
HOST_PROBE_TIMEOUT_S = 3.0  # a tray host that does not answer in 3 s is not there
SELFTEST_SERVICE = "Phonet Agent selftest"  # never the real service: contracts.md §2
# agent.window.GUI_ENV, named here so a broken agent.window is still reported
WINDOW_GUI_ENV = "PHONET_AGENT_WINDOW_GUI"

Probe = dict[str, object]


def _reason(exc: BaseException) -> str:
    """The error's type and message on one line, short enough for the JSON line.

    A Windows error also gets its HRESULT in hex (0x80040154: class not registered,
    what WinRT answers under wine)."""
    text = " ".join(str(exc).split())[:160]
    winerror = getattr(exc, "winerror", None)
    if isinstance(winerror, int):
        text += f" (HRESULT {winerror & 0xFFFFFFFF:#010x})"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _with_timeout(fn: Callable[[], str], timeout: float) -> str:
    """Run a probe on a daemon thread; a probe stuck in a GUI or D-Bus call is abandoned."""
    box: list[str] = []

    def target() -> None:
        try:
            box.append(fn())
        except BaseException as exc:
            box.append(f"unavailable: {_reason(exc)}")

    thread = threading.Thread(target=target, name="selftest-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    return box[0] if box else f"unavailable: no answer within {timeout:g} s"


def has_display(environ: Mapping[str, str]) -> bool:
    return bool(environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"))


# ---------------------------------------------------------------- tray (pystray)


def choose_tray_backend(
    system: str, environ: Mapping[str, str], probe: Callable[[str], bool] | None = None
) -> str:
    """pystray's backend: the agent's own decision (agent/tray_backend.py), answered by
    this module's probes of ``environ``'s desktop unless ``probe`` is given.

    The probes here import no GUI toolkit: the typelibs are looked for as files, the
    session bus and the tray hosts (StatusNotifier, XEmbed) are asked on the bus and
    the display ``environ`` names, each under a timeout. Raises ValueError for an
    unknown ``PHONET_TRAY_BACKEND`` / ``PYSTRAY_BACKEND``.
    """
    return choose_backend(system, environ, probe or _desktop_probe(environ))


def _desktop_probe(environ: Mapping[str, str]) -> Callable[[str], bool]:
    def probe(what: str) -> bool:
        if what == "bus":
            return session_bus_present(environ)
        if what == "appindicator":
            return _typelib_present("AyatanaAppIndicator3") or _typelib_present("AppIndicator3")
        if what == "gtk":
            return _typelib_present("Gtk")
        if what == "sni":
            address = environ.get("DBUS_SESSION_BUS_ADDRESS")
            return bool(address) and _answers(lambda: statusnotifier_host(str(address)))
        if what == "xembed":
            name = environ.get("DISPLAY")
            return bool(name) and _answers(lambda: tray_host_window(name) != 0)
        return False

    return probe


def _answers(fn: Callable[[], bool]) -> bool:
    """A yes/no probe of the desktop; no answer in time, or an error, is a no."""
    return _with_timeout(lambda: "yes" if fn() else "no", HOST_PROBE_TIMEOUT_S) == "yes"


def _typelib_present(name: str) -> bool:
    """A GObject typelib (``name-x.y.typelib``) is installed: checked without importing gi."""
    folders = (
        Path("/usr/lib/x86_64-linux-gnu/girepository-1.0"),
        Path("/usr/lib/girepository-1.0"),
    )
    return any(any(folder.glob(f"{name}-*.typelib")) for folder in folders if folder.is_dir())


def _import_pystray_backend(backend: str) -> Any:
    """Import ``pystray._<backend>``; pystray's package import picks a backend itself,
    so PYSTRAY_BACKEND is set for that one import and then restored."""
    import importlib

    if "pystray" not in sys.modules:
        old = os.environ.get("PYSTRAY_BACKEND")
        os.environ["PYSTRAY_BACKEND"] = backend
        try:
            importlib.import_module("pystray")
        finally:
            if old is None:
                os.environ.pop("PYSTRAY_BACKEND", None)
            else:
                os.environ["PYSTRAY_BACKEND"] = old
    return importlib.import_module(f"pystray._{backend}")


def _probe_icon() -> Any:
    from PIL import Image

    return Image.new("RGBA", (32, 32), (0, 120, 215, 255))


def _tray_probe(backend: str, environ: Mapping[str, str]) -> str:
    if backend == "dummy":
        return "unavailable: no display (DISPLAY and WAYLAND_DISPLAY unset)"
    module = _import_pystray_backend(backend)
    icon = module.Icon("phonet-agent-selftest", _probe_icon(), "Phonet Agent selftest")
    if backend != "win32":
        # Building the icon proves the backend loads and reaches the display; showing it
        # needs that toolkit's main loop on the main thread, which the agent runs.
        return "ok"
    shown: list[bool] = []

    def setup(icon: Any) -> None:
        try:
            icon.visible = True  # Shell_NotifyIcon(NIM_ADD)
            shown.append(bool(icon.visible))
            icon.visible = False
        finally:
            icon.stop()

    icon.run(setup=setup)
    return "ok: icon shown and removed" if shown == [True] else "unavailable: icon not shown"


# ---------------------------------------------------------------- keyring


def _keyring_probe(name_box: list[str]) -> str:
    import keyring

    if sys.platform == "win32":
        from agent.winsupport import windows_keyring

        keyring.set_keyring(windows_keyring())  # type: ignore[arg-type]
    backend = keyring.get_keyring()
    name_box[0] = f"{type(backend).__module__}.{type(backend).__name__}"

    def round_trip() -> str:
        secret = os.urandom(12).hex()
        keyring.set_password(SELFTEST_SERVICE, "probe", secret)
        try:
            read = keyring.get_password(SELFTEST_SERVICE, "probe")
        finally:
            keyring.delete_password(SELFTEST_SERVICE, "probe")
        return "ok: write, read, delete" if read == secret else "unavailable: read back differs"

    return round_trip()


# ---------------------------------------------------------------- notifier


def _notifier_probe(name_box: list[str]) -> str:
    from desktop_notifier.main import get_backend_class

    cls = get_backend_class()
    name_box[0] = cls.__name__

    async def capabilities() -> str:
        from desktop_notifier import DesktopNotifier

        from agent import winsupport

        # The agent's own identity (agent/desktop/popups.py): on Windows desktop-notifier
        # writes HKCU\Software\Classes\AppUserModelId\<app_name>, which must be the key
        # the installer registers and its uninstaller removes (installer.iss).
        if sys.platform == "win32":
            notifier = DesktopNotifier(app_name=winsupport.APP_USER_MODEL_ID, app_icon=None)
            with contextlib.suppress(OSError):
                winsupport.register_toast_identity()  # the product's name, not the id
        else:
            notifier = DesktopNotifier(app_name=winsupport.APP_NAME, app_icon=None)
        caps = await asyncio.wait_for(notifier.get_capabilities(), PROBE_TIMEOUT_S)
        return f"ok: {len(caps)} capabilities"

    return asyncio.run(capabilities())


# ---------------------------------------------------------------- window (pywebview)


def choose_window_backend(
    system: str,
    environ: Mapping[str, str],
    *,
    gtk: Callable[[], bool] | None = None,
    qt: Callable[[], bool] | None = None,
) -> str:
    """What the window will use: :func:`agent.window.choose_gui`'s own decision (GTK
    with WebKit2, else Qt *with Qt WebEngine*, ``PHONET_AGENT_WINDOW_GUI`` forcing one),
    and ``browser`` where it finds no webview, as :func:`agent.window.run_window` then
    opens the web UI in the default browser. A wrong ``PHONET_AGENT_WINDOW_GUI`` raises
    InvalidInput, as it stops the window.

    ``gtk``/``qt`` stand in for the window's checks in tests."""
    from agent.core.errors import ConfigError
    from agent.window import BROWSER, choose_gui, gtk_available, qt_available

    try:
        return choose_gui(system, environ, gtk=gtk or gtk_available, qt=qt or qt_available)
    except ConfigError:
        return BROWSER


def _window_probe(backend: str, environ: Mapping[str, str]) -> str:
    if backend == "edgechromium":
        from agent.winsupport import webview2_version

        runtime = webview2_version()
        import webview.platforms.winforms as winforms  # loads pythonnet and WinForms

        if winforms.renderer != "edgechromium":
            return f"unavailable: WebView2 runtime missing (renderer {winforms.renderer})"
        return f"ok: WebView2 {runtime}"
    if not has_display(environ):
        return "unavailable: no display (DISPLAY and WAYLAND_DISPLAY unset)"
    from agent import window

    if backend == window.BROWSER:
        import webbrowser

        try:
            browser = webbrowser.get()
        except webbrowser.Error:
            return "unavailable: no webview (gir1.2-webkit2-4.1 or the qt extra) and no browser"
        name = getattr(browser, "name", None) or type(browser).__name__
        return f"ok: no webview: the web UI opens in the default browser ({name})"
    if backend == "qt":
        window._prepare_qt()  # the binding that has Qt WebEngine, as the window picks it
    import importlib

    importlib.import_module(f"webview.platforms.{backend}")  # gtk: Gtk + WebKit2 typelibs
    return "ok"


# ---------------------------------------------------------------- loopback (core)


async def _loopback_round_trip(timeout: float) -> dict[str, str]:
    import httpx
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocket
    from websockets.asyncio.client import connect

    async def ping(request: Request) -> JSONResponse:
        return JSONResponse({"pong": True})

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(await websocket.receive_text())
        await websocket.close()

    app = Starlette(routes=[Route("/ping", ping), WebSocketRoute("/ws", echo)])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_config=None,  # a windowed build has no stderr to log to
        access_log=False,
        lifespan="off",
        http="h11",
        ws="websockets-sansio",  # architecture.md: the legacy websockets code warns
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    result = {"http": "not run", "websocket": "not run"}
    try:
        async with asyncio.timeout(timeout):
            while not server.started:
                if serving.done():
                    serving.result()
                    raise RuntimeError("uvicorn stopped before it started")
                await asyncio.sleep(0.01)
            async with httpx.AsyncClient(trust_env=False) as client:
                reply = await client.get(f"http://127.0.0.1:{port}/ping")
            ok = reply.status_code == 200 and reply.json() == {"pong": True}
            result["http"] = "ok" if ok else f"unavailable: HTTP {reply.status_code}"
            async with connect(f"ws://127.0.0.1:{port}/ws", proxy=None) as ws:
                await ws.send("selftest")
                echoed = await ws.recv()
            result["websocket"] = "ok" if echoed == "selftest" else "unavailable: bad echo"
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(serving, timeout)
        sock.close()
    return result


def _loopback_probe(timeout: float) -> dict[str, str]:
    try:
        return asyncio.run(_loopback_round_trip(timeout))
    except BaseException as exc:
        reason = f"unavailable: {_reason(exc)}"
        return {"http": reason, "websocket": reason}


# ---------------------------------------------------------------- Windows specifics


def _windows_probes(timeout: float) -> dict[str, str]:
    if sys.platform == "win32":
        return _run_windows_probes(timeout)
    else:
        return {"all": "unavailable: not Windows"}


def _run_windows_probes(timeout: float) -> dict[str, str]:
    from agent import winsupport

    def mutexes() -> str:
        held = winsupport.hold_instance_mutexes()
        try:
            running = winsupport.is_agent_running()
            return f"ok: held {held.held} of {len(winsupport.MUTEX_NAMES)}, seen {running}"
        finally:
            held.release()

    def session_end() -> str:
        reasons: list[str] = []
        hook = winsupport.SessionEndHook(reasons.append, console=False)
        try:
            allowed = hook.send(0x0011, 0, 1)  # WM_QUERYENDSESSION, ENDSESSION_CLOSEAPP
            hook.send(0x0016, 1, 1)  # WM_ENDSESSION
        finally:
            hook.close()
        return f"ok: {reasons[0]}" if allowed == 1 and reasons else f"unavailable: {reasons}"

    def quit_event() -> str:
        heard = threading.Event()
        name = f"{winsupport.QUIT_EVENT_NAME} selftest {os.getpid()}"
        listener = winsupport.QuitListener(lambda _reason: heard.set(), name=name)
        try:
            winsupport.request_quit(timeout, event_name=name, mutex_name=name + " none")
            return "ok" if heard.wait(timeout) else "unavailable: quit event not heard"
        finally:
            listener.close()

    def app_user_model_id() -> str:
        winsupport.set_app_user_model_id()
        return f"ok: {winsupport.APP_USER_MODEL_ID}"

    def webview2() -> str:
        version = winsupport.webview2_version()
        return f"ok: {version}" if version else "unavailable: WebView2 runtime not installed"

    probes: dict[str, Callable[[], str]] = {
        "mutexes": mutexes,
        "session_end": session_end,
        "quit_event": quit_event,
        "app_user_model_id": app_user_model_id,
        "webview2_runtime": webview2,
    }
    return {name: _with_timeout(fn, timeout) for name, fn in probes.items()}


# ---------------------------------------------------------------- the agent's own paths

# The start path: what `agent.exe` and `agent.exe demo` import before the tray shows.
STARTUP_MODULES = (
    "agent.cli",
    "agent.app",
    "agent.demo",
    "agent.desktop.wiring",
    "agent.desktop.shell",
    "agent.window",
)
# Third-party modules the agent imports inside functions, on first use (workbooks,
# PostgreSQL, MS SQL, licences, the numbering plan's data): a frozen build's import
# scan can miss one, and a missing DLL of a compiled one shows only when an operator
# uses the feature. tests/packaging/test_packaging_selftest.py keeps this list in step
# with the imports in agent/.
LAZY_MODULES: dict[str, tuple[str, ...]] = {
    "all": (
        "cryptography.exceptions",
        "cryptography.hazmat.primitives.asymmetric.ed25519",
        "cryptography.hazmat.primitives.serialization",
        "desktop_notifier",
        "filelock",
        "keyring",
        "keyring.errors",
        "lxml.etree",
        "openpyxl",
        "openpyxl.cell",
        "openpyxl.styles",
        "openpyxl.utils",
        "phonenumbers",
        "phonenumbers.carrier",
        "phonenumbers.carrierdata",
        "phonenumbers.geocoder",
        "phonenumbers.geodata",
        "phonenumbers.geodata.locale",
        "phonenumbers.timezone",
        "phonenumbers.tzdata",
        "psycopg2",
        "psycopg2.extensions",
        "psycopg2.extras",
        "pymssql",
        "python_calamine",
        "truststore",
        "webview",
    ),
    "win32": ("winreg",),
    "linux": (
        "Xlib.X",
        "Xlib.XK",
        "Xlib.display",
        "Xlib.error",
        "dbus_fast.aio",
        "jeepney.bus_messages",
        "jeepney.io.blocking",
    ),
}


def lazy_modules(system: str) -> tuple[str, ...]:
    return LAZY_MODULES["all"] + LAZY_MODULES.get(system, ())


def _import(name: str) -> str:
    import importlib

    try:
        importlib.import_module(name)
    except Exception as exc:  # an ImportError, or whatever the module raised loading
        return f"unavailable: {_reason(exc)}"
    return "ok"


def _agent_modules() -> str:
    """Every module of the agent package, found as the frozen build's importer lists
    them (a ``__main__`` module runs its program when imported and is left out)."""
    import pkgutil

    names = [
        m.name
        for m in pkgutil.walk_packages(agent.__path__, "agent.", onerror=lambda _name: None)
        if m.name.rpartition(".")[2] != "__main__"
    ]
    failed = {name: result for name in names if (result := _import(name)) != "ok"}
    if not names:
        return "unavailable: no agent module found"
    if failed:
        first = "; ".join(f"{n}: {r.removeprefix('unavailable: ')}" for n, r in failed.items())
        return f"unavailable: {len(failed)} of {len(names)} failed: {first}"[:600]
    return f"ok: {len(names)} modules"


def _import_probes(system: str) -> dict[str, str]:
    report = {name: _import(name) for name in STARTUP_MODULES}
    report["agent"] = _agent_modules()
    report.update({name: _import(name) for name in lazy_modules(system)})
    return report


def _imports_probe(system: str, timeout: float) -> dict[str, str]:
    found: dict[str, str] = {}

    def probe() -> str:
        found.update(_import_probes(system))
        return "ok"

    outcome = _with_timeout(probe, timeout)
    return dict(found) if outcome == "ok" else {"all": outcome}


def _files_probe() -> str:
    """A tiny workbook through agent.files: written by openpyxl, read by calamine."""
    import io

    from agent.files import Sheet, read_table, write_xlsx

    rows = [["Оксана Мельник", "+380442249895"]]
    stream = io.BytesIO()
    write_xlsx(stream, [Sheet("selftest", ["name", "number"], rows)])
    table = read_table(stream.getvalue(), "selftest.xlsx")
    read = table.head(2)
    if read != [["name", "number"], rows[0]]:
        return f"unavailable: read back {read!r}"
    return f"ok: xlsx written and read back ({len(stream.getvalue())} bytes)"


def _numbers_probe() -> str:
    """The numbering plan's data (B14, B3), loaded on first use through agent.core."""
    from agent.core.numbers import hint, local_time_zone

    found = hint("+380501234567", "en")
    zone = local_time_zone("+380442249895")
    if not (found.operator and zone):
        return f"unavailable: operator {found.operator!r}, time zone {zone!r}"
    return f"ok: {found.operator}, {zone}"


def _licence_probe() -> str:
    """Ed25519 through cryptography's Rust binding, as product keys are checked (L1)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    signature = key.sign(b"selftest")
    key.public_key().verify(signature, b"selftest")
    try:
        key.public_key().verify(signature, b"tampered")
    except InvalidSignature:
        return "ok: Ed25519 sign and verify"
    return "unavailable: a tampered message verified"


def _feature_probes(timeout: float) -> dict[str, str]:
    probes: dict[str, Callable[[], str]] = {
        "files": _files_probe,
        "numbers": _numbers_probe,
        "licence": _licence_probe,
    }
    return {name: _with_timeout(fn, timeout) for name, fn in probes.items()}


# ---------------------------------------------------------------- the report


def run_selftest(
    environ: Mapping[str, str] | None = None, timeout: float = PROBE_TIMEOUT_S
) -> dict[str, object]:
    """Probe every backend and the loopback round trip; never raises, never hangs.

    ``environ`` decides the display-dependent choices (default: ``os.environ``).
    ``ok`` is True when the core works: HTTP and WebSocket both answered, and every
    ``imports`` and ``features`` probe is ok (the backends may be unavailable).
    """
    env = os.environ if environ is None else environ
    system = sys.platform

    try:
        tray = choose_tray_backend(system, env)
    except ValueError as exc:  # a backend named in the environment that does not exist
        tray = str(env.get("PHONET_TRAY_BACKEND") or env.get("PYSTRAY_BACKEND"))
        tray_result = f"unavailable: {exc}"
    else:
        tray_result = _with_timeout(lambda: _tray_probe(tray, env), timeout)
    try:
        window = choose_window_backend(system, env)
    except Exception as exc:  # WINDOW_GUI_ENV names no backend; agent.window is broken
        window = str(env.get(WINDOW_GUI_ENV) or "unknown")
        window_result = f"unavailable: {_reason(exc)}"
    else:
        window_result = _with_timeout(lambda: _window_probe(window, env), timeout)
    keyring_box = ["unknown"]
    notifier_box = ["unknown"]
    keyring_result = _with_timeout(lambda: _keyring_probe(keyring_box), timeout)
    notifier_result = _with_timeout(lambda: _notifier_probe(notifier_box), timeout)
    loopback = _loopback_probe(timeout)
    report: dict[str, object] = {
        "selftest": 1,
        "version": agent.__version__,
        "platform": system,
        "os": platform.platform(),
        "python": platform.python_version(),
        "frozen": bool(getattr(sys, "frozen", False)),
        "tray": {"backend": tray, "probe": tray_result},
        "keyring": {"backend": keyring_box[0], "probe": keyring_result},
        "notifier": {"backend": notifier_box[0], "probe": notifier_result},
        "window": {"backend": window, "probe": window_result},
        "loopback": loopback,
        "windows": _windows_probes(timeout),
    }
    # Last: importing every agent module also imports pystray, which picks its backend.
    imports = _imports_probe(system, IMPORTS_TIMEOUT_FACTOR * timeout)
    features = _feature_probes(timeout)
    report["imports"] = imports
    report["features"] = features
    report["ok"] = (
        loopback["http"] == "ok"
        and loopback["websocket"] == "ok"
        and all(v.startswith("ok") for v in [*imports.values(), *features.values()])
    )
    return report


def _output() -> IO[str] | None:
    """stdout, or the parent's console for a windowed build started from one."""
    if sys.stdout is not None:
        return sys.stdout
    if sys.platform == "win32":
        import ctypes

        if ctypes.windll.kernel32.AttachConsole(0xFFFFFFFF):  # ATTACH_PARENT_PROCESS
            return Path("CONOUT$").open("w", encoding="utf-8")
    return None


def main() -> int:
    """Print the report as one JSON line; exit 0 when the core works, else 1."""
    report = run_selftest()
    line = json.dumps(report, ensure_ascii=False, separators=(",", ":"))
    out = _output()
    if out is not None:
        out.write(line + "\n")
        out.flush()
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
