"""The sales import (U9 statistics, M6 ABC classes; contracts.md §4 "import").

Rows of (contact or number, date, amount) from csv, xls, xlsx or ods. A row finds
its contact by number (the one with the row's contact name first, else the oldest),
else by the contact's exact name or id; docs/contacts.md lists the rejection reasons.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Final

from agent.contacts.service import ContactService
from agent.contacts.tables import (
    BATCH,
    SAMPLE,
    ImportReport,
    PlannedFile,
    Progress,
    no_progress,
    plan_file,
)
from agent.core.contact_stats import to_cents
from agent.core.contacts import lookup_key
from agent.core.table_plan import FieldSpec, Rejection

SALES_FIELDS: Final = (
    FieldSpec(
        "contact",
        "text",
        aliases=(
            "contact",
            "customer",
            "client",
            "name",
            "контакт",
            "клієнт",
            "покупець",
            "контрагент",
            "клиент",
            "покупатель",
        ),
    ),
    FieldSpec("number", "phone", aliases=("phone", "number", "телефон", "номер", "тел")),
    FieldSpec("date", "date", required=True, aliases=("date", "дата", "day", "sold on")),
    FieldSpec(
        "amount",
        "money",
        required=True,
        aliases=("amount", "sum", "total", "revenue", "сума", "сумма", "виручка", "выручка"),
    ),
)


def _resolve_sales(
    planned: PlannedFile,
    by_key: Mapping[str, Sequence[tuple[int, str]]],
    by_name: Mapping[str, Sequence[int]],
    ids: set[int],
) -> tuple[list[tuple[int, str | None, date, int]], list[Rejection]]:
    layout = planned.layout

    def label(name: str) -> str:
        return layout.label(layout.columns[name]) if name in layout.columns else name

    rows: list[tuple[int, str | None, date, int]] = []
    rejected: list[Rejection] = []
    for record, _ in planned.records:
        values = record.values
        number = values.get("number")
        who = _text(values, "contact")
        contact_id: int | None = None
        if isinstance(number, str):
            pairs = by_key.get(number, ())
            named = [cid for cid, name in pairs if who and name.casefold() == who.casefold()]
            chosen = named or [cid for cid, _ in pairs]
            if not chosen:
                rejected.append(
                    Rejection(
                        record.row, label("number"), f"no contact has this number: {number!r}"
                    )
                )
                continue
            contact_id = chosen[0]
        elif who is not None:
            found = [int(who)] if who.isdigit() and int(who) in ids else list(by_name.get(who, ()))
            if len(found) != 1:
                reason = "no contact named" if not found else "several contacts are named"
                rejected.append(Rejection(record.row, label("contact"), f"{reason} {who[:39]!r}"))
                continue
            contact_id = found[0]
        else:
            rejected.append(Rejection(record.row, label("contact"), "contact or number required"))
            continue
        day = values["date"]
        amount = values["amount"]
        assert isinstance(day, date) and isinstance(amount, Decimal)
        rows.append(
            (contact_id, number if isinstance(number, str) else None, day, to_cents(amount))
        )
    return rows, rejected


async def import_sales(
    service: ContactService,
    data: bytes,
    filename: str,
    *,
    mapping: Mapping[str, str] | None = None,
    preview: bool = False,
    replace: bool = False,
    progress: Progress = no_progress,
) -> ImportReport:
    """``POST /api/sales/import``: rows of (contact or number, date, amount). A row
        finds its contact by number (the one with the row's contact name first), else by
        the contact's exact name or id. ``replace`` drops every stored sale first; without
    it, sales already stored are not stored again (:func:`new_sales`)."""
    region, storage, repo = service.region, service.storage, service.repo
    planned = await asyncio.to_thread(
        plan_file, data, filename, SALES_FIELDS, mapping=mapping, region=region, progress=progress
    )
    values = [r.values for r, _ in planned.records]
    numbers = sorted({n for v in values if isinstance(n := v.get("number"), str)})
    names = sorted({n for v in values if (n := _text(v, "contact")) and not v.get("number")})
    ids = {int(n) for n in names if n.isdigit()}
    by_key = await storage.run(repo.ids_by_keys, [lookup_key(n, region) or n for n in numbers])
    by_name = await storage.run(repo.ids_by_names, names)
    live = await storage.run(repo.existing_ids, ids) if ids else set()
    rows, rejected = _resolve_sales(planned, by_key, by_name, live)
    report = ImportReport(
        accepted=len(rows),
        rejected=sorted([*planned.rejected, *rejected], key=lambda r: r.row),
        problem=planned.problem,
        layout=planned.layout,
        fields=SALES_FIELDS,
        preview=preview,
        created=len(rows),
    )
    if not replace:  # a preview counts what the import would store, too
        stored = await storage.run(service.sales.counts, {cid for cid, _, _, _ in rows})
        rows = new_sales(rows, stored)
        report.created = len(rows)
    if preview:
        report.sample = [
            {
                "contact_id": cid,
                "number": number,
                "date": day.isoformat(),
                "amount": f"{cents / 100:.2f}",
            }
            for cid, number, day, cents in rows[:SAMPLE]
        ]
        return report
    if replace:
        await storage.run(service.sales.delete_all)
    for start in range(0, len(rows), BATCH):
        await storage.run(service.sales.insert_many, rows[start : start + BATCH], service.clock())
        progress({"stage": "storing", "done": min(start + BATCH, len(rows)), "total": len(rows)})
    service.notify_changed()  # ABC classes are counted again
    return report


def new_sales(
    rows: Sequence[tuple[int, str | None, date, int]],
    stored: Mapping[tuple[int, date, int], int],
) -> list[tuple[int, str | None, date, int]]:
    """The rows not stored yet, so that importing a file again, or an export that
    overlaps the last one, adds nothing twice (F4: revenue and ABC classes doubled).
    Sales are told apart by (contact, day, amount): a file with two such rows keeps
    both, and a second import of it adds none."""
    seen: dict[tuple[int, date, int], int] = {}
    fresh = []
    for row in rows:
        key = (row[0], row[2], row[3])
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > stored.get(key, 0):
            fresh.append(row)
    return fresh


def _text(values: Mapping[str, object], name: str) -> str | None:
    value = values.get(name)  # plan_rows gives stripped text, None for an empty cell
    return value if isinstance(value, str) and value else None
