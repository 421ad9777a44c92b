"""The contact import (U7; contracts.md §4 "import"): 100k rows in a few seconds.

A thread reads the file (agent/files), plans its rows :data:`BATCH` at a time
(agent/core/table_plan.py, ``plan_batches``: values as tuples, no object a row) and
groups them into contacts, asking the storage worker which contacts stored before
the import have the numbers of each batch; then the worker writes the
new contacts, and the stored ones the file extends, in one transaction
(ContactsRepository.bulk). The agent's loop only waits: popups never do.

Why one after the other (issue 4, measured on 100k rows, 2 cores): writing batch by
batch while the thread plans the next overlaps nothing worth having. The worker's
inserts let go of the GIL for every row and must take it back from the planning
thread each time, so both crawl; every contact a later row extends must be written
again; and the index pages are logged once a batch. Read, plan, group, then write
once takes about half the CPU time.

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
    raw_contact_values,
)
from agent.storage.models import utc_text

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

Existing = tuple[Mapping[str, Sequence[tuple[int, str]]], Mapping[int, Contact]]

# A planned row's values, in the order of CONTACT_FIELDS (table_plan.PlannedBatch), as
# _Grouping.take unpacks them: text fields are str or None, the phone E.164.
_Values = tuple[str | None, str | None, str, str | None, str | None, str | None, str | None]
_ORDER: Final = ("name", "company", "phone", "phone2", "kind", "person", "responsible")
assert tuple(spec.name for spec in CONTACT_FIELDS) == _ORDER
_PHONE, _PHONE2 = _ORDER.index("phone"), _ORDER.index("phone2")


class _Target:
    """A contact being built from rows: ``base`` is the contact stored before the
    import that it extends (None for a new one); ``id`` is known once stored."""

    __slots__ = ("attributes", "base", "company", "id", "name", "name_cf", "phones", "responsible")

    def __init__(
        self,
        name: str,
        company: str | None,
        responsible: str | None,
        phones: dict[str, PhoneTuple],
        attributes: dict[str, Any] | None,
        base: Contact | None = None,
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
        self.id = base.id if base is not None else None

    @classmethod
    def of(cls, contact: Contact) -> _Target:
        phones = {p.number: (p.number, p.kind, p.person) for p in contact.phones}
        return cls(
            contact.name,
            contact.company,
            contact.responsible_ext,
            phones,
            dict(contact.attributes),
            contact,
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

    def values(self, stamp: str, search: str | None = None) -> ContactValues:
        """Its column values; ``stamp`` is now, as stored; ``search`` its search text
        when known (``search_text(display_name(), company)``)."""
        base = self.base
        created = stamp
        last: str | None = None
        if base is not None:
            created = stamp if base.created_at is None else utc_text(base.created_at)
            last = None if base.last_contact_at is None else utc_text(base.last_contact_at)
        return raw_contact_values(
            self.display_name(),
            self.company,
            self.phones.values(),
            self.attributes or {},
            self.responsible,
            last,
            created,
            stamp,
            search,
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
            last_contact_at=base.last_contact_at if base else None,
            created_at=base.created_at if base else None,
        )


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
                    if cid not in contacts:
                        continue
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
    """On the worker: the contacts stored before the import (ids up to ``floor``)
    having these numbers; the import's own are grouped in memory."""
    keys = repo.ids_by_keys(numbers, max_id=floor)
    if not keys:
        return {}, {}
    ids = {cid for pairs in keys.values() for cid, _ in pairs}
    return keys, repo.get_many(ids)


def _write(
    repo: ContactsRepository,
    new: Sequence[_Target],
    changed: Sequence[_Target],
    *,
    fields: list[list[str]],
    region: str,
    stamp: str,
    progress: Progress,
) -> int:
    """On the worker, in one transaction: the new contacts with their index keys (ids
    from the database, in file order), then the stored ones the file extends; how
    many were written."""
    phones_only = fields == [[PHONE_FIELD]]
    folded = _SearchText()
    done = 0
    with repo.bulk():
        for start in range(0, len(new), BATCH):
            part = new[start : start + BATCH]
            rows: list[tuple[Any, ...]] = []
            keys: list[tuple[str, int, int | None]] = []
            for target, contact_id in zip(part, repo.new_ids(len(part)), strict=True):
                target.id = contact_id
                search = folded(target.display_name(), target.company)
                rows.append((contact_id, *target.values(stamp, search)))
                if phones_only:
                    # Every number of a new contact is E.164 (to_e164 made it): its own key.
                    for index, number in enumerate(target.phones):
                        keys.append((number, contact_id, index))
                else:
                    for key, phone_index in search_keys(target.contact(), fields, region):
                        keys.append((key, contact_id, phone_index))
            repo.insert_rows(rows, keys)
            done += len(part)
            progress({"stage": "storing", "done": done, "total": len(new) + len(changed)})
        for start in range(0, len(changed), BATCH):
            part = changed[start : start + BATCH]
            updates = [(int(t.id or 0), t.values(stamp)) for t in part]
            repo.update_values(updates, [search_keys(t.contact(), fields, region) for t in part])
            done += len(part)
            progress({"stage": "storing", "done": done, "total": len(new) + len(changed)})
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
        self, service: ContactService, loop: asyncio.AbstractEventLoop, floor: int
    ) -> None:
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
                # One round of matching a batch: its numbers, second ones included.
                numbers = [cast(str, values[_PHONE]) for values in batch.values]
                numbers += [number for number in seconds.values() if number is not None]
                grouping.take(batch, attributes, seconds, self._matched(numbers))
            progress({"stage": "reading", "done": batch.last_row})
        self.planned.problem = table.problem
        return grouping

    def _matched(self, numbers: list[str]) -> Existing:
        if self.floor == 0:
            return {}, {}  # nothing was stored before the import: no round trip
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
    reader = _Reader(service, asyncio.get_running_loop(), floor)
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
        list(grouping.changed.values()),
        fields=service.search_fields(),
        region=service.region,
        stamp=stamp,
        progress=progress,
    )
    progress({"stage": "done", "done": written})
    return report
