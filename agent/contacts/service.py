"""The contacts service: contacts, the number index and the lookup (U7, B13, B14).

An adapter over storage: the rules are in agent/core/contacts.py, the queries in
agent/storage/contacts_repo.py; this runs them on the storage worker and keeps
the number index in step with the operator's search fields (U7) and the team's
default region (numbers typed without a country code are indexed under it).

What others call (docs/contacts.md, "For other features"):

- the runtime: :meth:`ContactService.call_context` is ``runtime.lookup`` (once per
  call, before its first popup);
- the dial list and the jobs: :meth:`find_contact`, :meth:`find_or_create_contact`;
- the dialer's wiring: ``dial_owner = ext`` (B13's attempts read in the lookup's own
  statement; ``dial_progress``, a function, still works at one statement more);
- imports: :meth:`refresh_search_index` after writing many contacts (the name search
  is exact without it, and quick again once the index has taken them in);
- the API: the CRUD methods, :meth:`lookup`, :meth:`page`, :meth:`merge`.
"""

from __future__ import annotations

import asyncio
import locale
import logging
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from functools import cache, lru_cache, partial
from typing import TYPE_CHECKING, Any, Final, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agent.contacts.shapes import ContactInput
from agent.core.call_events import Event
from agent.core.contacts import (
    PHONE_FIELD,
    Candidate,
    Contact,
    DialProgress,
    HintTables,
    LastCall,
    Phone,
    PlannedSummary,
    RobotAnswer,
    check_search_fields,
    describe_number,
    known_lines,
    language_of,
    lookup_key,
    merge_contacts,
    normalise_phone,
    rank_key,
    search_keys,
    search_text,
    unknown_lines,
)
from agent.core.errors import InvalidInput
from agent.core.events import CallInfo, Direction
from agent.core.journal import JournalEntry
from agent.core.numbers import DEFAULT_REGION, NumberHint
from agent.core.popups import CallContext
from agent.core.settings import OperatorSettings, TeamSettings
from agent.storage.contact_lookup import ContactLookup
from agent.storage.contact_search import ContactSearch
from agent.storage.contacts_repo import ContactsRepository, Match
from agent.storage.events_repo import EventsRepository, SalesRepository

if TYPE_CHECKING:
    from agent.storage.database import Storage

log = logging.getLogger(__name__)

INDEX_STATE_KEY: Final = "contacts.search_fields"
"""kv key: the search fields the number index was built with (U7)."""
INDEX_REGION_KEY: Final = "contacts.region"
"""kv key: the default region the number index was built with (team.default_region)."""
REINDEX_BATCH: Final = 2000
REMEMBERED_CALLS: Final = 1024


@cache
def hints() -> HintTables:
    """B14's tables, imported on the first hint: ~3 MB the idle agent does not hold
    (issue 2, idle memory)."""
    from agent.contacts import hint_table

    return HintTables(hint_table.GEO, hint_table.CARRIERS, hint_table.COUNTRIES)


class SettingsSource(Protocol):
    """Where the current settings are read at the moment of use (the Agent: the
    settings API replaces its ``team`` and ``operator`` on a save)."""

    @property
    def team(self) -> TeamSettings: ...
    @property
    def operator(self) -> OperatorSettings: ...


Publish = Callable[[str, Any], None]


def _no_publish(topic: str, data: Any) -> None:
    pass


def _utc_now() -> datetime:
    return datetime.now(UTC)


@lru_cache(maxsize=8)
def zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown time zone %r; using UTC", name)
        return UTC


@cache
def os_language() -> str:
    """The OS locale's language, English under C/POSIX (features.md, "Defaults");
    read once (the lookup asks for every call)."""
    try:
        code = locale.getlocale()[0] or ""
    except ValueError:
        code = ""
    return language_of(code)


class NotFound(InvalidInput):
    """An id that names nothing (404 at the API)."""

    message_key = "error.not_found"


@dataclass(frozen=True, slots=True)
class Found:
    """What the database says about a number: ranked matches and the B13 facts."""

    key: str
    matches: list[Match]
    last_call: LastCall | None
    last_note: str | None
    planned: Event | None
    dialing: DialProgress | None = None
    robot: RobotAnswer | None = None


