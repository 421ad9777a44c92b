"""What the tray's menu, the popups' buttons and the hotkey do (issue 3; B1, B6, B12, U3).

Everything here runs on the agent's loop: the tray thread hands a command over with
:meth:`DesktopActions.submit`, the hotkey thread with :meth:`DesktopActions.submit_text`;
popup buttons already call in on the loop. Failures become a short popup (never an
exception into a GUI toolkit), and every action is logged once.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Protocol

from agent.core.errors import AgentError
from agent.core.events import CallInfo, Direction
from agent.core.numbers import DialTarget, hint
from agent.desktop.links import find_number, read_selection
from agent.desktop.menu import (
    Command,
    Connect,
    Dial,
    DialClipboard,
    Dialer,
    Disconnect,
    OpenWindow,
    Quit,
    RunJob,
    SetDnd,
)
from agent.desktop.popup_text import job_result_text
from agent.desktop.view import tomorrow_at
from agent.i18n import DEFAULT, Translator

log = logging.getLogger(__name__)


class RuntimePort(Protocol):
    """The parts of agent/runtime.py the desktop drives."""

    recent_numbers: list[str]
    lookup: Any

    async def dial(self, text: str) -> str: ...
    async def hangup(self, uuid: str | None = None) -> str: ...
    async def set_dnd(self, on: bool, until: datetime | None = None) -> None: ...


class AgentControl(Protocol):
    """Connect / Disconnect / Quit of agent/app.py's Agent (U3)."""

    quit_requested: asyncio.Event

    def connect(self) -> None: ...
    async def disconnect(self) -> None: ...


class Notices(Protocol):
    """The popups the actions need (agent/desktop/popups.py)."""

    def info(self, title: str, body: str) -> None: ...
    def ask(
        self, title: str, body: str, yes: tuple[str, Callable[[], None]], no: str | None = ...
    ) -> bool: ...


async def _find_contact(services: Any, number: str) -> int | None:
    """The id of the contact a number belongs to (issue 4's contacts), if any."""
    find = getattr(getattr(services, "contacts", None), "find_contact", None)
    if find is None:
        return None
    try:
        contact = await find(number)
    except AgentError:
        return None
    return getattr(contact, "id", None) if contact is not None else None


def error_text(exc: AgentError, t: Translator) -> str:
    """What an operator reads about an error: the agent's own sentence in English (it
    names the detail), the error's message key in Ukrainian or Russian (architecture.md
    rule 8: user-facing errors are message keys)."""
    if t.language == DEFAULT or not t.has(exc.message_key):
        return str(exc)
    return t(exc.message_key)


