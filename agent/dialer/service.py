"""``services.dialer``: what the API, the window and the tray call (M6, M7, A1–A6, B3,
B10, B11; contracts.md §4).

Commands (start, pause, resume, stop, skip) go to the runtime participant and
return the dialer's view once handled; lists, missed calls and the DNC list are
the services beside it. Call from the agent's loop; from another thread (the
tray) use :meth:`DialerService.submit`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from agent.core.dialer import (
    DialerState,
)
from agent.core.dialer_io import (
    ListChanged,
    OperatorPaused,
    OperatorResumed,
    OperatorSkipped,
    OperatorStarted,
    OperatorStopped,
)
from agent.core.errors import InvalidInput
from agent.dialer.lists import AddResult, Conflict, DialListService, Mode
from agent.dialer.missed import MissedCalls
from agent.dialer.participant import DialerParticipant
from agent.dialer.progress import ListProgress
from agent.storage.dialer_repository import DialerRepository

if TYPE_CHECKING:
    from agent.storage.database import Storage

log = logging.getLogger(__name__)

PAUSE_PRESETS: Final = (5, 10, 15, 30, 60)  # A2: minutes offered; any 1..1440 may be typed
MAX_PAUSE_MIN: Final = 1440


class DialerService:
    def __init__(
        self,
        *,
        participant: DialerParticipant,
        lists: DialListService,
        missed: MissedCalls,
        storage: Storage,
        repo: DialerRepository,
        own_ext: str,
        clock: Callable[[], datetime],
        publish: Callable[[str, Any], None] = lambda topic, data: None,
        progress: ListProgress | None = None,
    ) -> None:
        self.participant = participant
        self.progress = progress  # B16: (done, total) of the list, cached
        self.lists = lists
        self.missed = missed
        self.storage = storage
        self.repo = repo
        self.own_ext = own_ext
        self.clock = clock
        self.publish = publish
        # In-process listeners (the tray): called on the agent's loop with status().
        self.change_listeners: list[Callable[[dict[str, Any]], None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    # ------------------------------------------------------------ views

    def status(self) -> dict[str, Any]:
        """The dialer's view (``GET /api/dialer``, hub topic ``dialer``)."""
        view = {**self.participant.core.view(), "pause_presets": list(PAUSE_PRESETS)}
        return self._with_progress(view)

    def _with_progress(self, view: dict[str, Any]) -> dict[str, Any]:
        """``progress`` ``{"done", "total"}`` once the dialer has a list and it was counted
        (B16; cached, never counted here: agent/dialer/progress.py); absent before."""
        progress = self.progress.json() if self.progress is not None else None
        if progress is not None:
            view["progress"] = progress
        return view

    def changed(self) -> None:
        """The dialer's view changed: the hub (topic ``dialer``) and the listeners hear."""
        status = self.status()
        self.publish("dialer", status)
        for listener in list(self.change_listeners):
            try:
                listener(status)
            except Exception:
                log.exception("dialer change listener failed")

    def brief(self) -> dict[str, Any]:
        """``status.dialer`` (contracts.md §4): state, paused_until, list_id, and the
        list's ``progress`` for the tray's tooltip (B16) once known."""
        view = self.participant.core.view()
        return self._with_progress({k: view[k] for k in ("state", "paused_until", "list_id")})

    # ------------------------------------------------------------ commands (A1–A3)

    async def start(self, list_id: int | None = None) -> dict[str, Any]:
        """Calling (M6): the named list, else the active one; it becomes the active one."""
        lst = await self.lists.resolve(list_id)
        await self.lists.activate(lst.id)
        self.participant.reconfigure()
        await self.lists.follow_sort_settings(lst)
        await self.participant.command(OperatorStarted(lst.id))
        return self.status()

    async def pause(self, minutes: float | None) -> dict[str, Any]:
        """Pause at any moment, a call in progress included (A2); None: until resumed."""
        if minutes is not None and not 0 < minutes <= MAX_PAUSE_MIN:
            raise InvalidInput(f"minutes must be 1..{MAX_PAUSE_MIN}", field="minutes")
        if self.participant.core.state is DialerState.IDLE:
            raise Conflict("the dialer is not running", field="state")
        until = self.clock() + timedelta(minutes=minutes) if minutes is not None else None
        await self.participant.command(OperatorPaused(until))
        return self.status()

    async def resume(self) -> dict[str, Any]:
        await self.participant.command(OperatorResumed())
        return self.status()

    async def stop(self) -> dict[str, Any]:
        """Stop from any state, paused included (A3); a call in progress is not cut."""
        await self.participant.command(OperatorStopped())
        return self.status()

    async def skip(self) -> dict[str, Any]:
        """Skip the entry being called (a ringing call is hung up; a talk is not cut),
        else the one the dialer would call next."""
        call = self.participant.core.call
        if call is not None and call.entry.id:
            await self.storage.run(self.repo.skip_entry, call.entry.id)
            await self.participant.command(OperatorSkipped())
            self.list_changed(call.entry.list_id)
            return self.status()
        lst = await self.lists.resolve(self.participant.core.list_id)
        upcoming = await self.participant.peek(lst.id)
        if upcoming is None:
            raise Conflict("nothing to skip: no entry is due", field="state")
        await self.lists.skip_entry(upcoming.id)
        return self.status()

    def submit(self, coro: Coroutine[Any, Any, Any]) -> Future[Any]:
        """For other threads (the tray): run a command on the agent's loop."""
        if self._loop is None:
            raise RuntimeError("the dialer is not attached to a running loop")
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    # ------------------------------------------------------------ lists

    def list_changed(self, list_id: int) -> None:
        """Entries were added, moved, skipped…: the dialer looks again, the window redraws
        (hub topic ``dialer`` with ``list_changed``)."""
        self.participant.post(ListChanged(list_id))
        if self.progress is not None:
            self.progress.stale(list_id)
        self.publish("dialer", {**self.status(), "list_changed": list_id})

    async def fill_missed(self, list_id: int, mode: Mode, *, from_pbx: bool) -> AddResult:
        """M6 «Пропущенными» / M7: numbers of unhandled missed calls."""
        candidates = await self.missed.candidates(from_pbx=from_pbx)
        return await self.lists.store(list_id, candidates, mode, AddResult())

    async def delete_list(self, list_id: int) -> None:
        await self.lists.get(list_id)
        if self.participant.core.list_id == list_id:
            await self.stop()
        await self.lists.delete(list_id)
        if self.progress is not None:
            self.progress.stale(list_id)

    # ------------------------------------------------------------ do not call (B3)

    async def dnc_add(self, raw: str, reason: str | None) -> dict[str, Any]:
        number = self.missed.number_of(raw)
        marked = await self.storage.run(
            self.repo.dnc_add, number, reason, self.own_ext, self.clock()
        )
        if self.participant.core.list_id is not None:
            self.list_changed(self.participant.core.list_id)
        return {"number": number, "reason": reason, "entries_marked": marked}

    async def dnc_remove(self, raw: str) -> bool:
        removed = await self.storage.run(self.repo.dnc_remove, self.missed.number_of(raw))
        if self.participant.core.list_id is not None:
            self.list_changed(self.participant.core.list_id)
        return removed

    async def dnc_page(self, limit: int, offset: int) -> list[dict[str, Any]]:
        rows = await self.storage.run(self.repo.dnc_page, limit, offset)
        return [
            {"number": n, "reason": r, "added_by": by, "added_at": at.isoformat()}
            for n, r, by, at in rows
        ]
