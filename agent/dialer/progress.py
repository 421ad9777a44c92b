"""How far the dialer is through its list, for the tray's tooltip and the status (B16).

``status.dialer.progress`` is ``{"done": N, "total": M}`` for the dialer's list (the
one it runs, or ran last): ``total`` its entries, ``done`` those no longer to be
called (done, exhausted, skipped, do-not-call — everything but pending, postponed
and the entry being called). ``runtime.status()`` is read on every state change and
every second by the tray, so it never counts: it returns the cached figures.

- After a list change (an import, a skip, a DNC number, another list…) the whole
  list is counted again on the storage worker, at most one count at a time and once
  more if asked meanwhile: at 1M entries ~0.15 s on SQLite, ~0.3 s on PostgreSQL.
- After a call's outcome only the entry's group is counted, before and after the
  outcome is written (the entry and the other numbers of its contact, which U6 may
  finish with it: a few rows through an index), and the cached figures move by the
  difference — so auto-dialling a 1M list costs no full count per call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from agent.core.dial_list import DialEntry
    from agent.storage.database import Storage
    from agent.storage.dialer_repository import DialerRepository

log = logging.getLogger(__name__)

# One statement, so the three counts are of one moment. The pickable count's words are
# the partial indexes' own (m0020_dialer.py: PICKABLE), so SQLite counts both from an
# index (PostgreSQL may prefer a parallel scan of the table); the entry being called is
# found through the open attempts' partial index.
PROGRESS_SQL: Final = (
    "SELECT "
    "(SELECT COUNT(*) FROM dial_entries WHERE list_id = ?), "
    "(SELECT COUNT(*) FROM dial_entries WHERE list_id = ? AND state IN ('pending', 'postponed')), "
    "(SELECT COUNT(*) FROM dial_entries WHERE state = 'calling' AND id IN ("
    "SELECT entry_id FROM dial_attempts "
    "WHERE operator_ext = ? AND outcome IS NULL AND list_id = ?))"
)


# The entries one outcome may change: the entry and the rest of its group, as
# agent/storage/dialer_repository.py ``_whole_contact`` names it (its contact's other
# numbers; with no contact, the same number). Both through an index of m0020_dialer.py.
GROUP_SQL: Final = (
    "SELECT COUNT(*), COALESCE(SUM(CASE WHEN state IN ('pending', 'postponed', 'calling') "
    "THEN 1 ELSE 0 END), 0) FROM dial_entries WHERE list_id = ? AND {which} = ?"
)


def group_counts(repo: DialerRepository, entry: DialEntry) -> tuple[int, int]:
    """(entries, still to call) of the entry's group in its list."""
    which, value = (
        ("contact_id", entry.contact_id)
        if entry.contact_id is not None
        else ("number", entry.number)
    )
    total, remaining = repo.rows(GROUP_SQL.format(which=which), (entry.list_id, value))[0]
    return int(total), int(remaining)


def measured(
    repo: DialerRepository, entry: DialEntry, write: Callable[[], None]
) -> tuple[int, int] | None:
    """Run ``write`` (an attempt's end, on the storage worker) between two counts of the
    entry's group: how it moved (entries, still to call); None when a count failed (the
    write is what matters: it runs all the same, and the list is counted later)."""
    try:
        total, remaining = group_counts(repo, entry)
    except Exception as exc:
        log.warning("dial list progress: the group was not counted: %s", exc)
        write()
        return None
    write()
    try:
        total_after, remaining_after = group_counts(repo, entry)
    except Exception as exc:
        log.warning("dial list progress: the group was not counted: %s", exc)
        return None
    return total_after - total, remaining_after - remaining


def count_progress(repo: DialerRepository, list_id: int, operator_ext: str) -> tuple[int, int]:
    """(done, total) of one list, on the storage worker."""
    total, pickable, calling = repo.rows(PROGRESS_SQL, (list_id, list_id, operator_ext, list_id))[0]
    total = int(total)
    return max(total - int(pickable) - int(calling), 0), total


class ListProgress:
    """The cached (done, total) of the dialer's list; :meth:`stale` asks for a recount,
    :meth:`moved` applies an outcome's change.

    Create and use on the agent's loop. ``list_id`` names the list to follow (the
    dialer core's); ``changed`` is called after a count that moved the figures.
    """

    def __init__(
        self,
        *,
        storage: Storage,
        repo: DialerRepository,
        operator_ext: str,
        list_id: Callable[[], int | None],
        changed: Callable[[], None] = lambda: None,
    ) -> None:
        self.storage = storage
        self.repo = repo
        self.operator_ext = operator_ext
        self._list_id = list_id
        self._changed = changed
        self._counted: tuple[int, int, int] | None = None  # (list id, done, total)
        self._dirty = False
        self._task: asyncio.Task[None] | None = None
        self.counts = 0  # how many counts ran (tests, the bench)

    def json(self) -> dict[str, int] | None:
        """``{"done", "total"}`` of the dialer's list as last counted; None before the
        first count of it (one is started) or when the dialer never had a list."""
        list_id = self._list_id()
        if list_id is None:
            return None
        counted = self._counted
        if counted is None or counted[0] != list_id:
            if not self._counting():  # one is under way: its end tells (``changed``)
                self.stale()
            return None
        return {"done": counted[1], "total": counted[2]}

    def _counting(self) -> bool:
        return self._dirty or (self._task is not None and not self._task.done())

    def stale(self, list_id: int | None = None) -> None:
        """The entries of ``list_id`` (None: of any list) may have changed: count again
        (soon, off this task; one count at a time)."""
        if list_id is not None and list_id != self._list_id():
            return
        self._dirty = True
        if self._task is None or self._task.done():
            with contextlib.suppress(RuntimeError):  # no running loop: at exit
                self._task = asyncio.get_running_loop().create_task(
                    self._count(), name="dial-list-progress"
                )

    def moved(self, list_id: int, change: tuple[int, int] | None) -> None:
        """An outcome moved the list's entries by ``change`` (entries, still to call;
        from :func:`measured`): the cached figures follow without counting the list.
        None (not measured): the list is counted again."""
        counted = self._counted
        if change is None or counted is None or counted[0] != list_id or self._counting():
            self.stale(list_id)  # a count under way may or may not have seen the change
            return
        total, remaining = change
        if total == remaining == 0:
            return
        _, done_before, total_before = counted
        done = max(done_before + total - remaining, 0)
        self._counted = (list_id, done, max(total_before + total, 0))
        self._tell()

    def _tell(self) -> None:
        try:
            self._changed()
        except Exception:
            log.exception("dial list progress listener failed")

    async def _count(self) -> None:
        while self._dirty:
            self._dirty = False
            list_id = self._list_id()
            if list_id is None:
                return
            try:
                done, total = await self.storage.run(
                    count_progress, self.repo, list_id, self.operator_ext
                )
            except Exception as exc:  # the database is away: the tooltip waits for it
                log.warning("dial list progress not counted: %s", exc)
                return
            self.counts += 1
            before, self._counted = self._counted, (list_id, done, total)
            if before != self._counted:
                self._tell()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
