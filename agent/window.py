"""The agent window: one pywebview window in a child process (architecture.md,
"Processes and threads"; M1–M7).

Two halves:

- :func:`run_window` is the child, ``phonet-agent window --url URL [--open TARGET]``.
  It reads the local API's token from ``PHONET_AGENT_TOKEN`` or the first line of
  stdin — never from the command line, which other users can read — opens
  ``URL/?open=TARGET#token=TOKEN`` (the page moves the token into sessionStorage and
  clears the fragment, contracts.md §4) and speaks to the agent only through the
  local API. Later stdin lines are commands: ``show`` (raise the window) and ``quit``;
  end of input (the agent went away) closes the window too. Closing the window ends
  the child.
- :class:`WindowLauncher` lives in the agent: ``open()`` starts the child on demand
  (the tray's "Open window", a click on a popup) or, when it runs, raises it and asks
  the page to open the target through the live channel (topic ``open``).

Backends are chosen explicitly (pywebview's own order changes with what is
installed): WebView2 (``edgechromium``) on Windows; on Linux GTK + WebKit2 when
Debian's ``gi`` and the WebKit2 4.1 typelib are importable, else Qt when a Qt binding
*with Qt WebEngine* is installed (the ``qt`` extra; PySide6-Essentials alone has no
QtWebEngineWidgets, which pywebview's Qt backend needs). With neither, the child opens
the same page in the default web browser instead (:func:`open_in_browser`), so "Open
window" always shows the UI. ``PHONET_AGENT_WINDOW_GUI=gtk|qt|browser`` forces one.
"""

from __future__ import annotations

import html
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

from agent.core.errors import ConfigError, InvalidInput
from agent.secrets import ENV_API_KEY

log = logging.getLogger(__name__)

TOKEN_ENV = "PHONET_AGENT_TOKEN"
GUI_ENV = "PHONET_AGENT_WINDOW_GUI"
BROWSER = "browser"  # no webview: the default web browser shows the page
# What the child never inherits: it needs only the URL and the token (on stdin). The
# operator's API key (contracts.md §2: "that process only") and libpq's password stay
# with the agent.
NOT_INHERITED = (TOKEN_ENV, ENV_API_KEY, "PGPASSWORD")
# Qt bindings pywebview's Qt backend (through qtpy) can use, as (package, QT_API name).
# Each needs its QtWebEngineWidgets: PySide6-Addons (<= 6.11) or PySide6-WebEngine
# (6.12+) for PySide6, PyQt6-WebEngine, PyQtWebEngine.
QT_BINDINGS = (("PySide6", "pyside6"), ("PyQt6", "pyqt6"), ("PyQt5", "pyqt5"))
# How long the browser fallback keeps its one-page redirect file: a browser that is not
# running yet may take a while to start and read it.
BROWSER_LINGER_S = 60.0
TITLE = "Phonet Agent"
SIZE = (420, 640)  # issue 7: fits 420x640 and scales up
MIN_SIZE = (360, 480)
_TARGET_KINDS = ("call", "contact", "event", "page", "number")


# ------------------------------------------------------------------ choosing the backend


def _importable(module: str) -> bool:
    """Whether ``module`` can be found (a sub-module's package is imported to look)."""
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError, OSError):
        return False


def gtk_available() -> bool:
    """Debian's ``gi`` with GTK 3 and WebKit2 4.1 typelibs (what pywebview's GTK needs)."""
    if not _importable("gi"):
        return False
    try:
        import importlib

        gi = importlib.import_module("gi")  # Debian's, exposed to the venv (no stubs)
        gi.require_version("Gtk", "3.0")
        gi.require_version("WebKit2", "4.1")
    except (ImportError, ValueError):
        return False
    return True


def qt_binding() -> str | None:
    """qtpy's ``QT_API`` name of the first Qt binding whose QtWebEngineWidgets is
    installed, or None. A binding without it (PySide6-Essentials alone) cannot show
    the window: pywebview's Qt backend is a QWebEngineView."""
    for package, api_name in QT_BINDINGS:
        if _importable(f"{package}.QtWebEngineWidgets"):
            return api_name
    return None


def qt_available() -> bool:
    return qt_binding() is not None


def choose_gui(
    system: str = sys.platform,
    environ: Mapping[str, str] | None = None,
    *,
    gtk: Callable[[], bool] = gtk_available,
    qt: Callable[[], bool] = qt_available,
) -> str:
    """pywebview's ``gui=`` for this machine, or ConfigError saying what to install."""
    env = os.environ if environ is None else environ
    if system == "win32":
        return "edgechromium"
    if system == "darwin":
        return "cocoa"
    forced = env.get(GUI_ENV, "").strip().lower()
    if forced in ("gtk", "qt", BROWSER):
        return forced
    if forced:
        raise InvalidInput(f"{GUI_ENV} must be gtk, qt or browser, not {forced!r}", field=GUI_ENV)
    if gtk():
        return "gtk"
    if qt():
        return "qt"
    raise ConfigError(
        "no window backend: install gir1.2-webkit2-4.1 (GTK) or the qt extra with "
        "Qt WebEngine (pip install 'phonet-agent[qt]'); the web UI also works in any browser"
    )


