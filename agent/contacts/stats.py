"""Contact statistics (U9, M5) and ABC classes (M6), read from storage.

Each block is shown as the operator's settings say: sales and events as a chart
(a series by month) or a report (the rows), the last events as a list or a
table, or not at all (``none``: the block is null and nothing is read for it).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any, Final

from agent.contacts.service import ContactService
from agent.contacts.shapes import event_json
from agent.core.contact_stats import (
    DEFAULT_THRESHOLDS,
    AbcClass,
    check_thresholds,
    classify_abc,
    events_by_month,
    sales_by_month,
    summarise_sales,
)

MONTHS: Final = 12
LAST_EVENTS: Final = 10


def money(value: Decimal) -> str:
    """Amounts travel as text ("1234.50"): JSON numbers would round them."""
    return f"{value:.2f}"


class StatsService:
    def __init__(self, contacts: ContactService) -> None:
        self.contacts = contacts
        self._abc: dict[int, AbcClass] | None = None
        contacts.changed_listeners.append(self.forget)

    def forget(self) -> None:
        """Sales or contacts changed: ABC classes are counted again when next asked."""
        self._abc = None

    def thresholds(self) -> tuple[float, float]:
        value = list(self.contacts.settings.team.abc_thresholds)
        if check_thresholds(value) is not None:
            return DEFAULT_THRESHOLDS
        return value[0], value[1]

    async def abc_classes(self) -> dict[int, AbcClass]:
        """Every contact's ABC class by sales (contacts without sales have none)."""
        if self._abc is None:
            revenue = await self.contacts.storage.run(self.contacts.sales.revenue_by_contact)
            self._abc = classify_abc(revenue, self.thresholds())
        return self._abc

    async def abc_of(self, contact_id: int) -> AbcClass | None:
        return (await self.abc_classes()).get(contact_id)

    async def stats(self, contact_id: int, months: int = MONTHS) -> dict[str, Any]:
        """``GET /api/contacts/{id}/stats``: U9's three blocks per the operator's views."""
        contact = await self.contacts.get(contact_id)
        operator = self.contacts.settings.operator
        now, tz = self.contacts.clock(), self.contacts.tz
        storage, events = self.contacts.storage, self.contacts.events
        result: dict[str, Any] = {
            "contact_id": contact_id,
            "name": contact.name,
            "abc": await self.abc_of(contact_id),
            "months": months,
            "sales": None,
            "events": None,
            "last_events": None,
        }
        if operator.stats_sales != "none":
            sales = await storage.run(self.contacts.sales.for_contact, contact_id)
            summary = summarise_sales(sales)
            block: dict[str, Any] = {
                "view": operator.stats_sales,
                "total": money(summary.total),
                "count": summary.count,
                "first": summary.first.isoformat() if summary.first else None,
                "last": summary.last.isoformat() if summary.last else None,
                "by_month": [
                    {"month": m.month, "amount": money(m.amount), "count": m.count}
                    for m in sales_by_month(sales, now=now, tz=tz, months=months)
                ],
            }
            if operator.stats_sales == "report":
                block["rows"] = [
                    {"date": day.isoformat(), "amount": money(amount)}
                    for day, amount in reversed(sales)
                ]
            result["sales"] = block
        if operator.stats_events != "none":
            since = now - timedelta(days=31 * months + 31)
            made = await storage.run(events.kinds_since, contact_id, since)
            series = events_by_month(made, now=now, tz=tz, months=months)
            result["events"] = {
                "view": operator.stats_events,
                "total": sum(m.count for m in series),
                "by_month": [
                    {"month": m.month, "count": m.count, "by_kind": dict(m.by_kind)} for m in series
                ],
            }
        if operator.stats_last_events != "none":
            recent = await storage.run(events.recent, contact_id, LAST_EVENTS)
            result["last_events"] = {
                "view": operator.stats_last_events,
                "items": [event_json(e) for e in recent],
            }
        return result