class DesktopActions:
    def __init__(
        self,
        *,
        runtime: RuntimePort,
        agent: AgentControl,
        services: Any,
        own_ext: str,
        region: Callable[[], str],
        tz: Callable[[], tzinfo],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        language: Callable[[], str] = lambda: "en",
    ) -> None:
        self.runtime = runtime
        self.language = language  # B7: the operator's language now (en, uk, ru)
        self.agent = agent
        self.services = services
        self.own_ext = own_ext
        self.region = region
        self.tz = tz
        self.clock = clock
        self.notices: Notices | None = None  # set once the popups exist
        self.loop = asyncio.get_running_loop()
        self._tasks: set[asyncio.Task[Any]] = set()

    # ---------------------------------------------------------------- from other threads

    def submit(self, command: Command) -> None:
        """Thread-safe: run a menu command on the agent's loop."""
        self.loop.call_soon_threadsafe(self.spawn, self.execute(command), repr(command))

    def submit_text(self, text: str | None) -> None:
        """Thread-safe: the hotkey's selected text, to confirm and dial (B1)."""
        self.loop.call_soon_threadsafe(self.spawn, self.confirm_dial(text), "hotkey")

    def spawn(self, coro: Awaitable[Any], what: str) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._done(t, what))

    def _done(self, task: asyncio.Task[Any], what: str) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if isinstance(exc, AgentError):
            log.info("%s: %s", what, exc)
            self._tell("Phonet Agent", error_text(exc, self.t))
        elif exc is not None:
            log.error("%s failed", what, exc_info=exc)
            self._tell("Phonet Agent", self.t("popup.failed", error=type(exc).__name__))

    @property
    def t(self) -> Translator:
        """The words of the popups the actions show, in the operator's language (B7)."""
        return Translator(self.language())

    def _tell(self, title: str, body: str) -> None:
        if self.notices is not None:
            self.notices.info(title, body)

    # ---------------------------------------------------------------- menu commands

    async def execute(self, command: Command) -> None:
        log.info("tray: %s", type(command).__name__)
        match command:
            case OpenWindow(view=None):
                self.open_window(None)
            case OpenWindow(view=view):
                self.open_window(f"page:{view}")
            case DialClipboard():
                await self.dial_clipboard()
            case Dial(number=number):
                await self.runtime.dial(number)
            case SetDnd():
                await self.set_dnd(command)
            case Dialer():
                await self.dialer(command)
            case RunJob(job=job):
                await self.run_job(job)
            case Connect():
                self.agent.connect()
            case Disconnect():
                await self.agent.disconnect()
            case Quit():
                self.agent.quit_requested.set()

    async def set_dnd(self, command: SetDnd) -> None:
        until: datetime | None = None
        now = self.clock()
        if command.minutes:
            until = now + timedelta(minutes=command.minutes)
        elif command.until_tomorrow:
            until = tomorrow_at(now, self.tz())
        await self.runtime.set_dnd(command.on, until)

    async def dialer(self, command: Dialer) -> None:
        dialer = getattr(self.services, "dialer", None)
        method = getattr(dialer, command.action, None)
        if method is None:
            self._tell(self.t("tray.dialer"), self.t("popup.dialer_unavailable"))
            return
        result = method(command.minutes) if command.action == "pause" else method()
        if inspect.isawaitable(result):
            await result

    async def run_job(self, job: str) -> None:
        """Run now (issue 6) through the jobs service, as ``POST /api/jobs/{job}/run``
        does; a popup tells the result when the run ends (its counts, or the error)."""
        title = self.t(f"popup.job.{job}")
        jobs = getattr(self.services, "jobs", None)
        hub = getattr(self.services, "hub", None)
        if jobs is None or hub is None:
            self._tell(title, self.t("error.job_not_runnable"))
            return
        # Subscribed before the run starts: a short run must not end unheard.
        async with hub.subscribe() as heard:
            try:
                claim = await jobs.run_now(job)
            except AgentError as exc:  # not runnable here: a missing secret, a bad schedule
                log.info("tray: job %s not run: %s", job, exc)
                self._tell(title, self.t("popup.job.failed", error=error_text(exc, self.t)))
                return
            if not claim.granted:
                where = claim.holder_host or claim.holder or "?"
                self._tell(title, self.t("popup.job.busy", host=where))
                return
            while True:
                message = await heard.get()
                data = message.data if message.topic == "job" else None
                if (
                    isinstance(data, dict)
                    and data.get("run_id") == claim.run_id
                    and data.get("state") != "running"
                ):
                    break
        log.info("tray: job %s run %s ended %s", job, claim.run_id, data.get("state"))
        self._tell(title, job_result_text(job, data, self.t))

    async def dial_clipboard(self) -> None:
        text = await asyncio.to_thread(read_selection, "clipboard")
        target = find_number(text or "", self.region())
        if not isinstance(target, DialTarget):
            self._tell(self.t("tray.dial_clipboard"), self.t("popup.no_number_clipboard"))
            return
        await self.runtime.dial(target.number)
        self._extension_ignored(target)

    def _extension_ignored(self, target: DialTarget) -> None:
        """``;ext=`` / "x12" cannot be dialled: the PBX API has no way to send tones into
        a call (phonet-api.md: no DTMF-send endpoint). Say so, never drop it silently."""
        if not target.extension:
            return
        log.info("extension %s not dialled: the PBX API cannot send it", target.extension)
        self._tell(
            self.t("popup.dial", number=target.number),
            self.t("popup.extension_ignored", ext=target.extension),
        )

    def open_window(self, target: str | None) -> None:
        window = getattr(self.services, "window", None)
        if window is None or not window.open(target):
            self._tell("Phonet Agent", self.t("popup.window_unavailable"))

    # ---------------------------------------------------------------- hotkey (B1)

    async def confirm_dial(self, text: str | None) -> None:
        """The hotkey: show the normalised number and the contact, dial on "Dial"."""
        target = find_number(text or "", self.region())
        if not isinstance(target, DialTarget):
            self._tell(self.t("popup.dial_selection"), self.t("popup.no_number_selection"))
            return
        number = target.number
        lines = [number]
        name = await self._contact_name(number)
        if name:
            lines.append(name)
        else:
            about = await asyncio.to_thread(hint, number)  # B14; large data, loaded once
            words = ", ".join(x for x in (about.region or about.country, about.operator) if x)
            if words:
                lines.append(words)
        if target.extension:  # said before the operator decides (B1; see _extension_ignored)
            lines.append(self.t("popup.extension_ignored", ext=target.extension))
        t = self.t
        asked = self.notices is not None and self.notices.ask(
            t("popup.dial_confirm", number=number),
            "\n".join(lines),
            (t("popup.action.dial"), lambda: self.spawn(self.runtime.dial(number), "hotkey dial")),
            t("popup.action.cancel"),
        )
        if not asked:  # no popups here: the hotkey itself is the confirmation
            log.info("hotkey: dialling without a confirmation popup (none can be shown)")
            await self.runtime.dial(number)
            self._extension_ignored(target)

    async def _contact_name(self, number: str) -> str | None:
        lookup = getattr(self.runtime, "lookup", None)
        if lookup is None:
            return None
        call = CallInfo(
            uuid="",
            direction=Direction.OUT,
            ext=self.own_ext,
            number=number,
            outgoing=True,
            dial_at=self.clock(),
        )
        try:
            context = await lookup(call)
        except Exception:
            log.exception("contact lookup for the hotkey failed")
            return None
        if context is None:
            return None
        return " — ".join(x for x in (context.name, context.company) if x) or None

    # ---------------------------------------------------------------- popup buttons (B6)

    def hang_up(self, call_uuid: str) -> None:
        self.spawn(self.runtime.hangup(call_uuid), "popup hang up")

    def call_back(self, number: str) -> None:
        self.spawn(self.runtime.dial(number), "popup call back")

    def open_contact(self, number: str) -> None:
        """The contact card when the number is a contact's (U7), else the number's page."""

        async def find() -> None:
            contact = await _find_contact(self.services, number)
            self.open_window(f"contact:{contact}" if contact is not None else f"number:{number}")

        self.spawn(find(), "popup open contact")

    def create_event(self, call_uuid: str, number: str, direction: str) -> None:
        """B6: the call's event (with the operator's defaults, U8), opened in the window."""
        events = getattr(self.services, "events", None)
        if events is None or not hasattr(events, "create_event"):
            self.open_window(f"call:{call_uuid}")
            return

        async def make() -> None:
            from agent.core.call_events import draft_on_answer

            existing = events.open_event_for(call_uuid)
            if existing is None:
                operator = getattr(self.agent, "operator", None)
                draft = draft_on_answer(
                    getattr(operator, "event_defaults", {}),
                    call_uuid=call_uuid,
                    number=number,
                    contact_id=await _find_contact(self.services, number),
                    operator_ext=self.own_ext,
                    direction=direction,
                    at=self.clock(),
                )
                existing = await events.create_event(draft)
            self.open_window(f"event:{existing.id}")

        self.spawn(make(), "popup create event")

    def open_call(self, call_uuid: str) -> None:
        self.open_window(f"call:{call_uuid}")
