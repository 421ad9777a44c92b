"""The desktop shell: the tray on the main thread, the agent's loop on a worker thread
(architecture.md, "Processes and threads"; issue 3).

:class:`DesktopShell` starts the loop thread, which starts the agent and then
:func:`attach_desktop` (popups, the tray's state feed, the hotkey, the session-lock
watcher, autostart); the main thread runs the tray until the agent stops. Quit, from
the menu, ``POST /api/quit``, a signal or — on Windows — the ``--quit`` event and the
session's end (the platform hooks agent/app.py hands to :meth:`DesktopShell.run`), always
goes through the agent: it stops cleanly (``api.json`` removed, the lock released), then
the hooks are released and the tray is stopped.
The wiring itself is in agent/desktop/wiring.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, tzinfo
from typing import Any, Protocol

from agent.core.errors import AgentError
from agent.desktop.actions import DesktopActions
from agent.desktop.menu import Command
from agent.desktop.popups import notify_once
from agent.desktop.tray import Tray, probe_desktop
from agent.desktop.wiring import (
    Desktop,
    ShellAgent,
    attach_desktop,
    operator_language,
    team_zone,
)
from agent.i18n import DEFAULT, Translator, resolve_language
from agent.tray_backend import choose_backend

log = logging.getLogger(__name__)

TRAY_STOP_S = 5.0


class DesktopUnavailable(Exception):
    """No tray can be shown here (no display, no backend): run headless instead."""


class Held(Protocol):
    """What the platform hooks hold while the agent runs (agent/app.py PlatformHooks)."""

    def close(self) -> None: ...


Hooks = Callable[[Any, asyncio.AbstractEventLoop], Held]


class DesktopShell:
    """Make it (the tray: may raise :class:`DesktopUnavailable`), then :meth:`run` an
    agent whose options carry :meth:`attach` as their desktop wiring."""

    def __init__(
        self,
        *,
        backend: str | None = None,
        wait_for_tray_s: float = 0.0,
        tray_factory: Callable[..., Tray] = Tray,
    ) -> None:
        self.agent: ShellAgent | None = None
        self.hooks: Hooks | None = None
        self.desktop: Desktop | None = None
        self.exit_code = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self.actions: DesktopActions | None = None
        self._quit_early = False
        env = dict(os.environ)
        if backend is None and sys.platform.startswith("linux") and wait_for_tray_s > 0:
            _wait_for_tray_host(wait_for_tray_s)
        try:
            chosen = backend or choose_backend(sys.platform, env, probe_desktop)
        except ValueError as exc:
            raise DesktopUnavailable(str(exc)) from exc
        if chosen == "dummy":
            raise DesktopUnavailable("no display")
        try:
            self.tray = tray_factory(chosen, run_command=self._command, tz=self._zone)
        except Exception as exc:  # an import or display error of the GUI toolkit
            raise DesktopUnavailable(f"{chosen} tray: {type(exc).__name__}: {exc}") from exc
        log.info("tray backend: %s", chosen)

    # ---------------------------------------------------------------- main thread

    def _zone(self) -> tzinfo:
        return team_zone(self.agent) if self.agent is not None else UTC

    def run(self, agent: ShellAgent, *, hooks: Hooks | None = None) -> int:
        """Run the agent and the tray until the agent stops; ``hooks(agent, loop)`` are
        installed once it started and closed once it stopped (agent/app.py)."""
        self.agent = agent
        self.hooks = hooks
        if sys.platform == "win32":
            _windows_identity()
        thread = threading.Thread(target=self._agent_thread, name="agent-loop")
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self.request_quit())
        thread.start()
        try:
            self.tray.run(on_ready=self._tray_ready)
        except Exception:
            # A GUI toolkit failing must not take the calls down: popups, the hotkey
            # and the local API go on until the agent is asked to quit.
            log.exception("the tray failed; the agent goes on without it")
            if not self._tray_stopped_by_agent():
                thread.join()
        finally:
            self.request_quit()
            thread.join()
        log.info("tray stopped")
        return self.exit_code

    def _tray_stopped_by_agent(self) -> bool:
        return self.loop is None or self.loop.is_closed()

    def _tray_ready(self) -> None:
        if self.tray.backend in ("gtk", "appindicator"):
            # pystray's GTK loop resets SIGINT to "kill at once"; GLib's own handlers
            # run inside its main loop and lead to a clean stop instead.
            from gi.repository import GLib

            for sig in (signal.SIGINT, signal.SIGTERM):
                GLib.unix_signal_add(GLib.PRIORITY_HIGH, sig, self._glib_signal)

    def _glib_signal(self, *_: Any) -> bool:
        self.request_quit()
        return True

    def request_quit(self) -> None:
        """Any thread: ask the agent to stop (the tray follows)."""
        loop, agent = self.loop, self.agent
        if loop is None or loop.is_closed() or agent is None:
            self._quit_early = True
            return
        with contextlib.suppress(RuntimeError):  # the loop just closed
            loop.call_soon_threadsafe(agent.quit_requested.set)

    def _command(self, command: Command) -> None:
        """The tray thread's menu click: handed to the agent's loop."""
        if self.actions is None:
            log.info("tray: %s ignored, the agent is still starting", type(command).__name__)
            return
        self.actions.submit(command)

    # ---------------------------------------------------------------- the agent's thread

    def _agent_thread(self) -> None:
        try:
            self.exit_code = asyncio.run(self._serve())
        except AgentError as exc:
            print(f"phonet-agent: {exc}", file=sys.stderr)
            self.exit_code = exc.exit_code
        except BaseException:
            log.exception("the agent stopped on an error")
            self.exit_code = 1
        finally:
            self.tray.stop()
            threading.Thread(target=self._watchdog, name="tray-watchdog", daemon=True).start()

    def _watchdog(self) -> None:
        """The agent has stopped cleanly; a GUI toolkit that does not let its loop end
        must not keep the process alive (pystray's xorg backend sometimes does)."""
        if self.tray.wait_stopped(TRAY_STOP_S):
            return
        log.error("the tray did not stop within %s s; leaving anyway", TRAY_STOP_S)
        import faulthandler

        faulthandler.dump_traceback(all_threads=True)
        logging.shutdown()
        os._exit(self.exit_code)

    async def attach(self, agent: ShellAgent) -> None:
        """The agent's desktop wiring (AgentOptions.desktop), awaited inside its start."""
        self.desktop = await attach_desktop(agent, self.tray)
        self.actions = self.desktop.actions

    async def _serve(self) -> int:
        self.loop = asyncio.get_running_loop()
        agent = self.agent
        assert agent is not None
        held: Held | None = None
        try:
            try:
                await agent.start()
            except AgentError as exc:
                await self._tell_refusal(exc)
                raise
            if self.hooks is not None:
                held = self.hooks(agent, self.loop)
            if not self._quit_early:
                await agent.quit_requested.wait()
        finally:
            log.info("stopping")
            self.actions = None
            if self.desktop is not None:
                await self.desktop.close()
            await agent.stop()
            # Windows' session-end callback waits for this before it lets the OS go on.
            agent.stopped.set()
            agent.stopped_sync.set()
            if held is not None:
                held.close()
            log.info("agent stopped")
        return 0

    async def _tell_refusal(self, exc: AgentError) -> None:
        """A refused start (the licence has no seat: exit 5) is printed on stderr, which
        a tray user never sees: a popup says it (issue 3), else the console fallback."""
        agent = self.agent
        language = operator_language(agent)() if agent is not None else DEFAULT
        popups = self.desktop.popups if self.desktop is not None else None
        await tell_refusal(exc, language, popups)


async def tell_refusal(exc: AgentError, language: str, popups: Any = None) -> bool:
    """*Phonet Agent did not start* and why, as a popup: through the agent's popups when
    they were wired, else a notifier of its own. True when it was shown."""
    t = Translator(language)
    title, body = t("popup.start_refused"), refusal_text(exc, t)
    try:
        if popups is not None:
            shown = bool(await popups.tell_now(title, body))
        else:
            shown = await notify_once(title, body)
    except Exception:
        log.exception("the refusal could not be shown")
        shown = False
    log.info("start refused (%s); %s", exc, "a popup says so" if shown else "no popup")
    return shown


def tell_refusal_now(exc: AgentError) -> bool:
    """The same from a thread with no loop: a start refused before the agent exists
    (no keyring, no API key, not configured; agent/cli.py), in the computer's language."""
    try:
        return asyncio.run(tell_refusal(exc, resolve_language("")))
    except Exception:
        log.exception("the refusal could not be shown")
        return False


def refusal_text(exc: AgentError, t: Translator) -> str:
    """Why the start was refused: the agent's own sentence (it names the detail, e.g.
    who holds the seats), under the error's message in the operator's language."""
    detail = str(exc)
    detail = detail[:1].upper() + detail[1:]  # a sentence of its own in the popup
    if t.language == DEFAULT or not t.has(exc.message_key):
        return detail
    return f"{t(exc.message_key)}\n{detail}"


def _wait_for_tray_host(timeout: float) -> None:
    """At logon the agent may start before the panel: give a tray host a moment to
    appear, so the backend is chosen for the desktop that is really there."""
    if not probe_desktop("bus") and not os.environ.get("DISPLAY"):
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe_desktop("sni") or probe_desktop("xembed"):
            return
        time.sleep(0.5)
    log.info("no tray host appeared within %.0f s", timeout)


def _windows_identity() -> None:
    from agent import winsupport

    try:
        winsupport.set_app_user_model_id()
    except OSError as exc:
        log.info("AppUserModelID not set: %s", exc)
