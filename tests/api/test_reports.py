"""The Journal page's filters, its xlsx export, and the "Completed calls" report by
operator and day (M3, B8), on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from openpyxl import load_workbook

from agent.core.events import Direction
from agent.core.journal import JournalEntry, Source
from agent.core.outcomes import Outcome
from agent.simulator import SimulatorInfo
from tests.api.conftest import Api, start_api
from tests.scenarios.conftest import AgentFactory

T0 = datetime(2025, 3, 3, 7, 0, tzinfo=UTC)  # 09:00 in Kyiv (EET, UTC+2)


def call(
    i: int,
    *,
    ext: str = "001",
    direction: Direction = Direction.OUT,
    number: str = "+380501234567",
    outcome: Outcome = Outcome.ANSWERED,
    talk_s: int = 30,
    end: datetime | None = None,
) -> JournalEntry:
    end_at = end or T0 + timedelta(hours=i)
    answered = outcome in (Outcome.ANSWERED, Outcome.NOT_REACHED)
    return JournalEntry(
        uuid=f"{i:032x}",
        direction=direction,
        number=number,
        operator_ext=ext,
        dial_at=end_at - timedelta(seconds=talk_s + 10),
        answer_at=end_at - timedelta(seconds=talk_s) if answered else None,
        end_at=end_at,
        talk_s=talk_s if answered else 0,
        disposition=0 if answered else 1,
        outcome=outcome,
        contact_name='=HYPERLINK("x")' if i == 3 else None,
        source=Source.LIVE,
        final=True,
    )


JOURNAL = [
    call(1),
    call(2, direction=Direction.IN, number="+380671112233", outcome=Outcome.NO_ANSWER),
    call(3, ext="002"),
    call(4, outcome=Outcome.NOT_REACHED, talk_s=5),
    call(5, ext="002", outcome=Outcome.BUSY, number="+380931234567"),
    # The next local day in Kyiv (23:30 UTC is 01:30 there).
    call(6, end=datetime(2025, 3, 3, 23, 30, tzinfo=UTC)),
]


@pytest.fixture
async def filled(db_url: str, agent_factory: AgentFactory, simulator: SimulatorInfo) -> Api:
    # db_url first: set up before the agent, dropped after the agent stopped.
    started = await start_api(
        agent_factory,
        simulator,
        db_url=db_url,
        team={"time_zone": "Europe/Kyiv", "extension_users": {"002": "Петро Бондар"}},
    )
    storage = started.services.storage
    await storage.run(storage.journal.upsert_many, JOURNAL)
    return started


async def uuids(api: Api, **params: Any) -> list[str]:
    response = await api.get("/api/journal/search", **params)
    assert response.status_code == 200, response.text
    return [row["uuid"][-1] for row in response.json()["items"]]


async def test_the_journal_is_newest_first_and_mine_by_default(filled: Api) -> None:
    assert await uuids(filled) == ["6", "4", "2", "1"]
    assert await uuids(filled, scope="team") == ["6", "5", "4", "3", "2", "1"]


async def test_the_journal_filters_by_direction_outcome_operator_and_number(
    filled: Api,
) -> None:
    assert await uuids(filled, direction="in") == ["2"]
    assert await uuids(filled, scope="team", outcome="busy") == ["5"]
    assert await uuids(filled, operator="002") == ["5", "3"]
    assert await uuids(filled, number="067 111 22 33") == ["2"]  # a whole number, any format
    assert await uuids(filled, scope="team", number="1234") == ["6", "5", "4", "3", "1"]


async def test_the_journal_filters_by_local_dates(filled: Api) -> None:
    assert await uuids(filled, scope="team", **{"from": "2025-03-04"}) == ["6"]
    assert await uuids(filled, scope="team", to="2025-03-03") == ["5", "4", "3", "2", "1"]
    assert await uuids(
        filled, **{"from": "2025-03-03T08:30:00+00:00", "to": "2025-03-03T10:00:00Z"}
    ) == ["2"]


async def test_paging_gives_the_total_and_the_next_offset(filled: Api) -> None:
    first = (await filled.get("/api/journal/search", scope="team", limit=4)).json()
    assert first["total"] == 6 and first["next_offset"] == 4
    rest = (await filled.get("/api/journal/search", scope="team", limit=4, offset=4)).json()
    assert len(rest["items"]) == 2 and rest["next_offset"] is None


BAD_FILTERS = [
    ({"direction": "sideways"}, "direction"),
    ({"outcome": "maybe"}, "outcome"),
    ({"from": "yesterday"}, "from"),
    ({"from": "2025-03-05", "to": "2025-03-01"}, "from"),
    ({"limit": "0"}, "limit"),
    ({"number": "abc"}, "number"),
    ({"scope": "everyone"}, "scope"),
]


async def test_a_bad_filter_names_its_field(api: Api) -> None:
    for params, field in BAD_FILTERS:
        response = await api.get("/api/journal/search", **params)
        assert response.status_code == 422, params
        assert response.json()["error"]["field"] == field, params


async def test_one_call_is_found_by_its_uuid_dashed_or_not(filled: Api) -> None:
    plain = f"{1:032x}"
    dashed = f"{plain[:8]}-{plain[8:12]}-{plain[12:16]}-{plain[16:20]}-{plain[20:]}"
    assert (await filled.get(f"/api/calls/{dashed}")).json()["uuid"] == plain
    assert (await filled.get(f"/api/calls/{'f' * 32}")).status_code == 404
    assert (await filled.get("/api/calls/not-a-uuid")).status_code == 422


async def test_the_journal_exports_to_xlsx_in_the_chosen_language(filled: Api) -> None:
    response = await filled.get("/api/journal/export", scope="team", lang="uk")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("Завершено", "Напрямок", "Номер")
    assert len(rows) == 1 + len(JOURNAL)
    assert rows[1][0] == datetime(2025, 3, 4, 1, 30)  # Kyiv time, as Excel has no zones
    by_uuid = {row[-1]: row for row in rows[1:]}
    assert by_uuid[f"{5:032x}"][4] == "002 Петро Бондар"
    assert by_uuid[f"{5:032x}"][6] == "Зайнято"
    assert by_uuid[f"{3:032x}"][3] == '=HYPERLINK("x")'  # text, never a formula


async def test_the_export_keeps_the_filters(filled: Api) -> None:
    response = await filled.get("/api/journal/export", outcome="answered", lang="en")
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    assert [row[-1][-1] for row in rows[1:]] == ["6", "1"]


async def test_completed_calls_are_counted_by_operator_and_local_day(filled: Api) -> None:
    response = await filled.get(
        "/api/reports/completed", **{"from": "2025-03-03", "to": "2025-03-04"}
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["days"] == ["2025-03-03", "2025-03-04"]
    assert report["time_zone"] == "Europe/Kyiv"
    by_ext = {op["ext"]: op for op in report["operators"]}
    assert by_ext["001"]["days"] == [
        {"calls": 3, "completed": 1, "talk_s": 30},  # answered, no answer, not reached (G4)
        {"calls": 1, "completed": 1, "talk_s": 30},
    ]
    assert by_ext["002"]["name"] == "Петро Бондар"
    assert by_ext["002"]["total"] == {"calls": 2, "completed": 1, "talk_s": 30}
    assert report["total"] == {"calls": 6, "completed": 3, "talk_s": 90}
    assert [d["completed"] for d in report["by_day"]] == [2, 1]


async def test_the_report_refuses_more_than_a_year(filled: Api) -> None:
    response = await filled.get(
        "/api/reports/completed", **{"from": "2023-01-01", "to": "2025-01-01"}
    )
    assert response.status_code == 422 and response.json()["error"]["field"] == "from"


async def test_the_report_exports_to_xlsx_with_a_sheet_per_figure(filled: Api) -> None:
    response = await filled.get(
        "/api/reports/completed/export", **{"from": "2025-03-03", "to": "2025-03-04", "lang": "ru"}
    )
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["Состоявшиеся звонки", "Все звонки", "Время разговоров"]
    rows = list(book["Состоявшиеся звонки"].iter_rows(values_only=True))
    assert rows[0] == ("Оператор", "Имя", "2025-03-03", "2025-03-04", "Итого")
    assert rows[1] == ("001", None, 1, 1, 2)
    assert rows[-1] == ("Итого", None, 2, 1, 3)
