"""Keeps the tray showing the truth (U3, B16): a :class:`TrayView` from the agent's state.

Runs on the agent's loop. The view is recomputed when the runtime says its state
changed, when a call's outcome is known (today's figures, the missed badge), and on
a one-second tick (the live link's "connecting", DND and pause timers, midnight);
the tray is told only when the view differs from the last one it got.

The missed-calls badge counts today's unhandled missed calls from the dialer's
missed-calls service when it is there (B10: handled once called back), else today's
unanswered incoming calls of the journal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, tzinfo
from typing import Any, Protocol

from agent.core.journal import JournalEntry
from agent.desktop.view import (
    DayFigures,
    JobView,
    TrayView,
    day_figures,
    day_start,
    dialer_view,
    lines_view,
    recent_numbers,
)

log = logging.getLogger(__name__)

TICK_S = 1.0
PAGE = 500


class JournalPages(Protocol):
    async def page(
        self, *, limit: int, offset: int, since: datetime | None, operator_ext: str | None
    ) -> tuple[list[JournalEntry], int | None]: ...


class StatePort(Protocol):
    recent_numbers: list[str]
    dnd_code: str

    def status(self) -> dict[str, Any]: ...


class TrayFeed:
    def __init__(
        self,
        *,
        runtime: StatePort,
        journal: JournalPages,
        own_ext: str,
        link: Callable[[], tuple[str, bool, str | None]],  # (link, connect_wanted, problem)
        has_dialer: Callable[[], bool],
        completed_talk_s: Callable[[], int],
        tz: Callable[[], tzinfo],
        show: Callable[[TrayView], None],
        missed: Callable[[datetime], Awaitable[int | None]] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        language: Callable[[], str] = lambda: "en",
        jobs: Callable[[], tuple[JobView, ...]] = lambda: (),
    ) -> None:
        self.runtime = runtime
        self._jobs = jobs
        self.journal = journal
        self.own_ext = own_ext
        self._link = link
        self._has_dialer = has_dialer
        self._completed_talk_s = completed_talk_s
        self._tz = tz
        self._show = show
        self._missed = missed
        self._clock = clock
        self._language = language
        self._wake = asyncio.Event()
        self._journal_stale = True
        self._figures = DayFigures()
        self._journal_recent: list[JournalEntry] = []
        self._day: datetime | None = None
        self._task: asyncio.Task[None] | None = None
        self.last: TrayView | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="tray-feed")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def changed(self) -> None:
        """The runtime's state listener: something the tray shows may differ now."""
        self._wake.set()

    def journal_changed(self, *_: Any) -> None:
        """An outcome listener: a call finished, so today's figures move."""
        self._journal_stale = True
        self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:
                log.exception("the tray's state could not be computed")
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow the cancellation
            # close() sends when it meets the tick (CPython gh-86296), and this task then
            # never ends: Quit hung with it (seen about once in 15 stops).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(TICK_S):
                    await self._wake.wait()
            self._wake.clear()

    async def refresh(self) -> TrayView:
        now = self._clock()
        start = day_start(now, self._tz())
        if start != self._day:
            self._day, self._journal_stale = start, True
        if self._journal_stale:
            self._journal_stale = False
            await self._read_journal(start)
        view = self.view()
        if view != self.last:
            self.last = view
            self._show(view)
        return view

    async def _read_journal(self, since: datetime) -> None:
        today: list[JournalEntry] = []
        offset = 0
        while True:
            rows, _ = await self.journal.page(
                limit=PAGE, offset=offset, since=since, operator_ext=self.own_ext
            )
            today += rows
            if len(rows) < PAGE:
                break
            offset += len(rows)
        self._figures = day_figures(today, since=since, completed_talk_s=self._completed_talk_s())
        if self._missed is not None:
            # B10: a missed call called back (or answered later) is handled: no badge.
            try:
                unhandled = await self._missed(since)
            except Exception:
                log.exception("the unhandled missed calls could not be counted")
            else:
                if unhandled is not None:
                    self._figures = replace(self._figures, missed=unhandled)
        recent, _ = await self.journal.page(
            limit=50, offset=0, since=None, operator_ext=self.own_ext
        )
        self._journal_recent = recent

    def view(self) -> TrayView:
        status = self.runtime.status()
        link, wanted, problem = self._link()
        dnd = status.get("dnd") or {}
        until = dnd.get("until")
        return TrayView(
            extension=str(status.get("extension") or self.own_ext),
            link=link,
            connect_wanted=wanted,
            dnd=bool(dnd.get("on")),
            dnd_until=datetime.fromisoformat(until) if isinstance(until, str) else None,
            dnd_available=bool(self.runtime.dnd_code),
            lines=lines_view(status.get("lines") or ()),
            dialer=dialer_view(status.get("dialer"), self._has_dialer()),
            jobs=self._jobs(),
            figures=self._figures,
            recent=recent_numbers(self.runtime.recent_numbers, self._journal_recent),
            problem=problem,
            language=self._language(),
        )
