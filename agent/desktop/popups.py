"""Call popups on the desktop (C3, B6, B12, B13): desktop-notifier on the agent's loop.

One notifier lives on the agent's loop thread (its callbacks need that running loop).
One popup per call, replaced as the call moves (dial → ring → answer → hang-up): the
previous popup of the call is closed before the next is sent, and a call whose
popup is still being sent only gets its newest state (no flood, and never more
than :data:`MAX_VISIBLE` calls on screen). DND silences ring popups (and the
"missed" popup of a call whose ring was silenced); the journal still records them.

When the platform refuses notifications the popup goes to the fallback (the tray's
balloon, else a console line) and the log says so once, and once more when
notifications work again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from agent.core.popups import Popup, PopupKind, console_line
from agent.desktop.popup_text import PopupText, missed, popup_text
from agent.i18n import Translator

log = logging.getLogger(__name__)
T = TypeVar("T")

APP_NAME = "Phonet Agent"
MAX_VISIBLE = 3  # calls with a popup on screen at once; older ones are closed
PROBE_TIMEOUT_S = 5.0
SEND_TIMEOUT_S = 10.0


# ------------------------------------------------------------------ the adapter


class PopupActions(Protocol):
    """What a popup's buttons do; called on the agent's loop thread, must not block."""

    def hang_up(self, call_uuid: str) -> None: ...
    def call_back(self, number: str) -> None: ...
    def open_contact(self, number: str) -> None: ...
    def create_event(self, call_uuid: str, number: str, direction: str) -> None: ...
    def open_call(self, call_uuid: str) -> None: ...


Fallback = Callable[[str, str], None]  # (title, body): the tray balloon or the console


def console_fallback(write: Callable[[str], None] = print) -> Fallback:
    def show(title: str, body: str) -> None:
        write(f"{title}: {body.splitlines()[0] if body else ''}")

    return show


@dataclass
class _Shown:
    identifier: str
    finished: bool  # the hang-up popup: the first to go when space is needed
    platform_id: Any = None  # D-Bus: the server's id, to close it after a button press


class DesktopPopups:
    """The runtime's PopupPort on the desktop. Create and use on the agent's loop."""

    def __init__(
        self,
        *,
        actions: PopupActions,
        dnd: Callable[[], bool],
        timeout_s: Callable[[], int],
        fallback: Fallback,
        console: Callable[[str], None] | None = None,
        notifier: Any = None,
        language: Callable[[], str] = lambda: "en",
    ) -> None:
        self.actions = actions
        self._language = language  # B7: read at each popup, so a saved setting applies
        self._dnd = dnd
        self._timeout_s = timeout_s
        self._fallback = fallback
        self._console = console
        self._notifier = notifier
        self._wanted: OrderedDict[str, Popup] = OrderedDict()  # call uuid -> newest popup
        self._shown: OrderedDict[str, _Shown] = OrderedDict()  # call uuid -> on screen
        self._silenced: set[str] = set()
        self._seq = 0
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self.available: bool | None = None  # None: not probed yet
        self.reason: str | None = None
        self.sent = 0

    async def start(self) -> None:
        """Make the notifier on this loop and ask the server what it can do."""
        try:
            if self._notifier is None:
                self._notifier = _make_notifier()
            await within(self._notifier.get_capabilities(), PROBE_TIMEOUT_S)
        except Exception as exc:
            self._unavailable(f"{type(exc).__name__}: {exc}".strip(": "))
        else:
            self.available = True
            log.info("desktop notifications: %s", type(self._notifier._backend).__name__)
        self._worker = asyncio.create_task(self._work(), name="popups")

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        for shown in list(self._shown.values()):
            await self._clear(shown)
        self._shown.clear()
        await _disconnect(self._notifier)

    # ---------------------------------------------------------------- PopupPort

    def show(self, popup: Popup) -> None:
        """The runtime's call (on the loop): never blocks, never raises."""
        if self._dnd():
            # B12: DND silences the ring (the core drops it already) and the "missed"
            # popup of a call nothing was shown for; the journal and the tray's missed
            # badge still count the call.
            unseen = popup.call_uuid not in self._shown and popup.call_uuid not in self._wanted
            if popup.urgent or (missed(popup) and unseen):
                self._silenced.add(popup.call_uuid)
                if popup.kind is PopupKind.HANGUP:
                    self._silenced.discard(popup.call_uuid)
                return
        if popup.call_uuid in self._silenced:
            # A silenced ring stays silent to its end, unless the operator answers.
            if popup.kind is not PopupKind.ANSWER:
                if popup.kind is PopupKind.HANGUP:
                    self._silenced.discard(popup.call_uuid)
                return
            self._silenced.discard(popup.call_uuid)
        self._wanted.pop(popup.call_uuid, None)
        self._wanted[popup.call_uuid] = popup  # the newest state only, in arrival order
        self._wake.set()

    # ---------------------------------------------------------------- other popups

    def info(self, title: str, body: str) -> None:
        """A plain message (e.g. "no number in the clipboard")."""
        asyncio.get_running_loop().create_task(self._send_plain(title, body, ()))

    def ask(
        self,
        title: str,
        body: str,
        yes: tuple[str, Callable[[], None]],
        no: str | None = None,
    ) -> bool:
        """A question with a yes button (and ``no``, by default "Cancel" in the
        operator's language); False when it cannot be asked (no notifier)."""
        if not self.available:
            return False
        label, on_yes = yes
        cancel = no if no is not None else self.texts()("popup.action.cancel")
        buttons = ((("yes", label), on_yes), (("no", cancel), None))
        asyncio.get_running_loop().create_task(self._send_plain(title, body, buttons))
        return True

    async def tell_now(self, title: str, body: str) -> bool:
        """A message that must be seen before the agent exits (a refused start): sent
        and awaited, staying until dismissed; False when it went to the fallback."""
        if self.available:
            self._seq += 1
            if await self._send(f"plain.{self._seq}", title, body, (), 0, None):
                return True
        self._fallback(title, body)
        return False

    def texts(self) -> Translator:
        """The popups' words in the operator's language now (B7)."""
        return Translator(self._language())

    # ---------------------------------------------------------------- the worker

    async def _work(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._wanted:
                _uuid, popup = self._wanted.popitem(last=False)
                try:
                    await self._deliver(popup)
                except Exception:
                    log.exception("a popup failed")

    async def _deliver(self, popup: Popup) -> None:
        text = popup_text(popup, timeout_s=self._timeout_s(), t=self.texts())
        previous = self._shown.pop(popup.call_uuid, None)
        if previous is not None:
            await self._clear(previous)
        await self._make_room()
        if not self.available:
            self._to_fallback(popup, text)
            return
        self._seq += 1
        identifier = f"{popup.call_uuid}.{self._seq}"
        callbacks = self._callbacks(popup)
        buttons = tuple((bid, title, callbacks.get(bid)) for bid, title in text.buttons)
        ok = await self._send(
            identifier, text.title, text.body, buttons, text.timeout_s, callbacks["click"]
        )
        if not ok:
            self._to_fallback(popup, text)
            return
        self._shown[popup.call_uuid] = _Shown(
            identifier, popup.kind is PopupKind.HANGUP, _platform_id(self._notifier, identifier)
        )

    async def _make_room(self) -> None:
        while len(self._shown) >= MAX_VISIBLE:
            finished = [u for u, s in self._shown.items() if s.finished]
            oldest = finished[0] if finished else next(iter(self._shown))
            await self._clear(self._shown.pop(oldest))

    def _callbacks(self, popup: Popup) -> dict[str, Callable[[], None]]:
        a, uuid, number, direction = self.actions, popup.call_uuid, popup.number, popup.direction
        return {
            "hangup": lambda: a.hang_up(uuid),
            "call_back": lambda: a.call_back(number),
            "open_contact": lambda: a.open_contact(number),
            "create_event": lambda: a.create_event(uuid, number, str(direction)),
            "click": lambda: a.open_call(uuid),
        }

    async def _send_plain(
        self,
        title: str,
        body: str,
        buttons: tuple[tuple[tuple[str, str], Callable[[], None] | None], ...],
    ) -> None:
        if not self.available:
            self._fallback(title, body)
            return
        self._seq += 1
        flat = tuple((bid, label, fn) for (bid, label), fn in buttons)
        ok = await self._send(f"plain.{self._seq}", title, body, flat, 0 if buttons else 8, None)
        if not ok:
            self._fallback(title, body)

    async def _send(
        self,
        identifier: str,
        title: str,
        body: str,
        buttons: tuple[tuple[str, str, Callable[[], None] | None], ...],
        timeout_s: int,
        on_clicked: Callable[[], None] | None,
    ) -> bool:
        from desktop_notifier import Button, Notification

        dispatched: list[bool] = []
        note = Notification(
            title,
            body,
            buttons=tuple(
                Button(label, on_pressed=_guard(fn), identifier=bid) for bid, label, fn in buttons
            ),
            on_clicked=_guard(on_clicked),
            on_dispatched=lambda: dispatched.append(True),
            identifier=identifier,
            timeout=timeout_s,
        )
        try:
            await within(self._notifier.send_notification(note), SEND_TIMEOUT_S)
        except Exception as exc:
            self._unavailable(f"{type(exc).__name__}: {exc}".strip(": "))
            return False
        if not dispatched:  # desktop-notifier logs and swallows a refused notification
            self._unavailable("the notification server refused the popup")
            return False
        self.sent += 1
        if self.available is False:
            log.info("desktop notifications work again")
        self.available = True
        self.reason = None
        return True

    async def _clear(self, shown: _Shown) -> None:
        try:
            await within(self._notifier.clear(shown.identifier), SEND_TIMEOUT_S)
        except KeyError:
            # desktop-notifier forgets a D-Bus popup once a button was pressed, but a
            # server may keep showing it (dunst does): close it by the server's id.
            await _close_by_platform_id(self._notifier, shown.platform_id)
        except Exception:  # already closed by the user or the server: nothing to do
            log.debug("popup %s was already gone", shown.identifier)

    def _to_fallback(self, popup: Popup, text: PopupText) -> None:
        if self._console is not None:
            self._console(console_line(popup))
        self._fallback(text.title, text.body)

    def _unavailable(self, reason: str) -> None:
        if self.available is not False:
            log.warning(
                "desktop notifications are not available (%s); popups go to the fallback",
                reason,
            )
        self.available = False
        self.reason = reason


class _NoActions:
    """Popups without buttons (:func:`notify_once`) call no action."""

    def hang_up(self, call_uuid: str) -> None: ...
    def call_back(self, number: str) -> None: ...
    def open_contact(self, number: str) -> None: ...
    def create_event(self, call_uuid: str, number: str, direction: str) -> None: ...
    def open_call(self, call_uuid: str) -> None: ...


async def notify_once(
    title: str, body: str, fallback: Fallback | None = None, notifier: Any = None
) -> bool:
    """One message from a notifier of its own, before any popups are wired (a start
    refused early); the fallback when the desktop refuses it. True when it was shown."""
    popups = DesktopPopups(
        actions=_NoActions(),
        dnd=lambda: False,
        timeout_s=lambda: 0,
        fallback=fallback or console_fallback(),
        notifier=notifier,
    )
    await popups.start()
    try:
        return await popups.tell_now(title, body)
    finally:
        await popups.close()


def _guard(fn: Callable[[], None] | None) -> Callable[[], None] | None:
    """A popup callback that logs instead of raising into the notifier's internals."""
    if fn is None:
        return None

    def call() -> None:
        try:
            fn()
        except Exception:
            log.exception("a popup action failed")

    return call


def _platform_id(notifier: Any, identifier: str) -> Any:
    """The D-Bus backend's id of a popup (desktop-notifier keeps it in a bidict)."""
    ids = getattr(
        getattr(notifier, "_backend", None), "_platform_to_interface_notification_identifier", None
    )
    try:
        return ids.inverse.get(identifier) if ids is not None else None
    except AttributeError:
        return None


async def within(awaitable: Awaitable[T], seconds: float) -> T:
    """``asyncio.wait_for`` without its Python 3.11 flaw: a cancellation that meets the
    result is swallowed there (CPython gh-86296), and the agent's stop waits forever."""
    async with asyncio.timeout(seconds):
        return await awaitable


async def _close_by_platform_id(notifier: Any, platform_id: Any) -> None:
    interface = getattr(getattr(notifier, "_backend", None), "interface", None)
    close = getattr(interface, "call_close_notification", None)
    if platform_id is None or close is None:
        return
    with contextlib.suppress(Exception):  # gone already: the user closed it
        await within(close(platform_id), SEND_TIMEOUT_S)


async def _disconnect(notifier: Any) -> None:
    """desktop-notifier never closes its D-Bus connection: do it at the agent's exit."""
    bus = getattr(getattr(notifier, "_backend", None), "bus", None)
    if bus is None:
        return
    with contextlib.suppress(Exception):
        bus.disconnect()
        await within(bus.wait_for_disconnect(), PROBE_TIMEOUT_S)


def _make_notifier() -> Any:
    from desktop_notifier import DesktopNotifier

    if sys.platform == "win32":
        # Toasts belong to the Start-menu shortcut's AppUserModelID (installer.iss);
        # desktop-notifier names that key after app_name, so put the product name back.
        from agent import winsupport

        notifier = DesktopNotifier(app_name=winsupport.APP_USER_MODEL_ID, app_icon=None)
        with contextlib.suppress(OSError):
            winsupport.register_toast_identity()
        return notifier
    return DesktopNotifier(app_name=APP_NAME, app_icon=None)
