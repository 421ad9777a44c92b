"""Contact statistics on a fixed data set (U9, M5) and ABC classes from stored sales (M6)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from agent.core.call_events import EventDraft, EventState
from tests.contacts.conftest import Area


async def fixed_data(area: Area) -> tuple[int, int, int]:
    """Three customers: 50 % + 30 % + 20 % of the revenue; events for the first."""
    a = await area.add("Альфа", "0442249895")
    b = await area.add("Бета", "0501234567")
    c = await area.add("Гамма", "0671112233")
    assert a.id and b.id and c.id
    sales = [
        (a.id, None, date(2024, 1, 10), 100_000),
        (a.id, None, date(2024, 3, 1), 150_000),
        (a.id, None, date(2023, 2, 1), 250_000),  # more than 12 months ago
        (b.id, None, date(2024, 2, 29), 300_000),
        (c.id, None, date(2024, 3, 14), 200_000),
    ]
    await area.storage.run(area.contacts.sales.insert_many, sales, area.clock.now)
    for day, kind, state in [
        (datetime(2024, 1, 5, 9, tzinfo=UTC), "call", EventState.SAVED),
        (datetime(2024, 3, 2, 9, tzinfo=UTC), "call", EventState.SAVED),
        (datetime(2024, 3, 3, 9, tzinfo=UTC), "meeting", EventState.SAVED),
        (datetime(2024, 3, 4, 9, tzinfo=UTC), "call", EventState.OPEN),
    ]:
        area.clock.now = day
        await area.events.create_event(
            EventDraft(
                operator_ext="001",
                contact_id=a.id,
                kind=kind,
                state=state,
                notes=f"{kind} {day:%d.%m}",
            )
        )
    declined = await area.events.create_event(
        EventDraft(operator_ext="001", contact_id=a.id, call_uuid="d" * 32)
    )
    await area.events.decline(declined.id)
    area.clock.now = datetime(2024, 3, 15, 10, tzinfo=UTC)
    return a.id, b.id, c.id


async def test_statistics_of_a_contact_on_a_fixed_data_set(area: Area) -> None:
    a, _, _ = await fixed_data(area)
    area.settings.set(stats_sales="report", stats_events="chart", stats_last_events="table")

    stats = await area.stats.stats(a, months=3)

    assert stats["abc"] == "A" and stats["months"] == 3
    sales = stats["sales"]
    assert sales["view"] == "report"
    assert (sales["total"], sales["count"]) == ("5000.00", 3)
    assert (sales["first"], sales["last"]) == ("2023-02-01", "2024-03-01")
    assert sales["by_month"] == [
        {"month": "2024-01", "amount": "1000.00", "count": 1},
        {"month": "2024-02", "amount": "0.00", "count": 0},
        {"month": "2024-03", "amount": "1500.00", "count": 1},
    ]
    assert sales["rows"][0] == {"date": "2024-03-01", "amount": "1500.00"}
    events = stats["events"]
    assert events["view"] == "chart" and events["total"] == 4
    assert [(m["month"], m["count"], m["by_kind"]) for m in events["by_month"]] == [
        ("2024-01", 1, {"call": 1}),
        ("2024-02", 0, {}),
        ("2024-03", 3, {"call": 2, "meeting": 1}),
    ]
    last = stats["last_events"]
    assert last["view"] == "table"
    assert [e["notes"] for e in last["items"]] == [
        "call 04.03",
        "meeting 03.03",
        "call 02.03",
        "call 05.01",
    ]


async def test_a_block_set_to_none_is_not_read(area: Area) -> None:
    a, _, _ = await fixed_data(area)
    area.settings.set(stats_sales="none", stats_events="none", stats_last_events="none")
    stats = await area.stats.stats(a)
    assert (stats["sales"], stats["events"], stats["last_events"]) == (None, None, None)


async def test_abc_classes_come_from_stored_sales_and_the_team_thresholds(area: Area) -> None:
    a, b, c = await fixed_data(area)
    # Revenue of all time: a 5000, b 3000, c 2000 of 10 000; above each 0 %, 50 %, 80 %.
    assert await area.stats.abc_classes() == {a: "A", b: "A", c: "B"}
    area.settings.team = area.settings.team.__class__(abc_thresholds=[40, 70])
    area.stats.forget()
    assert await area.stats.abc_classes() == {a: "A", b: "B", c: "C"}
    # Merging moves the sales (c 7000, b 3000: above b 70 %, not under 70) and the
    # classes are counted again.
    await area.contacts.merge(c, [a])
    assert await area.stats.abc_classes() == {c: "A", b: "C"}