# ------------------------------------------------------------------ the child process


def start_url(url: str, token: str, target: str | None = None) -> str:
    """What the window loads: the token in the fragment (never sent over HTTP)."""
    query = f"?open={quote(target, safe=':')}" if target else ""
    return f"{url.rstrip('/')}/{query}#token={quote(token, safe='')}"


def check_target(target: str | None) -> str | None:
    """``call:UUID``, ``contact:ID``, ``event:ID``, ``number:N`` or ``page:NAME``."""
    if target is None or target == "":
        return None
    kind, _, rest = target.partition(":")
    if kind not in _TARGET_KINDS or not rest or len(target) > 200 or "\n" in target:
        raise InvalidInput(
            f"cannot open {target[:40]!r}: expected one of "
            + ", ".join(f"{k}:…" for k in _TARGET_KINDS),
            field="open",
        )
    return target


def read_token(stdin: IO[str], environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    token = env.get(TOKEN_ENV, "").strip()
    if not token:
        token = stdin.readline().strip()
    if not token:
        raise InvalidInput(f"no token: give it in {TOKEN_ENV} or on the first line of stdin")
    return token


def _follow_commands(window: Any, stdin: IO[str]) -> None:
    """The agent's commands on stdin; end of input means the agent is gone."""
    for raw in stdin:
        command = raw.strip()
        if command == "show":
            for action in ("restore", "show"):
                try:
                    getattr(window, action)()
                except Exception:  # some backends lack restore(); the rest still works
                    log.debug("window.%s failed", action, exc_info=True)
        elif command == "quit":
            break
    try:
        window.destroy()
    except Exception:
        log.debug("window.destroy failed", exc_info=True)


def run_window(
    url: str,
    token: str,
    *,
    target: str | None = None,
    gui: str | None = None,
    stdin: IO[str] | None = None,
    debug: bool = False,
    choose: Callable[[], str] = choose_gui,
    opener: Callable[[str], bool] | None = None,
) -> int:
    """Show the window until it is closed (blocks the main thread, as pywebview needs);
    with no webview backend, the page in the default browser instead."""
    target = check_target(target)
    try:
        chosen = gui or choose()
    except ConfigError as exc:
        log.warning("window: %s; opening the web UI in the browser instead", exc)
        chosen = BROWSER
    if chosen == BROWSER:
        return open_in_browser(url, token, target=target, stdin=stdin, opener=opener)
    if chosen == "qt":
        _prepare_qt()
    import webview

    webview.settings["ALLOW_DOWNLOADS"] = True  # the xlsx exports and diagnostics bundle
    webview.settings["OPEN_EXTERNAL_LINKS_IN_BROWSER"] = True
    window = webview.create_window(
        TITLE,
        url=start_url(url, token, target),
        width=SIZE[0],
        height=SIZE[1],
        min_size=MIN_SIZE,
        text_select=True,  # numbers and call ids are copied from the window
    )
    if window is None:
        raise ConfigError("pywebview could not create the window")
    if stdin is not None:
        threading.Thread(
            target=_follow_commands, args=(window, stdin), name="window-stdin", daemon=True
        ).start()
    log.info("window: %s backend", chosen)
    webview.start(gui=chosen, debug=debug, private_mode=True)  # type: ignore[arg-type]
    return 0


def _prepare_qt() -> None:
    # qtpy picks PyQt5 before PySide6 when both are installed: point it at the binding
    # that has Qt WebEngine, unless the operator chose one.
    binding = qt_binding()
    if binding is not None:
        os.environ.setdefault("QT_API", binding)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # QtWebEngine's Chromium refuses to run as root with its sandbox on.
        flags = os.environ.get("QTWEBENGINE_CHROMIUM_FLAGS", "")
        if "--no-sandbox" not in flags:
            os.environ["QTWEBENGINE_CHROMIUM_FLAGS"] = f"{flags} --no-sandbox".strip()


# ------------------------------------------------------------------ the browser fallback


def redirect_page(folder: Path, address: str) -> Path:
    """A one-page file in ``folder`` (the caller's private directory) that sends the
    browser on to ``address``. The browser is started with this file's URL, so the
    token never appears on a command line, where other users could read it; the file
    itself is readable by the user only, like api.json."""
    page = folder / "open.html"
    script = json.dumps(address).replace("</", "<\\/")
    text = (
        '<!doctype html><meta charset="utf-8"><meta name="referrer" content="no-referrer">'
        f"<title>{TITLE}</title>"
        f"<script>location.replace({script})</script>"
        f'<meta http-equiv="refresh" content="0;url={html.escape(address)}">'
    )
    fd = os.open(page, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    return page


def open_in_browser(
    url: str,
    token: str,
    *,
    target: str | None = None,
    stdin: IO[str] | None = None,
    opener: Callable[[str], bool] | None = None,
    linger_s: float = BROWSER_LINGER_S,
) -> int:
    """No webview on this machine: show the page in the default web browser.

    The browser opens a private redirect file (:func:`redirect_page`), kept for
    ``linger_s`` so a browser that starts slowly still finds it, then removed. Meanwhile
    ``show`` on stdin opens the page again and ``quit`` ends at once; a later "Open
    window" starts a new child, as for a closed window.
    """
    if opener is None:
        import webbrowser

        opener = webbrowser.open
    with tempfile.TemporaryDirectory(prefix="phonet-agent-") as folder:
        page = redirect_page(Path(folder), start_url(url, token, target)).as_uri()
        if not opener(page):
            raise ConfigError(
                "no window backend and no web browser to open the web UI in: install "
                "gir1.2-webkit2-4.1 or the qt extra, or open the address the agent prints "
                "with --headless"
            )
        log.info("window: no webview; the web UI opened in the default browser")
        quit_now = threading.Event()
        if stdin is not None:

            def follow() -> None:
                for raw in stdin:
                    command = raw.strip()
                    if command == "show":
                        opener(page)
                    elif command == "quit":
                        quit_now.set()
                        return

            threading.Thread(target=follow, name="window-stdin", daemon=True).start()
        quit_now.wait(linger_s)
    return 0


def main(url: str, target: str | None = None, *, debug: bool = False) -> int:
    """``phonet-agent window``: the token from the environment or stdin."""
    token = read_token(sys.stdin)
    for name in NOT_INHERITED:  # nor by anything the webview or the browser starts
        os.environ.pop(name, None)
    return run_window(url, token, target=target, stdin=sys.stdin, debug=debug)


# ------------------------------------------------------------------ the agent's side


def window_command(url: str, target: str | None = None) -> list[str]:
    """How the agent starts the child: the same program, ``window`` sub-command."""
    # The frozen phonet-agent.exe takes sub-commands itself.
    frozen = getattr(sys, "frozen", False)
    base = [sys.executable] if frozen else [sys.executable, "-m", "agent"]
    command = [*base, "window", "--url", url]
    if target:
        command += ["--open", target]
    return command


def child_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The window child's environment: the agent's, less :data:`NOT_INHERITED`."""
    return {k: v for k, v in environ.items() if k not in NOT_INHERITED}


@dataclass
class WindowLauncher:
    """Starts and raises the one window; safe to call from any thread.

    ``endpoint`` gives the local API's (url, token) once it listens; ``publish``
    sends a live update to the open pages (called on the agent's loop through
    ``call_soon``, which the agent supplies thread-safely).
    """

    endpoint: Callable[[], tuple[str, str] | None]
    publish: Callable[[str, Any], None]
    log_file: Path | None = None
    command: Callable[[str, str | None], list[str]] = window_command
    _child: subprocess.Popen[str] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def running(self) -> bool:
        return self._child is not None and self._child.poll() is None

    @property
    def pid(self) -> int | None:
        return self._child.pid if self.running and self._child is not None else None

    def open(self, target: str | None = None) -> bool:
        """Show the window (opening ``target`` in it); False when it cannot start."""
        target = check_target(target)
        with self._lock:
            if self.running:
                if target:
                    self.publish("open", {"target": target})
                self._send("show")
                return True
            endpoint = self.endpoint()
            if endpoint is None:
                log.warning("window: the local API is not listening yet")
                return False
            url, token = endpoint
            self._child = self._spawn(url, token, target)
            return self._child is not None

    def _spawn(self, url: str, token: str, target: str | None) -> subprocess.Popen[str] | None:
        env = child_environment(os.environ)
        out: IO[Any] | int = subprocess.DEVNULL
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            out = self.log_file.open("a", encoding="utf-8")
        flags = getattr(subprocess, "CREATE_NO_WINDOW", 0) if sys.platform == "win32" else 0
        try:
            child = subprocess.Popen(
                self.command(url, target),
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=out,
                env=env,
                text=True,
                creationflags=flags,
            )
        except OSError as exc:
            log.error("window: cannot start: %s", exc)
            return None
        finally:
            if not isinstance(out, int):
                out.close()  # the child holds its own copy
        assert child.stdin is not None
        try:
            child.stdin.write(token + "\n")
            child.stdin.flush()
        except OSError:
            log.warning("window: the child ended before it read its token")
        return child

    def _send(self, command: str) -> None:
        child = self._child
        if child is None or child.stdin is None:
            return
        try:
            child.stdin.write(command + "\n")
            child.stdin.flush()
        except (OSError, ValueError):
            log.debug("window: could not send %s", command)

    def close(self, timeout: float = 5.0) -> None:
        """Close the window (the agent is stopping): quit, then end of input, then kill."""
        with self._lock:
            child, self._child = self._child, None
        if child is None:
            return
        if child.poll() is None:
            try:
                if child.stdin is not None:
                    child.stdin.write("quit\n")
                    child.stdin.close()
            except (OSError, ValueError):
                pass
            try:
                child.wait(timeout)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(timeout)
        elif child.stdin is not None:
            child.stdin.close()
