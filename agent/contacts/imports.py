"""The contact import (U7; contracts.md §4 "import"), pipelined for 100k rows.

Reading and planning run in a thread and hand the good rows over 5000 at a time;
each batch is matched against the database, grouped into contacts and stored on
the storage worker while the thread reads on, so SQLite's own work overlaps
Python's (two cores), and the agent's loop and popups never wait for an import.

A row joins (docs/contacts.md, "Imports"): the contact made from an earlier row
with the same name and company; else the contact that already has its number and
the same name (or the row has no name) — so importing a file twice changes
nothing; else it makes a new contact. A contact already stored that a later row
extends is updated at the end. Columns that are no field become attributes,
named by their header.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping, Sequence
from typing import Any, Final

from agent.contacts.service import ContactService
from agent.contacts.shapes import contact_json
from agent.contacts.tables import (
    SAMPLE,
    ImportReport,
    Planned,
    Progress,
    no_progress,
    plan_file,
)
from agent.core.contacts import PHONE_FIELD, Contact, Phone, search_keys
from agent.core.numbers import to_e164
from agent.core.table_plan import FieldSpec, Layout, Rejection
from agent.storage.contacts_repo import ContactValues, Key, PhoneTuple, raw_contact_values
from agent.storage.models import utc_text

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


# (row, name, company, responsible, phones, attributes)
_Row = tuple[int, str | None, str | None, str | None, list[PhoneTuple], dict[str, Any] | None]


def _rows(
    records: Sequence[Planned], layout: Layout, region: str
) -> tuple[list[_Row], list[Rejection]]:
    """plan_rows gives stripped text, None for an empty cell: values are read as they are."""
    label2 = layout.label(layout.columns["phone2"]) if "phone2" in layout.columns else "phone2"
    rows: list[_Row] = []
    rejected: list[Rejection] = []
    for record, attributes in records:
        values = record.values
        person = values["person"]
        number = values["phone"]
        phones: list[PhoneTuple] = [(number, values["kind"], person)]  # type: ignore[list-item]
        second = values["phone2"]
        if second is not None:
            e164 = to_e164(str(second), region)
            if e164 is None:
                reason = f"not a phone number: {str(second)[:39]!r}"
                rejected.append(Rejection(record.row, label2, reason))
                continue
            if e164 != number:
                phones.append((e164, None, person))  # type: ignore[arg-type]
        name, company, responsible = values["name"], values["company"], values["responsible"]
        rows.append((record.row, name, company, responsible, phones, attributes))  # type: ignore[arg-type]
    return rows, rejected


class _Target:
    """A contact being built from rows: ``base`` is the stored contact it extends (None
    for a new one); ``id`` is known once stored."""

    __slots__ = ("attributes", "base", "company", "id", "name", "phones", "responsible")

    def __init__(
        self,
        name: str,
        company: str | None,
        responsible: str | None,
        phones: dict[str, PhoneTuple],
        attributes: dict[str, Any] | None,
        base: Contact | None = None,
    ) -> None:
        self.name = name
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

    def add(self, row: _Row) -> None:
        _, name, company, responsible, phones, attributes = row
        if not self.name and name:
            self.name = name
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


Existing = tuple[Mapping[str, Sequence[tuple[int, str]]], Mapping[int, Contact]]


class _Grouping:
    """Rows into contacts, batch after batch (the rule of the module docstring)."""

    def __init__(self) -> None:
        self.new: list[_Target] = []
        self.changed: dict[int, _Target] = {}  # stored contacts this file extends, by id
        self._by_who: dict[tuple[str, str], _Target] = {}
        self._by_number: dict[str, _Target | list[_Target]] = {}
        self._loaded: dict[int, _Target] = {}

    def take(self, rows: Sequence[_Row], existing: Existing) -> list[_Target]:
        """Group a batch; the new contacts it made (in order)."""
        made: list[_Target] = []
        for row in rows:
            name, company, phones = row[1], row[2], row[4]
            target: _Target | None = None
            who: tuple[str, str] | None = None
            name_cf = ""
            if name:
                name_cf = name.casefold()
                who = (name_cf, company.casefold() if company else "")
                target = self._by_who.get(who)
            if target is None:
                target = self._same_number(phones, name_cf)
            if target is None and existing[0]:
                target = self._existing(phones, name_cf, existing)
            if target is None:
                target = _Target(name or "", company, row[3], {p[0]: p for p in phones}, row[5])
                made.append(target)
                self.new.append(target)
                if who is not None:
                    self._by_who[who] = target
            else:
                target.add(row)
                if target.id is not None:
                    self.changed[target.id] = target  # stored already: updated at the end
                if who is not None:
                    self._by_who.setdefault(who, target)
            for phone in phones:
                self._file(phone[0], target)
        return made

    def _file(self, number: str, target: _Target) -> None:
        found = self._by_number.get(number)
        if found is None:
            self._by_number[number] = target
        elif isinstance(found, list):
            if target not in found:
                found.append(target)
        elif found is not target:
            self._by_number[number] = [found, target]

    def _same_number(self, phones: Sequence[PhoneTuple], name_cf: str) -> _Target | None:
        for phone in phones:
            found = self._by_number.get(phone[0])
            if found is None:
                continue
            for target in found if isinstance(found, list) else (found,):
                if not name_cf or target.name.casefold() == name_cf:
                    return target
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


def _new_values(
    targets: Sequence[_Target], fields: list[list[str]], region: str, stamp: str
) -> tuple[list[ContactValues], list[list[Key]]]:
    """Column values and index keys of new contacts; phones alone fast (the default U7)."""
    values: list[ContactValues] = []
    keys: list[list[Key]] = []
    phones_only = fields == [[PHONE_FIELD]]
    for target in targets:
        values.append(
            raw_contact_values(
                target.display_name(),
                target.company,
                target.phones.values(),
                target.attributes or {},
                target.responsible,
                None,
                stamp,
                stamp,
            )
        )
        if phones_only:
            keys.append([(number, index) for index, number in enumerate(target.phones)])
        else:
            keys.append(search_keys(target.contact(), fields, region))
    return values, keys


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
    region, storage, repo = service.region, service.storage, service.repo
    fields, stamp = service.search_fields(), utc_text(service.clock())
    loop = asyncio.get_running_loop()
    batches: asyncio.Queue[tuple[Layout, list[Planned]] | None] = asyncio.Queue()
    stop = threading.Event()

    def on_batch(layout: Layout, records: list[Planned]) -> None:
        loop.call_soon_threadsafe(batches.put_nowait, (layout, records))

    planning = asyncio.ensure_future(
        asyncio.to_thread(
            plan_file,
            data,
            filename,
            CONTACT_FIELDS,
            mapping=mapping,
            region=region,
            progress=progress,
            with_attributes=True,
            on_batch=on_batch,
            stop=stop,
        )
    )
    planning.add_done_callback(lambda _: batches.put_nowait(None))
    grouping = _Grouping()
    rejected: list[Rejection] = []
    accepted = stored = 0
    try:
        while (batch := await batches.get()) is not None:
            rows, bad = _rows(batch[1], batch[0], region)
            rejected += bad
            accepted += len(rows)
            existing = await storage.run(_match, repo, rows)
            made = grouping.take(rows, existing)
            if preview or not made:
                continue
            values, keys = _new_values(made, fields, region, stamp)
            ids = await storage.run(repo.insert_values, values, keys)
            for target, contact_id in zip(made, ids, strict=True):
                target.id = contact_id
            stored += len(made)
            progress({"stage": "storing", "done": stored})
    except BaseException:
        stop.set()
        raise
    planned = await planning
    report = ImportReport(
        accepted=accepted,
        rejected=sorted([*planned.rejected, *rejected], key=lambda r: r.row),
        problem=planned.problem,
        layout=planned.layout,
        fields=CONTACT_FIELDS,
        preview=preview,
        created=len(grouping.new),
        updated=len([t for t in grouping.changed.values() if t.base is not None]),
    )
    if preview:
        report.sample = [contact_json(t.contact()) for t in grouping.new[:SAMPLE]]
        return report
    changed = list(grouping.changed.values())
    for start in range(0, len(changed), 5000):
        contacts = [t.contact() for t in changed[start : start + 5000]]
        keys = [search_keys(c, fields, region) for c in contacts]
        await storage.run(repo.update_many, contacts, keys, service.clock())
    progress({"stage": "done", "done": stored + len(changed)})
    return report


def _match(repo: Any, rows: Sequence[_Row]) -> Existing:
    """On the worker: the stored contacts having the batch's numbers."""
    keys = repo.ids_by_keys([phone[0] for row in rows for phone in row[4]])
    if not keys:
        return {}, {}
    ids = {cid for pairs in keys.values() for cid, _ in pairs}
    return keys, repo.get_many(ids)
