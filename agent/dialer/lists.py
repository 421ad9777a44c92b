"""The dial lists (M6): several per operator, one active; entries added by hand, from a
file, from planned events, from contacts or from missed calls; moved, skipped,
deleted, sorted by ABC class.

An adapter over storage (agent/storage/dialer_repository.py) and the contacts port
(agent/dialer/ports.py). Files go through the foundation's readers and table plan
(agent/files, agent/core/table_plan.py): every rejected row is reported with its
row, column and reason (contracts.md §4), and never stops the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal

from agent.core.calling_hours import CallingWindow, is_open, next_opening
from agent.core.dial_list import DialEntry, EntryState, abc_order, shown_state, sort_key
from agent.core.errors import InvalidInput
from agent.core.numbers import to_e164
from agent.core.table_plan import (
    Rejection,
)
from agent.dialer.ports import ContactDirectory, ContactPhones, ContactRef
from agent.dialer.zones import NumberZones, tz
from agent.storage.dialer_repository import DialerRepository, DialList, NewEntry

if TYPE_CHECKING:
    from agent.dialer.participant import SettingsSource
    from agent.storage.database import Storage

Mode = Literal["append", "replace"]
MAX_PAGE: Final = 500
FULL_MATCH_ROWS: Final = 1000
DEFAULT_LIST_NAME: Final = "Main"


class NotFound(InvalidInput):
    """An id that names nothing of this operator's (404 at the API)."""

    message_key = "error.not_found"


class Conflict(InvalidInput):
    """The dialer's state does not allow it now (409 at the API)."""

    message_key = "dialer.conflict"


@dataclass(frozen=True, slots=True)
class Candidate:
    """A number someone wants in the list, before the checks."""

    row: int
    column: str
    number: str  # E.164
    contact_id: int | None = None
    name: str | None = None
    detail: str | None = None
    planned_event: str | None = None
    next_dial_at: datetime | None = None
    contact: ContactRef | None = None


@dataclass(slots=True)
class NumberRows:
    """A file's good rows as columns (the file import, agent/dialer/file_import.py):
    the row number, the E.164 number, and the file's name and detail for it. Plain
    lists, no object a row: 100k rows (issue 5)."""

    rows: list[int] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)
    names: list[str | None] = field(default_factory=list)
    details: list[str | None] = field(default_factory=list)
    column: str = "number"  # the number column's label, for rejections

    def __len__(self) -> int:
        return len(self.numbers)

    def extend(
        self,
        rows: Sequence[int],
        column: str,
        numbers: Sequence[str],
        names: Sequence[str | None],
        details: Sequence[str | None],
    ) -> None:
        self.column = column
        self.rows += rows
        self.numbers += numbers
        self.names += names
        self.details += details

    def take(self, count: int) -> NumberRows:
        """The first ``count`` rows, removed from these."""
        taken = NumberRows(
            self.rows[:count],
            self.numbers[:count],
            self.names[:count],
            self.details[:count],
            self.column,
        )
        del self.rows[:count], self.numbers[:count], self.names[:count], self.details[:count]
        return taken

    def pick(self, places: Sequence[int]) -> NumberRows:
        """The rows at these places, in this order."""
        return NumberRows(
            [self.rows[i] for i in places],
            [self.numbers[i] for i in places],
            [self.names[i] for i in places],
            [self.details[i] for i in places],
            self.column,
        )


@dataclass(slots=True)
class AddResult:
    accepted: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    def json(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "rejected": [
                {"row": r.row, "column": r.column, "reason": r.reason} for r in self.rejected
            ],
        }