@dataclass(frozen=True, slots=True)
class CallSeen:
    """What the lookup found for a call, kept for the answer (events, C2)."""

    contact_id: int | None
    number: str
    planned_event_id: int | None


@dataclass(frozen=True, slots=True)
class Lookup:
    """``GET /api/contacts/lookup``: contracts.md §4 "lookup", and the popup lines."""

    found: Found
    hint: NumberHint | None
    lines: tuple[str, ...]


def candidate(contact: Contact) -> Candidate:
    assert contact.id is not None
    return Candidate(
        contact.id, contact.responsible_ext, contact.last_contact_at, contact.updated_at
    )


class ContactService:
    def __init__(
        self,
        storage: Storage,
        settings: SettingsSource,
        *,
        own_ext: str,
        publish: Publish = _no_publish,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.storage = storage
        self.settings = settings
        self.own_ext = own_ext
        self.publish = publish
        self.clock = clock
        self.repo = ContactsRepository(storage.db)
        self.events = EventsRepository(storage.db)
        # B13's "attempts, next attempt" of a number in the operator's dial lists, when
        # the dialer is wired (agent/dialer/wiring.py): ``dial_owner`` names the operator
        # whose lists the lookup's own statement reads; ``dial_progress``, a function
        # asked instead on the lookup's thread (one more statement a lookup).
        self.dial_owner: str | None = None
        self.dial_progress: Callable[[str], tuple[int, datetime] | None] | None = None
        self.lookups = ContactLookup(storage.db)
        self.search = ContactSearch(storage.db, self.repo)
        self._refreshing: asyncio.Task[int] | None = None
        self.sales = SalesRepository(storage.db)
        self.calls: OrderedDict[str, CallSeen] = OrderedDict()
        self.changed_listeners: list[Callable[[], None]] = []  # contacts merged or deleted
        self._indexed: list[list[str]] | None = None
        self._indexed_region: str | None = None
        self._reindexing: asyncio.Task[int] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------ settings, read when used

    @property
    def region(self) -> str:
        return self.settings.team.default_region or DEFAULT_REGION

    @property
    def tz(self) -> tzinfo:
        return zone(self.settings.team.time_zone)

    @property
    def lang(self) -> str:
        return language_of(self.settings.operator.language or os_language())

    def search_fields(self) -> list[list[str]]:
        fields = self.settings.operator.search_fields
        if check_search_fields(fields) is not None:
            return [[PHONE_FIELD]]
        return [[name.strip() for name in names] for names in fields]

    def keys_of(self, contact: Contact) -> list[tuple[str, int | None]]:
        return search_keys(contact, self.search_fields(), self.region)

    # ------------------------------------------------------------ contacts

    async def get(self, contact_id: int) -> Contact:
        contact = await self.storage.run(self.repo.get, contact_id)
        if contact is None:
            raise NotFound(f"no contact {contact_id}", field="id")
        return contact

    async def create(self, data: ContactInput) -> Contact:
        contact = data.new_contact()
        keys = self.keys_of(contact)
        contact_id = await self.storage.run(self.repo.insert, contact, keys, self.clock())
        self.refresh_search_index()
        return await self.get(contact_id)

    async def update(self, contact_id: int, data: ContactInput) -> Contact:
        """Replace the fields given (PUT): the number index follows."""

        def work() -> None:
            with self.storage.atomic():
                current = self.repo.get(contact_id)
                if current is None or current.deleted_at is not None:
                    raise NotFound(f"no contact {contact_id}", field="id")
                changed = data.applied_to(current)
                self.repo.update(changed, self.keys_of(changed), self.clock())

        await self.storage.run(work)
        self.refresh_search_index()
        return await self.get(contact_id)

    async def delete(self, contact_id: int) -> None:
        """Soft: the row stays for the journal's links, the number finds it no more."""
        done = await self.storage.run(self.repo.soft_delete, [contact_id], self.clock())
        if not done:
            raise NotFound(f"no contact {contact_id}", field="id")
        self.notify_changed()

    async def merge(self, kept_id: int, other_ids: Sequence[int]) -> Contact:
        """Merge duplicates into ``kept_id``: phones and attributes united, events and
        sales moved, the others soft-deleted naming the kept one (``merged_into``)."""
        others = sorted({i for i in other_ids if i != kept_id})
        if not others:
            raise InvalidInput("name at least one other contact to merge", field="ids")

        def work() -> None:
            with self.storage.atomic():
                found = self.repo.get_many([kept_id, *others])
                for cid in (kept_id, *others):
                    if cid not in found or found[cid].deleted_at is not None:
                        raise NotFound(f"no contact {cid}", field="ids")
                merged = merge_contacts(found[kept_id], [found[i] for i in others])
                now = self.clock()
                self.repo.soft_delete(others, now, merged_into=kept_id)
                self.repo.update(merged, self.keys_of(merged), now)
                self.events.repoint(others, kept_id)
                self.sales.repoint(others, kept_id)

        await self.storage.run(work)
        self.notify_changed()
        return await self.get(kept_id)

    async def page(self, q: str, limit: int, offset: int) -> tuple[list[Contact], int | None]:
        """M1's contact search: ``q`` a number typed whole or in part, or a name (through
        the trigram index, agent/storage/contact_search.py)."""
        text = q.strip()
        key_ranges = _number_ranges(text, self.region)
        if key_ranges or not text:
            return await self.storage.run(
                partial(self.repo.page, key_ranges=key_ranges, key_part=_number_part(text)),
                limit=limit,
                offset=offset,
            )
        found = await self.storage.run(
            self.search.page, search_text(text), limit=limit, offset=offset
        )
        self.refresh_search_index()
        return found

    def refresh_search_index(self) -> asyncio.Task[int] | None:
        """Bring the search index up to date in the background (SQLite: the contacts
        written since it last ran; agent/storage/contact_search.py), unless that is
        running already. The searches meanwhile are exact, only slower."""
        if not self.search.indexed:
            return None
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = self.spawn(self._refresh_search_index(), "search index")
        return self._refreshing

    async def _refresh_search_index(self) -> int:
        total = 0
        while taken := await self.storage.run(self.search.refresh):
            total += taken  # a batch at a time: other work runs between them
        if total:
            log.debug("search index: %d contacts taken in", total)
        return total

    def notify_changed(self) -> None:
        self.refresh_search_index()  # deleted or merged: the index drops them
        for listener in list(self.changed_listeners):
            listener()

    # ------------------------------------------------------------ lookup (B13, B14)

    def _ranked(self, key: str) -> list[Match]:
        """On the worker: the live contacts having ``key``, best first (RANK_RULE)."""
        matches = self.repo.matches(key)
        if len(matches) > 1:
            matches.sort(key=lambda m: rank_key(candidate(m.contact), self.own_ext))
        return matches

    def _find(self, key: str) -> Found:
        """On the worker (or a reader): the ranked matches and, for the first, B13's
        facts, in one statement (agent/storage/contact_lookup.py): the popup waits for
        this (issue 4: ≤ 1 ms p99 at 1M contacts)."""
        looked = self.lookups.find(key, self.dial_owner)
        found = looked.matches
        if not found:
            return Found(key, [], looked.last_call, None, None)
        if len(found) > 1:
            found.sort(key=lambda f: rank_key(candidate(f.match.contact), self.own_ext))
        best = found[0]
        dialing = looked.dialing
        if self.dial_owner is None and self.dial_progress is not None:
            progress = self.dial_progress(key)
            dialing = DialProgress(*progress) if progress is not None else None
        matches = [f.match for f in found]
        return Found(
            key, matches, looked.last_call, best.last_note, best.planned, dialing, best.robot
        )

    def lines_of(
        self, found: Found, hint: NumberHint | None, lang: str | None = None
    ) -> tuple[str, ...]:
        lang = lang or self.lang
        if not found.matches:
            return unknown_lines(hint, found.last_call, tz=self.tz, lang=lang)
        best = found.matches[0]
        planned = found.planned
        return known_lines(
            phone=best.phone,
            matches=len(found.matches),
            last_call=found.last_call,
            last_note=found.last_note,
            planned=None
            if planned is None or planned.planned_at is None
            else PlannedSummary(
                planned.id, planned.planned_at, planned.kind, planned.importance, planned.notes
            ),
            responsible_ext=best.contact.responsible_ext,
            own_ext=self.own_ext,
            tz=self.tz,
            lang=lang,
            dialing=found.dialing,
            robot=found.robot,
        )

    def hint_of(self, key: str, lang: str | None = None) -> NumberHint | None:
        if not key.startswith("+"):
            return None
        return describe_number(key, hints(), lang or self.lang)

    async def call_context(self, call: CallInfo) -> CallContext | None:
        """``runtime.lookup``: what our data says about a call's number, once per call,
        before its first popup (B13, B14). About a millisecond at 1M contacts."""
        self.check_index()
        key = lookup_key(call.number, self.region)
        if key is None:
            return None
        # The reader thread: a ringing call's lookup never queues behind journal writes.
        found = await self.storage.read(self._find, key)
        internal = call.direction is Direction.INTERNAL
        best = found.matches[0].contact if found.matches else None
        self._remember(call.uuid, found, best)
        if best is None and internal:
            return None  # a colleague's extension: nothing to say
        lang = self.lang
        hint = None if best or internal else self.hint_of(key, lang)
        lines = self.lines_of(found, hint, lang)
        context = CallContext(
            contact_id=best.id if best else None,
            name=best.name if best else None,
            company=best.company if best else None,
            details=lines,
        )
        self.publish(
            "call_context",
            {
                "call_uuid": call.uuid,
                "contact_id": context.contact_id,
                "name": context.name,
                "company": context.company,
                "details": list(lines),
                "matches": len(found.matches),
                "planned_event_id": found.planned.id if found.planned else None,
            },
        )
        return context

    def _remember(self, uuid: str, found: Found, best: Contact | None) -> None:
        self.calls[uuid] = CallSeen(
            best.id if best else None, found.key, found.planned.id if found.planned else None
        )
        while len(self.calls) > REMEMBERED_CALLS:
            self.calls.popitem(last=False)

    async def lookup(self, number: str) -> Lookup:
        """``GET /api/contacts/lookup``: any format of a number (contracts.md §4)."""
        self.check_index()
        key = lookup_key(number, self.region)
        if key is None:
            raise InvalidInput(f"not a phone number: {number.strip()[:40]!r}", field="number")
        found = await self.storage.run(self._find, key)
        hint = self.hint_of(key)
        return Lookup(found, hint, self.lines_of(found, hint))

    # ------------------------------------------------------------ for the dial list and jobs

    async def find_contact(self, number: str) -> Contact | None:
        """The contact a number belongs to, by the ranking rule; None if none (M6, J1)."""
        key = lookup_key(number, self.region)
        if key is None:
            return None
        matches = await self.storage.run(self._ranked, key)
        return matches[0].contact if matches else None

    async def find_or_create_contact(
        self, number: str, name: str | None = None, *, company: str | None = None
    ) -> Contact:
        """The contact of ``number``, made (named ``name``, else the number) when none
        has it (J1 history import, J2 robot import)."""
        existing = await self.find_contact(number)
        if existing is not None:
            return existing
        e164 = normalise_phone(number, self.region)
        if e164 is None:
            raise InvalidInput(f"not a phone number: {number.strip()[:40]!r}", field="number")
        data = ContactInput(
            name=(name or "").strip() or e164,
            company=company,
            phones=(Phone(e164),),
            given=frozenset({"name", "company", "phones"}),
        )
        return await self.create(data)

    def on_outcome(self, entry: JournalEntry, provisional: bool) -> None:
        """``runtime.outcome_listeners``: an answered call of a contact makes it the most
        recently contacted (the ranking rule)."""
        if entry.contact_id is not None and entry.answer_at is not None and entry.end_at:
            self.spawn(
                self.storage.run(self.repo.touch, entry.contact_id, entry.end_at), "contact touch"
            )

    # ------------------------------------------------------------ the index follows U7

    async def load_index_state(self) -> None:
        """At start: which search fields and region the index holds; re-index when they
        differ. A database from before the region was recorded is taken as indexed
        under the region of now."""

        def load() -> tuple[list[list[str]], str]:
            kv = self.storage.kv
            fields, region = kv.get(INDEX_STATE_KEY), kv.get(INDEX_REGION_KEY)
            if fields is None:
                fields = self.search_fields()
                kv.set(INDEX_STATE_KEY, fields)
            if region is None:
                region = self.region
                kv.set(INDEX_REGION_KEY, region)
            return fields, region

        self._indexed, self._indexed_region = await self.storage.run(load)
        self.check_index()
        self.refresh_search_index()  # what was written while the agent was away

    def check_index(self) -> None:
        """Start re-indexing in the background when the search fields (U7) or the
        default region changed; lookups go on meanwhile (a contact's keys swap in one
        transaction)."""
        if self._indexed is None or (
            self.search_fields() == self._indexed and self.region == self._indexed_region
        ):
            return
        if self._reindexing is None or self._reindexing.done():
            self._reindexing = self.spawn(self.reindex(), "re-index")

    @property
    def indexed_fields(self) -> list[list[str]] | None:
        """The search fields the index was last built with (None before start)."""
        return self._indexed

    @property
    def indexed_region(self) -> str | None:
        """The default region the index was last built with (None before start)."""
        return self._indexed_region

    @property
    def reindexing(self) -> asyncio.Task[int] | None:
        return self._reindexing

    async def reindex(self, batch: int = REINDEX_BATCH) -> int:
        """Rebuild every contact's keys with the current search fields; how many contacts."""
        fields, region = self.search_fields(), self.region
        log.info("re-indexing contact numbers for search fields %s, region %s", fields, region)

        def one_batch(after: int) -> tuple[int, int]:
            contacts = self.repo.batch_after(after, batch)
            keys: dict[int, Sequence[tuple[str, int | None]]] = {}
            for contact in contacts:
                assert contact.id is not None
                keys[contact.id] = search_keys(contact, fields, region)
            self.repo.replace_keys(keys)
            return len(contacts), (contacts[-1].id or after) if contacts else after

        after, total = 0, 0
        while True:
            count, after = await self.storage.run(one_batch, after)
            total += count
            if count < batch:
                break

        def record() -> None:
            with self.storage.atomic():
                self.storage.kv.set(INDEX_STATE_KEY, fields)
                self.storage.kv.set(INDEX_REGION_KEY, region)

        await self.storage.run(record)
        self._indexed, self._indexed_region = fields, region
        log.info("re-indexed %d contacts", total)
        self.publish("contacts", {"reindexed": total})
        # Changed again meanwhile: the next re-index starts now. This task is not done
        # yet, so it must not read as the re-index still running.
        if self._reindexing is asyncio.current_task():
            self._reindexing = None
        self.check_index()
        return total

    # ------------------------------------------------------------ background work

    def spawn(self, coro: Coroutine[Any, Any, Any], what: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._done(t, what))
        return task

    def _done(self, task: asyncio.Task[Any], what: str) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("contacts: %s failed", what, exc_info=task.exception())

    async def drain(self) -> None:
        """Wait for the background work started so far (a clean stop, tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def _number_part(text: str) -> str | None:
    """Digits typed from the middle or the end of a number (``2249895``, ``9895``):
    operators remember a number's last digits, and the journal's filter finds them
    anywhere too (F2). Four digits at least, so that a few do not match everyone."""
    digits = "".join(ch for ch in text if ch not in " -().")
    return digits if len(digits) >= 4 and digits.isdigit() else None


def _number_ranges(text: str, region: str) -> list[tuple[str, str]]:
    """A number typed whole or in part as ranges of index keys; none for a name.

    ``0671`` is the start of a national number (``+380671…``); up to five digits may
    also be an extension (``002``), so both are searched.
    """
    stripped = "".join(ch for ch in text if ch not in " -().")
    digits = stripped.removeprefix("+")
    if len(digits) < 3 or not digits.isdigit():
        return []
    whole = lookup_key(text, region)
    if whole is not None and whole.startswith("+"):
        return [(whole, whole + "~")]
    if stripped.startswith("+"):
        return [(stripped, stripped + "~")]
    import phonenumbers

    code = str(phonenumbers.country_code_for_region(region) or "")
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    trunk = (metadata.national_prefix if metadata else None) or ""
    ranges: list[tuple[str, str]] = []
    if len(digits) <= 5:
        ranges.append((digits, digits + "~"))  # an extension
    if code and digits.startswith(code):
        ranges.append(("+" + digits, "+" + digits + "~"))
    elif trunk and digits.startswith(trunk):
        prefix = "+" + code + digits[len(trunk) :]
        ranges.append((prefix, prefix + "~"))
    elif len(digits) > 5:
        ranges.append((digits, digits + "~"))
    return ranges
