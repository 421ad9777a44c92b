"""Contact statistics (U9, M5) and the ABC classification of contacts by sales (M6).

Pure: the adapter reads a contact's sales and events and hands them here with
``now`` and the team's time zone; months are calendar months in that zone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Final, Literal

AbcClass = Literal["A", "B", "C"]
DEFAULT_THRESHOLDS: Final = (80, 95)


def check_thresholds(value: object) -> str | None:
    """The problem with ``abc_thresholds``, or None: two percentages, rising, 0 < a < b < 100."""
    if not (isinstance(value, list | tuple) and len(value) == 2):
        return "must be two percentages, e.g. [80, 95]"
    a, b = value
    if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in (a, b)):
        return "must be numbers"
    if not 0 < a < b < 100:
        return "must rise within 0..100, e.g. [80, 95]"
    return None


def classify_abc(
    revenue: Mapping[int, Decimal], thresholds: Sequence[float] = DEFAULT_THRESHOLDS
) -> dict[int, AbcClass]:
    """ABC classes of contacts by revenue (manual §3, "АВС-классификация").

    Contacts are ranked by revenue, largest first (equal revenue: smaller id
    first). A contact is **A** while the revenue of the contacts ranked above it
    is under ``thresholds[0]`` % of the total (so A brings the first 80 %), **B**
    while it is under ``thresholds[1]`` % (the next 15 %), else **C**. Contacts
    without a positive revenue get no class (they are not customers yet).
    """
    if check_thresholds(list(thresholds)) is not None:
        raise ValueError(f"bad ABC thresholds {list(thresholds)!r}")
    a_share, b_share = (Decimal(str(t)) for t in thresholds)
    ranked = sorted(
        ((cid, amount) for cid, amount in revenue.items() if amount > 0),
        key=lambda item: (-item[1], item[0]),
    )
    total = sum((amount for _, amount in ranked), Decimal(0))
    classes: dict[int, AbcClass] = {}
    before = Decimal(0)
    for contact_id, amount in ranked:
        share = before * 100 / total
        classes[contact_id] = "A" if share < a_share else "B" if share < b_share else "C"
        before += amount
    return classes


# ------------------------------------------------------------------ by month


def month_of(at: date | datetime, tz: tzinfo) -> str:
    """``YYYY-MM`` of a day, or of an instant in the team's zone."""
    if isinstance(at, datetime):
        at = at.astimezone(tz)
    return f"{at.year:04d}-{at.month:02d}"


def last_months(now: datetime, tz: tzinfo, count: int) -> list[str]:
    """The ``count`` months ending with the current one, oldest first."""
    local = now.astimezone(tz)
    year, month = local.year, local.month
    months = []
    for _ in range(count):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months[::-1]


@dataclass(frozen=True, slots=True)
class MonthSales:
    month: str
    amount: Decimal
    count: int


@dataclass(frozen=True, slots=True)
class MonthEvents:
    month: str
    count: int
    by_kind: Mapping[str, int]


def sales_by_month(
    sales: Iterable[tuple[date, Decimal]], *, now: datetime, tz: tzinfo, months: int = 12
) -> list[MonthSales]:
    """Sales summed per month over the last ``months`` months, empty months included
    (a chart wants every bar); older and future sales are left out."""
    wanted = last_months(now, tz, months)
    amounts: dict[str, Decimal] = dict.fromkeys(wanted, Decimal(0))
    counts: Counter[str] = Counter()
    for day, amount in sales:
        key = month_of(day, tz)
        if key in amounts:
            amounts[key] += amount
            counts[key] += 1
    return [MonthSales(m, amounts[m], counts[m]) for m in wanted]


def events_by_month(
    events: Iterable[tuple[datetime, str]], *, now: datetime, tz: tzinfo, months: int = 12
) -> list[MonthEvents]:
    """Events counted per month (by when they were made) and per kind."""
    wanted = last_months(now, tz, months)
    kinds: dict[str, Counter[str]] = {m: Counter() for m in wanted}
    for at, kind in events:
        key = month_of(at, tz)
        if key in kinds:
            kinds[key][kind] += 1
    return [MonthEvents(m, sum(kinds[m].values()), dict(kinds[m])) for m in wanted]


@dataclass(frozen=True, slots=True)
class SalesSummary:
    total: Decimal
    count: int
    first: date | None
    last: date | None


def summarise_sales(sales: Iterable[tuple[date, Decimal]]) -> SalesSummary:
    total, count = Decimal(0), 0
    first: date | None = None
    last: date | None = None
    for day, amount in sales:
        total += amount
        count += 1
        first = day if first is None or day < first else first
        last = day if last is None or day > last else last
    return SalesSummary(total, count, first, last)


def to_cents(amount: Decimal) -> int:
    """Money is stored in minor units, so sums are exact on both engines."""
    return int((amount * 100).to_integral_value())


def from_cents(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))
