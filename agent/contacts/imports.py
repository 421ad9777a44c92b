"""The contact import (U7; contracts.md §4 "import"): 100k rows in a few seconds.

A thread reads the file (agent/files), plans its rows :data:`BATCH` at a time
(agent/core/table_plan.py, ``plan_batches``: values as tuples, no object a row) and
groups them into contacts, asking the storage worker which contacts stored before
the import have the numbers of each batch; then the worker writes the
new contacts, and the stored ones the file changes, in one transaction
(ContactsRepository.bulk); a stored contact whose rows add nothing to it is not
written at all. The agent's loop only waits: popups never do.

Why one after the other (issue 4, measured on 100k rows, 2 cores): writing batch by
batch while the thread plans the next overlaps nothing worth having. The worker's
inserts let go of the GIL for every row and must take it back from the planning
thread each time, so both crawl; every contact a later row extends must be written
again; and the index pages are logged once a batch. Read, plan, group, then write
once takes about half the CPU time. Matching a batch while the next is planned
(the match as one row of JSON, so that the worker takes the GIL back once a
statement) cost more CPU than it hid, on this 2-core machine shared with other work
(2.5 → 3.1 s CPU for 20k stored contacts, 2026-11-26).

A row joins (docs/contacts.md, "Imports"): the contact made from an earlier row
with the same name and company; else the contact that already has its number and
the same name (or the row has no name) — so importing a file twice changes
nothing; else it makes a new contact. Columns that are no field become attributes,
named by their header. A mapping may name the phone column ``number``, as
contracts.md §4 shows it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import threading
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

from agent.contacts.service import ContactService
from agent.contacts.shapes import contact_json
from agent.contacts.tables import (
    BATCH,
    SAMPLE,
    ImportReport,
    Progress,
    Stopped,
    attributes_of,
    no_progress,
)
from agent.core.contacts import PHONE_FIELD, Contact, Phone, search_keys, search_text
from agent.core.errors import InvalidInput
from agent.core.numbers import to_e164
from agent.core.table_plan import (
    SAMPLE_ROWS,
    FieldSpec,
    Layout,
    PlannedBatch,
    Rejection,
    detect_layout,
    plan_batches,
)
from agent.files.gc_pause import gc_paused
from agent.storage.contacts_repo import (
    ContactsRepository,
    ContactValues,
    PhoneTuple,
    chunks,
    dump_json,
    marks,
    phones_text,
    raw_contact_values,
)
from agent.storage.models import to_utc, utc_text

if TYPE_CHECKING:
    from agent.storage.database import Storage

T = TypeVar("T")

CONTACT_FIELDS: Final = (
    FieldSpec(
        "name",
        "text",
        aliases=(
            "name",
            "full name",
            "contact",
            "піб",
            "п і б",
            "ім'я",
            "прізвище",
            "контакт",
            "фио",
            "ф и о",
            "имя",
        ),
    ),
    FieldSpec(
        "company",
        "text",
        aliases=(
            "company",
            "organisation",
            "organization",
            "компанія",
            "організація",
            "контрагент",
            "компания",
            "организация",
        ),
    ),
    FieldSpec(
        "phone",
        "phone",
        required=True,
        aliases=(
            "phone",
            "phone number",
            "telephone",
            "tel",
            "number",
            "телефон",
            "номер",
            "тел",
            "номер телефону",
            "номер телефона",
        ),
    ),
    # A second number, found by its header or a mapping only (a text field: the
    # number-column guess must not take an unrelated column of digits).
    FieldSpec(
        "phone2",
        "text",
        aliases=(
            "phone 2",
            "phone2",
            "second phone",
            "additional phone",
            "телефон 2",
            "додатковий телефон",
            "дополнительный телефон",
        ),
    ),
    FieldSpec("kind", "text", aliases=("kind", "phone kind", "вид", "вид телефону")),
    FieldSpec(
        "person", "text", aliases=("contact person", "person", "контактна особа", "контактное лицо")
    ),
    FieldSpec(
        "responsible",
        "text",
        aliases=("responsible", "manager", "відповідальний", "менеджер", "ответственный"),
    ),
)


# Other names the mapping may give a field: contracts.md §4 maps the number column as
# ``{"number": "B"}``, as the dial-list import calls it.
MAPPING_ALIASES: Final = {"number": "phone"}

# A contact stored before the import, as _match reads it: the columns the import
# compares and keeps (:data:`_STORED_COLUMNS`).
Stored = tuple[Any, ...]
MATCH_CHUNK: Final = 2000
"""Keys a statement of :func:`_match` asks for (SQLite allows 32766 parameters)."""
Existing = tuple[Mapping[str, Sequence[tuple[int, str]]], Mapping[int, Stored]]
_STORED_COLUMNS: Final = (
    "c.id, c.name, c.company, c.phones, c.attributes, c.responsible_ext, c.search, "
    "c.last_contact_at, c.created_at"
)
_LAST, _CREATED = 7, 8  # their places in a Stored row


# A planned row's values, in the order of CONTACT_FIELDS (table_plan.PlannedBatch), as
# _Grouping.take unpacks them: text fields are str or None, the phone E.164.
_Values = tuple[str | None, str | None, str, str | None, str | None, str | None, str | None]
_ORDER: Final = ("name", "company", "phone", "phone2", "kind", "person", "responsible")
assert tuple(spec.name for spec in CONTACT_FIELDS) == _ORDER
_PHONE, _PHONE2 = _ORDER.index("phone"), _ORDER.index("phone2")


class _Target:
    """A contact being built from rows: ``base`` is the contact stored before the
    import that it extends, as read (None for a new one); ``id`` is known once stored."""

    __slots__ = ("attributes", "base", "company", "id", "name", "name_cf", "phones", "responsible")

    def __init__(
        self,
        name: str,
        company: str | None,
        responsible: str | None,
        phones: dict[str, PhoneTuple],
        attributes: dict[str, Any] | None,
        base: Stored | None = None,
        *,
        name_cf: str | None = None,
    ) -> None:
        self.name = name
        self.name_cf = name.casefold() if name_cf is None else name_cf
        self.company = company
        self.responsible = responsible
        self.phones = phones
        self.attributes = attributes
        self.base = base
        self.id: int | None = None if base is None else int(base[0])

    @classmethod
    def of(cls, stored: Stored) -> _Target:
        """The stored contact as a target, read as ``contact_from_row`` reads it."""
        _, name, company, phones, attributes, responsible = stored[:6]
        parsed = [(p.get("number", ""), p.get("kind"), p.get("person")) for p in json.loads(phones)]
        return cls(
            name,
            company,
            responsible,
            {p[0]: p for p in parsed},
            {} if attributes == "{}" else json.loads(attributes),
            stored,
        )

    def add(
        self,
        name: str | None,
        company: str | None,
        responsible: str | None,
        phones: Sequence[PhoneTuple],
        attributes: dict[str, Any] | None,
    ) -> None:
        if not self.name and name:
            self.name = name
            self.name_cf = name.casefold()
        if company:
            self.company = company
        if responsible:
            self.responsible = responsible
        for phone in phones:
            self.phones.setdefault(phone[0], phone)
        if attributes:
            self.attributes = {**(self.attributes or {}), **attributes}

    def display_name(self) -> str:
        return self.name or self.company or next(iter(self.phones), "")

    def values(self, stamp: str) -> ContactValues:
        """Its column values; ``stamp`` is now, as stored."""
        base = self.base
        created = stamp
        last: str | None = None
        if base is not None:
            created = _stored_time(base[_CREATED]) or stamp
            last = _stored_time(base[_LAST])
        return raw_contact_values(
            self.display_name(),
            self.company,
            self.phones.values(),
            self.attributes or {},
            self.responsible,
            last,
            created,
            stamp,
        )

    def unchanged(self, folded: _SearchText) -> bool:
        """Whether the columns it would write (:meth:`values`) are what is stored
        already, but for the times, which it keeps: the rows that joined a stored
        contact added nothing to it. The cheap columns are compared first."""
        base = self.base
        if base is None:
            return False
        name, company, attributes = self.display_name(), self.company, self.attributes
        return bool(
            name == base[1]
            and company == base[2]
            and self.responsible == base[5]
            and (dump_json(attributes) if attributes else "{}") == base[4]
            and phones_text(self.phones.values()) == base[3]
            and folded(name, company) == base[6]
        )

    def contact(self) -> Contact:
        base = self.base
        return Contact(
            id=self.id,
            name=self.display_name(),
            company=self.company,
            phones=tuple(Phone(*p) for p in self.phones.values()),
            attributes=self.attributes or {},
            responsible_ext=self.responsible,
            last_contact_at=None if base is None else to_utc(base[_LAST]),
            created_at=None if base is None else to_utc(base[_CREATED]),
        )


def _stored_time(value: Any) -> str | None:
    """A stored time (text from SQLite, a datetime from psycopg2) as it is written."""
    at = to_utc(value)
    return None if at is None else utc_text(at)


class _Grouping:
    """Rows into contacts, batch after batch (the rule of the module docstring)."""

    def __init__(self, region: str, label2: str) -> None:
        self.region = region
        self.label2 = label2  # the phone2 column, for its rejections
        self.new: list[_Target] = []
        self.changed: dict[int, _Target] = {}  # stored contacts this file extends, by id
        self.accepted = 0
        self.rejected: list[Rejection] = []
        self._by_who: dict[tuple[str, str], _Target] = {}
        self._by_number: dict[str, _Target | list[_Target]] = {}
        self._loaded: dict[int, _Target] = {}

    def second_numbers(self, batch: PlannedBatch) -> dict[int, str | None]:
        """The second numbers of a batch's rows that have one, by place in the batch,
        in E.164 (None: not a number, which rejects its row)."""
        region = self.region
        return {
            i: to_e164(str(values[_PHONE2]), region)
            for i, values in enumerate(batch.values)
            if values[_PHONE2] is not None
        }

    def take(
        self,
        batch: PlannedBatch,
        attributes: Sequence[dict[str, Any] | None] | None,
        seconds: Mapping[int, str | None],
        existing: Existing,
    ) -> None:
        """Group a batch of planned rows (with their attribute columns, when the file
        has any, and :meth:`second_numbers`); a bad second number rejects its row."""
        by_who, by_number, new = self._by_who, self._by_number, self.new
        stored_before = bool(existing[0])
        accepted = 0
        for i, values in enumerate(batch.values):
            # plan_batches gives stripped text, None for an empty cell, E.164 for a phone.
            name, company, number, second, kind, person, responsible = cast(_Values, values)
            phone: PhoneTuple = (number, kind, person)
            phones: tuple[PhoneTuple, ...] | None = None  # set for two numbers only
            if second is not None:
                e164 = seconds[i]
                if e164 is None:
                    reason = f"not a phone number: {str(second)[:39]!r}"
                    self.rejected.append(Rejection(batch.rows[i], self.label2, reason))
                    continue
                if e164 != number:
                    phones = (phone, (e164, None, person))
            accepted += 1
            row_attributes = attributes[i] if attributes is not None else None
            target: _Target | None = None
            who: tuple[str, str] | None = None
            name_cf = ""
            if name:
                name_cf = name.casefold()
                who = (name_cf, company.casefold() if company else "")
                target = by_who.get(who)
            if target is None:
                if phones is None:  # one number (most rows): _same_number inlined
                    found = by_number.get(number)
                    if found is not None:
                        target = self._same_number((phone,), name_cf)
                else:
                    target = self._same_number(phones, name_cf)
            if target is None and stored_before:
                target = self._existing(phones or (phone,), name_cf, existing)
            if target is None:
                target = _Target(
                    name or "",
                    company,
                    responsible,
                    {number: phone} if phones is None else {p[0]: p for p in phones},
                    row_attributes,
                    name_cf=name_cf,
                )
                new.append(target)
                if who is not None:
                    by_who[who] = target
                if phones is None and number not in by_number:
                    by_number[number] = target  # the common case, filed at once
                    continue
            else:
                target.add(name, company, responsible, phones or (phone,), row_attributes)
                if target.base is not None:
                    assert target.id is not None
                    self.changed[target.id] = target  # stored before: updated with the rest
                if who is not None:
                    by_who.setdefault(who, target)
            for each, _, _ in phones or (phone,):
                found = by_number.get(each)
                if found is None:
                    by_number[each] = target
                elif isinstance(found, list):
                    if target not in found:
                        found.append(target)
                elif found is not target:
                    by_number[each] = [found, target]
        self.accepted += accepted

    def updates(self, stamp: str) -> list[tuple[_Target, ContactValues]]:
        """The stored contacts this file changes, each with the values to write. One
        whose rows added nothing is left as it is (importing a file twice changes
        nothing, docs/contacts.md), its update time too, which ranks it
        (agent/core/contacts.py RANK_RULE); ``updated`` still counts it."""
        folded = _SearchText()
        return [(t, t.values(stamp)) for t in self.changed.values() if not t.unchanged(folded)]

    def _same_number(self, phones: Sequence[PhoneTuple], name_cf: str) -> _Target | None:
        for phone in phones:
            found = self._by_number.get(phone[0])
            if found is None:
                continue
            if isinstance(found, list):
                for target in found:
                    if not name_cf or target.name_cf == name_cf:
                        return target
            elif not name_cf or found.name_cf == name_cf:
                return found
        return None

    def _existing(
        self, phones: Sequence[PhoneTuple], name_cf: str, existing: Existing
    ) -> _Target | None:
        keys, contacts = existing
        for phone in phones:
            for cid, stored_name in keys.get(phone[0], ()):
                if name_cf and stored_name.casefold() != name_cf:
                    continue
                target = self._loaded.get(cid)
                if target is None:
                    target = self._loaded[cid] = _Target.of(contacts[cid])
                return target
        return None


class _SearchText:
    """``search_text(name, company)`` a part at a time, each part folded once: a file
    repeats its companies and names. The same text (tests/contacts/test_imports.py)."""

    def __init__(self) -> None:
        self._parts: dict[str, str] = {}

    def __call__(self, name: str, company: str | None) -> str:
        parts = self._parts
        first = parts.get(name)
        if first is None:
            first = parts[name] = search_text(name)
        if not company:
            return first
        second = parts.get(company)
        if second is None:
            second = parts[company] = search_text(company)
        return f"{first} {second}".strip()


def _match(repo: ContactsRepository, numbers: list[str], floor: int) -> Existing:
    """On the worker: the live contacts stored before the import (ids up to
    ``floor``) having these numbers, each key's oldest first, and their stored
    columns; the import's own are grouped in memory.

    One statement a chunk of keys, the key and the contact's columns together: what
    ``ids_by_keys`` and then ``get_many`` read in two, without building a Contact
    for each (most are only compared with the rows, _Grouping._existing)."""
    sql = repo.sql
    keys: dict[str, list[tuple[int, str]]] = {}
    stored: dict[int, Stored] = {}
    size = MATCH_CHUNK if sql.postgres else min(MATCH_CHUNK, sql.max_variables() - 1)
    for part in chunks(sorted(set(numbers)), size):
        rows = sql.rows(
            f"SELECT n.key, {_STORED_COLUMNS} FROM contact_numbers n "
            "JOIN contacts c ON c.id = n.contact_id "
            f"WHERE c.deleted_at IS NULL AND n.key IN ({marks(len(part))}) AND c.id <= ? "
            "ORDER BY c.id",
            (*part, floor),
        )
        for row in rows:
            cid = int(row[1])
            keys.setdefault(row[0], []).append((cid, row[2]))
            stored[cid] = row[1:]
    return keys, stored


def _new_rows(
    part: Sequence[_Target],
    ids: Sequence[int],
    folded: _SearchText,
    keys: list[tuple[str, int, int | None]] | None,
) -> list[tuple[Any, ...]]:
    """New contacts' rows for ContactsRepository.insert_new, ``(id, *values[:6])`` as
    :meth:`_Target.values` makes them (no last contact; both times are the import's),
    and (into ``keys``, when given) their numbers as index keys: every number of a
    new contact is E.164 (to_e164 made it), its own key. The loop of an import's
    every contact (issue 4)."""
    rows: list[tuple[Any, ...]] = []
    append = rows.append
    for target, contact_id in zip(part, ids, strict=True):
        target.id = contact_id
        company = target.company
        name = target.display_name()
        attributes = target.attributes
        if keys is not None:
            keys += [(number, contact_id, index) for index, number in enumerate(target.phones)]
        append(
            (
                contact_id,
                name,
                company,
                phones_text(target.phones.values()),
                dump_json(attributes) if attributes else "{}",
                target.responsible,
                folded(name, company),
            )
        )
    return rows


def _write(
    repo: ContactsRepository,
    new: Sequence[_Target],
    changed: Sequence[tuple[_Target, ContactValues]],
    *,
    fields: list[list[str]],
    region: str,
    stamp: str,
    progress: Progress,
) -> int:
    """On the worker, in one transaction: the new contacts with their index keys (ids
    from the database, in file order), then the stored ones the file changes (with
    their values, :meth:`_Grouping.updates`); how many were written."""
    phones_only = fields == [[PHONE_FIELD]]
    folded = _SearchText()
    done, total = 0, len(new) + len(changed)
    with repo.bulk(adding=len(new)):
        for start in range(0, len(new), BATCH):
            part = new[start : start + BATCH]
            keys: list[tuple[str, int, int | None]] = []
            ids = repo.new_ids(len(part))
            rows = _new_rows(part, ids, folded, keys if phones_only else None)
            if not phones_only:
                keys = [
                    (key, int(target.id or 0), phone_index)
                    for target in part
                    for key, phone_index in search_keys(target.contact(), fields, region)
                ]
            repo.insert_new(rows, keys, stamp)
            done += len(part)
            progress({"stage": "storing", "done": done, "total": total})
        for start in range(0, len(changed), BATCH):
            updates = changed[start : start + BATCH]
            repo.update_values(
                [(int(t.id or 0), values) for t, values in updates],
                [search_keys(t.contact(), fields, region) for t, _ in updates],
            )
            done += len(updates)
            progress({"stage": "storing", "done": done, "total": total})
    return done


@dataclass
class _Planned:
    layout: Layout | None = None
    problem: str | None = None
    rejected: list[Rejection] = field(default_factory=list)


class _Reader:
    """The import's thread: read, plan and group; the storage worker matches each
    batch against the contacts stored before the import (ids up to ``floor``)."""

    def __init__(
        self, service: ContactService, loop: asyncio.AbstractEventLoop, floor: int, stamp: str
    ) -> None:
        self.stamp = stamp
        self.updates: list[tuple[_Target, ContactValues]] = []
        self.storage: Storage = service.storage
        self.repo = service.repo
        self.region = service.region
        self.loop = loop
        self.floor = floor
        self.stop = threading.Event()
        self.planned = _Planned()
        self.grouping: _Grouping | None = None
        self._pending: list[concurrent.futures.Future[Any]] = []

    def run(
        self, data: bytes, filename: str, mapping: Mapping[str, str] | None, progress: Progress
    ) -> _Grouping:
        from agent.files import read_table  # calamine: loaded when an import comes

        table = read_table(data, filename)
        layout = detect_layout(
            table.head(SAMPLE_ROWS), CONTACT_FIELDS, field_mapping(mapping), self.region
        )
        self.planned.layout = layout
        label2 = layout.label(layout.columns["phone2"]) if "phone2" in layout.columns else "phone2"
        grouping = self.grouping = _Grouping(self.region, label2)
        used = set(layout.columns.values())
        extra = [
            (index, header)
            for index, header in enumerate(layout.headers)
            if header and index not in used
        ]
        rejected = self.planned.rejected
        for batch in plan_batches(table, layout, CONTACT_FIELDS, self.region, BATCH):
            if self.stop.is_set():
                raise Stopped
            rejected += batch.rejected
            if batch.rows:
                attributes = (
                    [attributes_of(cells, extra) for cells in batch.cells] if extra else None
                )
                seconds = grouping.second_numbers(batch)
                grouping.take(batch, attributes, seconds, self._matched(batch, seconds))
            progress({"stage": "reading", "done": batch.last_row})
        self.planned.problem = table.problem
        self.updates = grouping.updates(self.stamp)
        return grouping

    def _matched(self, batch: PlannedBatch, seconds: Mapping[int, str | None]) -> Existing:
        """One round of matching a batch: its numbers, second ones included."""
        if self.floor == 0:
            return {}, {}  # nothing was stored before the import: no round trip
        numbers = [cast(str, values[_PHONE]) for values in batch.values]
        numbers += [number for number in seconds.values() if number is not None]
        return self._call(_match, self.repo, numbers, self.floor)

    def _call(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn`` on the storage worker, through the loop (Storage.run keeps the order)."""
        work: Coroutine[Any, Any, T] = self.storage.run(fn, *args)
        if self.stop.is_set():
            work.close()
            raise Stopped
        future = asyncio.run_coroutine_threadsafe(work, self.loop)
        self._pending.append(future)
        result = future.result()
        self._pending.remove(future)
        return result

    def abandon(self) -> None:
        """The import failed or was cancelled: the thread stops at its next step."""
        self.stop.set()
        for future in list(self._pending):
            future.cancel()


def field_mapping(mapping: Mapping[str, str] | None) -> dict[str, str]:
    """The operator's mapping with the fields' other names (:data:`MAPPING_ALIASES`)
    made theirs; a field mapped to two columns under two names is refused."""
    out: dict[str, str] = {}
    for name, column in (mapping or {}).items():
        field_name = MAPPING_ALIASES.get(name, name)
        if out.get(field_name, column) != column:
            # No message key of its own yet: the generic one, with this message.
            raise InvalidInput(
                f"the mapping gives the field {field_name!r} two columns "
                f"({out[field_name]!r} and {column!r} as {name!r})",
                field=name,
            )
        out[field_name] = column
    return out


async def import_contacts(
    service: ContactService,
    data: bytes,
    filename: str,
    *,
    mapping: Mapping[str, str] | None = None,
    preview: bool = False,
    progress: Progress = no_progress,
) -> ImportReport:
    """``POST /api/contacts/import``: contracts.md §4. Raises :class:`InvalidInput` only
    for a file that cannot be read at all (or a mapping that names no column)."""
    with gc_paused():
        # Only the report comes back: the import's objects are gone with _import's
        # frame before the collector is on again.
        return await _import(service, data, filename, mapping, preview, progress)


async def _import(
    service: ContactService,
    data: bytes,
    filename: str,
    mapping: Mapping[str, str] | None,
    preview: bool,
    progress: Progress,
) -> ImportReport:
    storage, repo = service.storage, service.repo
    stamp = utc_text(service.clock())
    floor = await storage.run(repo.max_id)
    reader = _Reader(service, asyncio.get_running_loop(), floor, stamp)
    thread = asyncio.ensure_future(asyncio.to_thread(reader.run, data, filename, mapping, progress))
    try:
        grouping = await asyncio.shield(thread)
    except BaseException:
        reader.abandon()
        await asyncio.wait([thread])  # it stops at its next step: nothing runs on after us
        raise
    planned = reader.planned
    report = ImportReport(
        accepted=grouping.accepted,
        rejected=sorted([*planned.rejected, *grouping.rejected], key=lambda r: r.row),
        problem=planned.problem,
        layout=planned.layout,
        fields=CONTACT_FIELDS,
        preview=preview,
        created=len(grouping.new),
        updated=len(grouping.changed),
    )
    if preview:
        report.sample = [contact_json(t.contact()) for t in grouping.new[:SAMPLE]]
        return report
    written = await storage.run(
        _write,
        repo,
        grouping.new,
        reader.updates,
        fields=service.search_fields(),
        region=service.region,
        stamp=stamp,
        progress=progress,
    )
    if written:
        # The name search's index takes the new and changed contacts in afterwards, in
        # the background (agent/storage/contact_search.py): exact meanwhile.
        service.refresh_search_index()
    progress({"stage": "done", "done": written})
    return report