class DialListService:
    def __init__(
        self,
        *,
        storage: Storage,
        repo: DialerRepository,
        settings: SettingsSource,
        own_ext: str,
        directory: Callable[[], ContactDirectory],
        clock: Callable[[], datetime],
        changed: Callable[[int], None],
    ) -> None:
        self.storage = storage
        self.repo = repo
        self.settings = settings
        self.own_ext = own_ext
        self.directory = directory
        self.clock = clock
        self.changed = changed
        self._zones = NumberZones()

    def zones(self) -> NumberZones:
        """Zones by number, for the team's zone as the settings say now."""
        team_zone = self.settings.team.time_zone
        if self._zones.team_zone != team_zone:
            self._zones = NumberZones(team_zone)
        return self._zones

    @property
    def region(self) -> str:
        return self.settings.team.default_region or "UA"

    @property
    def _active_key(self) -> str:
        return f"dialer.active_list/{self.own_ext}"

    # ------------------------------------------------------------ lists

    async def lists(self) -> list[dict[str, Any]]:
        found = await self.storage.run(self.repo.lists, self.own_ext)
        counts = await self.storage.run(self.repo.counts, [lst.id for lst in found])
        active = await self.storage.run(self.storage.kv.get, self._active_key)
        return [
            {
                "id": lst.id,
                "name": lst.name,
                "active": lst.id == active,
                "created_at": lst.created_at.isoformat(),
                "total": sum(counts[lst.id].values()),
                "counts": counts[lst.id],
            }
            for lst in found
        ]

    async def create(self, name: str, *, activate: bool = False) -> DialList:
        name = name.strip()
        if not name or len(name) > 200:
            raise InvalidInput("a list name is 1..200 characters", field="name")
        list_id = await self.storage.run(self.repo.create_list, self.own_ext, name, self.clock())
        if activate:
            await self.activate(list_id)
        return await self.get(list_id)

    async def get(self, list_id: int) -> DialList:
        found = await self.storage.run(self.repo.get_list, list_id)
        if found is None or found.owner_ext != self.own_ext:
            raise NotFound(f"no dial list {list_id}", field="list")
        return found

    async def rename(self, list_id: int, name: str) -> DialList:
        await self.get(list_id)
        if not name.strip() or len(name) > 200:
            raise InvalidInput("a list name is 1..200 characters", field="name")
        await self.storage.run(self.repo.rename_list, list_id, name.strip())
        return await self.get(list_id)

    async def delete(self, list_id: int) -> None:
        await self.get(list_id)
        await self.storage.run(self.repo.delete_list, list_id)
        if await self.storage.run(self.storage.kv.get, self._active_key) == list_id:
            await self.storage.run(self.storage.kv.delete, self._active_key)

    async def activate(self, list_id: int) -> None:
        await self.get(list_id)
        await self.storage.run(self.storage.kv.set, self._active_key, list_id)

    async def resolve(self, list_id: int | None) -> DialList:
        """The list named, else the active one (made, named "Main", when there is none)."""
        if list_id is not None:
            return await self.get(list_id)
        active = await self.storage.run(self.storage.kv.get, self._active_key)
        if isinstance(active, int):
            found = await self.storage.run(self.repo.get_list, active)
            if found is not None and found.owner_ext == self.own_ext:
                return found
        existing = await self.storage.run(self.repo.lists, self.own_ext)
        if existing:
            await self.activate(existing[0].id)
            return existing[0]
        return await self.create(DEFAULT_LIST_NAME, activate=True)

    # ------------------------------------------------------------ the entries view

    async def page(self, list_id: int, limit: int, offset: int) -> dict[str, Any]:
        lst = await self.get(list_id)
        limit = min(max(limit, 1), MAX_PAGE)
        entries = await self.storage.run(self.repo.page, list_id, limit, offset)
        total = await self.storage.run(self.repo.count, list_id)
        dnc = await self.storage.run(self.repo.dnc_contains, [e.number for e in entries])
        now = self.clock()
        items = [self.entry_json(e, offset + i + 1, now, dnc) for i, e in enumerate(entries)]
        next_offset = offset + len(items) if offset + len(items) < total else None
        return {
            "items": items,
            "total": total,
            "next_offset": next_offset,
            "list": {"id": lst.id, "name": lst.name},
            "sort_field": self.settings.operator.sort_field or None,
        }

    def entry_json(
        self, entry: DialEntry, ordinal: int, now: datetime, dnc: set[str]
    ) -> dict[str, Any]:
        """contracts.md §4 dial-list entry, with why it waits (B3) and the sort value."""
        team = self.settings.team
        window = CallingWindow.from_setting(team.calling_window)
        zone = tz(entry.zone or team.time_zone)
        shown = shown_state(
            entry,
            now,
            window_open=is_open(window, zone, now),
            opens_at=next_opening(window, zone, now),
            window_text=f"{window.describe()} {entry.zone or team.time_zone}" if window else "",
            on_dnc=entry.number in dnc,
        )
        contact = None
        if entry.contact_id is not None or entry.contact_name:
            contact = {"id": entry.contact_id, "name": entry.contact_name}
        return {
            "id": entry.id,
            "position": ordinal,
            "number": entry.number,
            "contact": contact,
            "detail": entry.detail,
            "next_dial_at": entry.next_dial_at.isoformat(),
            "attempts": entry.attempts,
            "state": shown.state.value,
            "reason": shown.reason,
            "last_outcome": entry.last_outcome,
            "last_attempt_at": entry.last_attempt_at.isoformat() if entry.last_attempt_at else None,
            "sort_value": entry.sort_value,
            "planned_event": entry.planned_event,
            "time_zone": entry.zone or team.time_zone,
        }

    # ------------------------------------------------------------ adding

    async def add_items(
        self, list_id: int, items: Sequence[Mapping[str, Any]], mode: Mode
    ) -> AddResult:
        """``POST /api/dial-list``: ``{"number", "contact_id"?}`` each; a contact id alone
        adds every number of that contact (M6 «fill from the contact list»)."""
        result = AddResult()
        candidates: list[Candidate] = []
        by_contact: list[tuple[int, int]] = []  # (row, contact id) with no number
        for row, item in enumerate(items, start=1):
            raw, cid = item.get("number"), item.get("contact_id")
            if cid is not None and (
                not isinstance(cid, int) or isinstance(cid, bool) or not 1 <= cid <= 2**62
            ):
                result.rejected.append(Rejection(row, "contact_id", "not a contact id"))
                continue
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                if cid is None:
                    result.rejected.append(Rejection(row, "number", "empty required field"))
                else:
                    by_contact.append((row, cid))
                continue
            e164 = to_e164(raw, self.region) if isinstance(raw, str) else None
            if e164 is None:
                result.rejected.append(
                    Rejection(row, "number", f"not a phone number: {str(raw)[:40]!r}")
                )
                continue
            detail = item.get("detail")
            candidates.append(
                Candidate(
                    row,
                    "number",
                    e164,
                    contact_id=cid,
                    detail=detail if isinstance(detail, str) else None,
                )
            )
        named = {c.contact_id for c in candidates if c.contact_id is not None}
        if named:  # a number naming a contact that is not there (deleted, mistyped)
            known = await self.directory().contacts(sorted(named))
            for c in candidates:
                if c.contact_id is not None and c.contact_id not in known:
                    result.rejected.append(
                        Rejection(c.row, "contact_id", f"no contact {c.contact_id}")
                    )
            candidates = [c for c in candidates if c.contact_id is None or c.contact_id in known]
        candidates += await self._contact_numbers(by_contact, result)
        return await self.store(list_id, candidates, mode, result)

    async def add_contacts(self, list_id: int, contact_ids: Sequence[int], mode: Mode) -> AddResult:
        result = AddResult()
        rows = list(enumerate(contact_ids, start=1))
        return await self.store(list_id, await self._contact_numbers(rows, result), mode, result)

    async def _contact_numbers(
        self, rows: Sequence[tuple[int, int]], result: AddResult
    ) -> list[Candidate]:
        if not rows:
            return []
        found = await self.directory().contacts([cid for _, cid in rows])
        out: list[Candidate] = []
        for row, cid in rows:
            phones = found.get(cid)
            if phones is None:
                result.rejected.append(Rejection(row, "contact_id", f"no contact {cid}"))
                continue
            numbers = [(to_e164(n, self.region), d) for n, d in phones.numbers]
            valid = [(n, d) for n, d in numbers if n is not None]
            if not valid:
                result.rejected.append(Rejection(row, "contact_id", "the contact has no number"))
            for number, detail in valid:
                assert number is not None
                out.append(
                    Candidate(row, "contact_id", number, cid, detail=detail, contact=phones.contact)
                )
        return out

    async def add_planned(
        self, list_id: int, until: datetime, mode: Mode, *, team: bool = False
    ) -> AddResult:
        """M6 «Заполнить / Добавить из запланированных»: planned events due by ``until``.
        The operator fills their own list (manual §6): their own events and those of no
        operator; ``team`` takes every operator's."""
        result = AddResult()
        operator = None if team else self.own_ext
        planned = await self.directory().planned_calls(until, operator_ext=operator)
        candidates = []
        for row, call in enumerate(planned, start=1):
            e164 = to_e164(call.number, self.region)
            if e164 is None:
                result.rejected.append(
                    Rejection(row, "number", f"not a phone number: {call.number[:40]!r}")
                )
                continue
            contact = call.contact
            candidates.append(
                Candidate(
                    row,
                    "number",
                    e164,
                    contact.id if contact else None,
                    planned_event=call.event_id,
                    next_dial_at=call.planned_at,
                    contact=contact,
                )
            )
        return await self.store(list_id, candidates, mode, result)

    async def import_file(
        self,
        list_id: int,
        data: bytes,
        filename: str,
        *,
        mapping: dict[str, str] | None,
        mode: Mode,
        preview: bool,
        progress: Callable[[dict[str, Any]], None] | None = None,
    ) -> AddResult:
        """M6 «Загрузить из файла»: agent/dialer/file_import.py. ``progress`` hears
        how far it is (hub topic ``import``), from the import's thread too."""
        from agent.dialer.file_import import import_file, no_progress

        return await import_file(
            self,
            list_id,
            data,
            filename,
            mapping=mapping,
            mode=mode,
            preview=preview,
            progress=progress or no_progress,
        )

    async def store(
        self,
        list_id: int,
        candidates: Sequence[Candidate],
        mode: Mode,
        result: AddResult,
        *,
        preview: bool = False,
    ) -> AddResult:
        """Check, match and write candidates: duplicates and numbers already in the list
        are rejected rows; DNC numbers go in as ``dnc`` (B3: visible, never dialled)."""
        batches = Batches(self, await self.get(list_id), mode, result, preview=preview)
        await batches.begin()
        await batches.feed(candidates)
        return batches.end()

    async def _entries(self, fresh: Sequence[Candidate], lst: DialList) -> list[NewEntry]:
        directory = self.directory()
        unmatched = [c.number for c in fresh if c.contact is None and c.contact_id is None]
        # The contact's own detail and attributes are read only when a sort field needs
        # them or the batch is small (a 100k-row file takes the file's detail column).
        full = bool(lst.sort_field) or len(unmatched) <= FULL_MATCH_ROWS
        matched = await directory.match_numbers(unmatched, full=full) if unmatched else {}
        given_ids = sorted({c.contact_id for c in fresh if c.contact is None and c.contact_id})
        given = await directory.contacts(given_ids) if given_ids else {}
        dnc = await self.storage.run(self.repo.dnc_contains, [c.number for c in fresh])
        field_name, descending = lst.sort_field, lst.sort_descending
        zone_of = self.zones()
        out = []
        for c in fresh:
            contact = c.contact or matched.get(c.number)
            detail = c.detail
            if contact is None and c.contact_id is not None and c.contact_id in given:
                contact = given[c.contact_id].contact
                # The detail of this number in the contact; none when the contact lacks
                # it (never another number's kind or person, M6).
                detail = detail or self._detail_of(given[c.contact_id], c.number)
            value = contact.attributes.get(field_name) if contact and field_name else None
            out.append(
                NewEntry(
                    number=c.number,
                    contact_id=contact.id if contact else c.contact_id,
                    contact_name=contact.name if contact else c.name,
                    detail=detail or (contact.detail if contact else None),
                    planned_event=c.planned_event,
                    sort_value=None if value is None else str(value),
                    sort_key=sort_key(value, descending) if field_name else "",
                    zone=zone_of(c.number),
                    next_dial_at=c.next_dial_at,
                    state=EntryState.DNC if c.number in dnc else EntryState.PENDING,
                )
            )
        return out

    async def _number_entries(self, chunk: NumberRows, lst: DialList) -> list[NewEntry]:
        """What :meth:`_entries` makes of numbers that come with no contact (a file's),
        as columns: the same entries, ~1 µs a row instead of ~5 (issue 5)."""
        numbers = chunk.numbers
        full = bool(lst.sort_field) or len(numbers) <= FULL_MATCH_ROWS
        matched = await self.directory().match_numbers(numbers, full=full)
        dnc = await self.storage.run(self.repo.dnc_contains, numbers)
        field_name, descending = lst.sort_field, lst.sort_descending
        zone_of = self.zones()
        missing = sort_key(None, descending) if field_name else ""
        pending, on_dnc = EntryState.PENDING, EntryState.DNC

        def of_contact(number: str, contact: ContactRef, detail: str | None) -> NewEntry:
            value = contact.attributes.get(field_name) if field_name else None
            return NewEntry(
                number,
                contact.id,
                contact.name,
                detail or contact.detail,
                None,
                None if value is None else str(value),
                sort_key(value, descending) if field_name else "",
                zone_of(number),
                None,
                on_dnc if number in dnc else pending,
            )

        found = matched.get
        return [
            NewEntry(
                number,
                None,
                name,
                detail,
                None,
                None,
                missing,
                zone_of(number),
                None,
                on_dnc if number in dnc else pending,
            )
            if (contact := found(number)) is None
            else of_contact(number, contact, detail)
            for number, name, detail in zip(numbers, chunk.names, chunk.details, strict=True)
        ]

    def _detail_of(self, phones: ContactPhones, number: str) -> str | None:
        return next(
            (d for n, d in phones.numbers if n == number or to_e164(n, self.region) == number),
            None,
        )

    # ------------------------------------------------------------ order (U6, M6)

    async def follow_sort_settings(self, lst: DialList) -> DialList:
        """The list's sort keys follow the operator's extra sort field (U6)."""
        op = self.settings.operator
        if (lst.sort_field, lst.sort_descending) == (op.sort_field, op.sort_descending):
            return lst
        await self.refresh_sort(lst.id)
        return await self.get(lst.id)

    async def refresh_sort(self, list_id: int) -> None:
        op = self.settings.operator
        field_name, descending = op.sort_field, op.sort_descending
        entries = await self.storage.run(self.repo.all_entries, list_id)
        ids = sorted({e.contact_id for e in entries if e.contact_id is not None})
        found = await self.directory().contacts(ids) if ids and field_name else {}
        keys: list[tuple[str | None, str, int]] = []
        for e in entries:
            phones = found.get(e.contact_id) if e.contact_id is not None else None
            value = phones.contact.attributes.get(field_name) if phones and field_name else None
            shown = None if value is None else str(value)
            keys.append((shown, sort_key(value, descending) if field_name else "", e.id))
        await self.storage.run(self.repo.set_sort, list_id, field_name, descending, keys)
        self.changed(list_id)

    async def sort_abc(self, list_id: int, *, descending: bool) -> None:
        """M6 «АВС-классификация»: re-number the list by the contacts' ABC classes."""
        await self.get(list_id)
        entries = await self.storage.run(self.repo.all_entries, list_id)
        ids = sorted({e.contact_id for e in entries if e.contact_id is not None})
        classes = await self.directory().abc_classes(ids) if ids else {}
        ordered = abc_order(entries, classes, descending=descending)
        await self.storage.run(self.repo.set_positions, ordered)
        self.changed(list_id)

    # ------------------------------------------------------------ one entry

    async def entry(self, entry_id: int) -> DialEntry:
        found = await self.storage.run(self.repo.get_entry, entry_id)
        if found is None:
            raise NotFound(f"no dial-list entry {entry_id}", field="id")
        await self.get(found.list_id)
        return found

    async def move(self, entry_id: int, *, up: bool) -> bool:
        entry = await self.entry(entry_id)
        moved = await self.storage.run(self.repo.move, entry_id, up)
        if moved:
            self.changed(entry.list_id)
        return moved

    async def delete_entry(self, entry_id: int) -> None:
        entry = await self.entry(entry_id)
        if entry.state is EntryState.CALLING:
            raise Conflict("the entry is being called; skip it or wait", field="id")
        await self.storage.run(self.repo.delete_entry, entry_id)
        self.changed(entry.list_id)

    async def skip_entry(self, entry_id: int) -> DialEntry:
        entry = await self.entry(entry_id)
        if not await self.storage.run(self.repo.skip_entry, entry_id):
            raise Conflict(f"a {entry.state.value} entry cannot be skipped", field="id")
        self.changed(entry.list_id)
        return await self.entry(entry_id)


class Batches:
    """Candidates checked and written batch by batch: duplicates are caught across
    batches; in replace mode the list is cleared once, before the first write.

    ``keep_unless_written`` (a file import): replace mode clears the list only once a
    good row is about to be written, so a file whose every row is refused leaves the
    list, its attempts and postponements as they were (F8)."""

    def __init__(
        self,
        lists: DialListService,
        lst: DialList,
        mode: Mode,
        result: AddResult,
        *,
        preview: bool,
        keep_unless_written: bool = False,
    ) -> None:
        self.lists = lists
        self.lst = lst
        self.mode = mode
        self.result = result
        self.preview = preview
        self.first: dict[str, int] = {}
        self.wrote = False
        self.keep_unless_written = keep_unless_written
        self.clear_first = False

    async def begin(self) -> None:
        if self.preview:
            return
        lists = self.lists
        if self.mode == "replace":
            if self.keep_unless_written:
                self.clear_first = True
            else:
                await lists.storage.run(lists.repo.clear_list, self.lst.id)
                self.wrote = True
        self.lst = await lists.follow_sort_settings(self.lst)

    async def feed(self, candidates: Sequence[Candidate]) -> None:
        lists, result = self.lists, self.result
        fresh: list[Candidate] = []
        for c in candidates:
            seen = self.first.get(c.number)
            if seen is not None:
                result.rejected.append(Rejection(c.row, c.column, f"duplicate of row {seen}"))
                continue
            self.first[c.number] = c.row
            fresh.append(c)
        existing = await self._listed([c.number for c in fresh])
        if existing:
            result.rejected += [
                Rejection(c.row, c.column, "already in the list")
                for c in fresh
                if c.number in existing
            ]
            fresh = [c for c in fresh if c.number not in existing]
        result.accepted += len(fresh)
        if self.preview or not fresh:
            return
        await self._write(await lists._entries(fresh, self.lst))

    async def feed_numbers(self, chunk: NumberRows) -> None:
        """A file's rows (agent/dialer/file_import.py), already without repeated
        numbers: the file import drops those as it reads, the whole file through."""
        lists, result = self.lists, self.result
        existing = await self._listed(chunk.numbers)
        if existing:
            result.rejected += [
                Rejection(row, chunk.column, "already in the list")
                for row, number in zip(chunk.rows, chunk.numbers, strict=True)
                if number in existing
            ]
            chunk = chunk.pick([i for i, n in enumerate(chunk.numbers) if n not in existing])
        result.accepted += len(chunk)
        if self.preview or not len(chunk):
            return
        await self._write(await lists._number_entries(chunk, self.lst))

    async def _listed(self, numbers: Sequence[str]) -> set[str]:
        """In append mode, which of these numbers the list has already."""
        if self.mode != "append" or not numbers:
            return set()
        lists = self.lists
        found: set[str] = await lists.storage.run(lists.repo.existing_numbers, self.lst.id, numbers)
        return found

    async def _write(self, entries: list[NewEntry]) -> None:
        lists = self.lists
        # A deferred clear (keep_unless_written) goes in the first write's transaction:
        # the list is never seen empty between the two.
        replace, self.clear_first = self.clear_first, False
        await lists.storage.run(
            lists.repo.add_entries, self.lst.id, entries, lists.clock(), replace=replace
        )
        self.wrote = True

    def announce(self) -> None:
        """Tell the window and the dialer the list changed, if anything was written
        (also after a failed import: the chunks written before it stay)."""
        if self.wrote:
            self.lists.changed(self.lst.id)

    def end(self) -> AddResult:
        self.result.rejected.sort(key=lambda r: r.row)
        self.announce()
        return self.result
