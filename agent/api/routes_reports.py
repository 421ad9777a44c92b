"""The Journal page's filtered list, its xlsx export (B8), and the "Completed calls"
report by operator and day with its own export (M3).

``from``/``to`` take an ISO date-time, or a date meaning that day in the team's time
zone (``to`` a date includes that whole day). Exports name their columns and values
in the window's language (or ``lang=``); times are shown in the team's time zone.
"""

from __future__ import annotations

import asyncio
import io
import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from agent.api.journal_query import (
    JournalFilter,
    completed_report_sync,
    export_rows,
    number_filter,
    page_sync,
)
from agent.api.registry import Registry, list_of
from agent.api.routes_phone import JOURNAL_ROW, journal_json
from agent.api.server import error_response
from agent.core.errors import InvalidInput
from agent.core.events import Direction
from agent.core.journal import JournalEntry
from agent.core.outcomes import Outcome
from agent.files import Sheet, write_xlsx
from agent.i18n import LANGUAGES, Translator

_UUID = re.compile(r"[0-9A-Fa-f]{32}|[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_REPORT_DAYS = 366
DEFAULT_REPORT_DAYS = 7

_DATE_OR_TIME = {"type": "string", "description": "ISO date-time, or a date (team time zone)"}
FILTER_QUERY: tuple[tuple[str, dict[str, Any], bool], ...] = (
    ("from", _DATE_OR_TIME, False),
    ("to", _DATE_OR_TIME, False),
    ("direction", {"type": "string", "enum": [d.value for d in Direction]}, False),
    ("outcome", {"type": "string", "enum": [o.value for o in Outcome]}, False),
    ("operator", {"type": "string", "maxLength": 64}, False),
    ("number", {"type": "string", "maxLength": 64}, False),
    ("scope", {"type": "string", "enum": ["mine", "team"]}, False),
)
LANG_QUERY = ("lang", {"type": "string", "enum": list(LANGUAGES)}, False)


# ------------------------------------------------------------------ parameters


def team_zone(services: Any) -> tzinfo:
    name = services.agent.team.time_zone
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def parse_moment(raw: str | None, name: str, zone: tzinfo, *, end: bool) -> datetime | None:
    """A date-time (naive: UTC) or a date (that day's start, or for ``end`` the next
    day's start, in ``zone``)."""
    if raw is None or raw == "":
        return None
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            if end:
                day += timedelta(days=1)
            return datetime.combine(day, time(0), zone).astimezone(UTC)
        moment = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidInput(f"{name} must be an ISO date or date-time", field=name) from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _enum(raw: str | None, name: str, kind: type[Direction] | type[Outcome]) -> Any:
    if raw is None or raw == "":
        return None
    try:
        return kind(raw)
    except ValueError as exc:
        options = ", ".join(k.value for k in kind)
        raise InvalidInput(f"{name} must be one of {options}", field=name) from exc


def filter_from(request: Request, default_scope: str = "mine") -> JournalFilter:
    services = request.app.state.services
    q = request.query_params
    zone = team_zone(services)
    scope = q.get("scope") or default_scope
    if scope not in ("mine", "team"):
        raise InvalidInput("scope must be mine or team", field="scope")
    operator = (q.get("operator") or "").strip() or None
    if operator is not None and len(operator) > 64:
        raise InvalidInput("operator is too long", field="operator")
    if operator is None and scope == "mine":
        operator = services.agent.options.ext
    raw_number = q.get("number")
    if raw_number is not None and len(raw_number) > 64:
        raise InvalidInput("number is too long", field="number")
    fragment, exact = number_filter(raw_number, services.agent.team.default_region)
    since = parse_moment(q.get("from"), "from", zone, end=False)
    until = parse_moment(q.get("to"), "to", zone, end=True)
    if since is not None and until is not None and since >= until:
        raise InvalidInput("from must be before to", field="from")
    return JournalFilter(
        since=since,
        until=until,
        direction=_enum(q.get("direction"), "direction", Direction),
        outcome=_enum(q.get("outcome"), "outcome", Outcome),
        operator_ext=operator,
        number=fragment,
        numbers_exact=exact,
    )


def _int(raw: str | None, name: str, default: int, lo: int, hi: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise InvalidInput(f"{name} must be a whole number", field=name) from exc
    if not lo <= value <= hi:
        raise InvalidInput(f"{name} must be between {lo} and {hi}", field=name)
    return value


def translator_for(request: Request) -> Translator:
    lang = request.query_params.get("lang")
    if lang and lang not in LANGUAGES:
        raise InvalidInput(f"lang must be one of {', '.join(LANGUAGES)}", field="lang")
    return Translator(lang or request.app.state.services.language())


def operator_name(services: Any, ext: str) -> str:
    names: dict[str, str] = services.agent.team.extension_users  # G3
    return names.get(ext, "")


def _xlsx_response(data: bytes, stem: str) -> Response:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    return Response(
        data,
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{stem}-{stamp}.xlsx"'},
    )


# ------------------------------------------------------------------ journal export


JOURNAL_COLUMNS = (
    "journal.col.end_at",
    "journal.col.direction",
    "journal.col.number",
    "journal.col.contact",
    "journal.col.operator",
    "journal.col.talk_s",
    "journal.col.outcome",
    "journal.col.dial_at",
    "journal.col.answer_at",
    "journal.col.source",
    "journal.col.uuid",
)


def journal_sheet(rows: Any, t: Translator, names: dict[str, str]) -> Sheet:
    def cells(entry: JournalEntry) -> list[object]:
        operator = entry.operator_ext
        if names.get(operator):
            operator = f"{operator} {names[operator]}"
        return [
            entry.end_at,
            t(f"direction.{entry.direction.value}"),
            entry.number,
            entry.contact_name or "",
            operator,
            entry.talk_s,
            t(f"outcome.{entry.outcome.value}") if entry.outcome else "",
            entry.dial_at,
            entry.answer_at,
            t(f"source.{entry.source.value}"),
            entry.uuid,
        ]

    widths = (19.0, 10.0, 16.0, 24.0, 16.0, 8.0, 14.0, 19.0, 19.0, 10.0, 34.0)
    return Sheet(
        t("journal.title"),
        [t(key) for key in JOURNAL_COLUMNS],
        (cells(entry) for entry in rows),
        widths,
    )


# ------------------------------------------------------------------ the report


def report_days(request: Request, zone: tzinfo) -> tuple[datetime, datetime, list[date]]:
    q = request.query_params
    now_local = datetime.now(zone)
    since = parse_moment(q.get("from"), "from", zone, end=False)
    until = parse_moment(q.get("to"), "to", zone, end=True)
    if until is None:
        until = datetime.combine(now_local.date() + timedelta(days=1), time(0), zone)
        until = until.astimezone(UTC)
    if since is None:
        first = until.astimezone(zone).date() - timedelta(days=DEFAULT_REPORT_DAYS)
        since = datetime.combine(first, time(0), zone).astimezone(UTC)
    if since >= until:
        raise InvalidInput("from must be before to", field="from")
    first_day = since.astimezone(zone).date()
    last_day = (until - timedelta(microseconds=1)).astimezone(zone).date()
    count = (last_day - first_day).days + 1
    if count > MAX_REPORT_DAYS:
        raise InvalidInput(f"the report covers at most {MAX_REPORT_DAYS} days", field="from")
    return since, until, [first_day + timedelta(days=i) for i in range(count)]


async def completed_report(request: Request) -> tuple[dict[str, Any], Any]:
    services = request.app.state.services
    zone = team_zone(services)
    since, until, days = report_days(request, zone)
    base = filter_from(request, default_scope="team")
    flt = JournalFilter(
        since=since,
        until=until,
        direction=base.direction,
        operator_ext=base.operator_ext,
        number=base.number,
        numbers_exact=base.numbers_exact,
    )
    storage = services.storage
    report = await storage.run(completed_report_sync, storage.db, flt, zone, days)
    operators = []
    for ext in sorted(report.by_operator):
        tallies = report.by_operator[ext]
        operators.append(
            {
                "ext": ext,
                "name": operator_name(services, ext),
                "days": [tallies[d].as_json() if d in tallies else _zero() for d in days],
                "total": report.totals[ext].as_json(),
            }
        )
    body = {
        "from": since.isoformat(),
        "to": until.isoformat(),
        "time_zone": str(zone),
        "completed_talk_s": services.agent.team.completed_talk_s,
        "days": [d.isoformat() for d in days],
        "operators": operators,
        "by_day": [report.by_day[d].as_json() if d in report.by_day else _zero() for d in days],
        "total": report.total.as_json(),
    }
    return body, report


def _zero() -> dict[str, int]:
    return {"calls": 0, "completed": 0, "talk_s": 0}


def report_sheets(body: dict[str, Any], t: Translator) -> list[Sheet]:
    days = body["days"]
    header = [t("report.col.operator"), t("report.col.name"), *days, t("report.col.total")]

    def table(key: str) -> list[list[object]]:
        rows: list[list[object]] = [
            [op["ext"], op["name"], *(d[key] for d in op["days"]), op["total"][key]]
            for op in body["operators"]
        ]
        rows.append([t("report.total"), "", *(d[key] for d in body["by_day"]), body["total"][key]])
        return rows

    return [
        Sheet(t("report.completed"), header, table("completed")),
        Sheet(t("report.calls"), header, table("calls")),
        Sheet(t("report.talk_s"), header, table("talk_s")),
    ]


REPORT_TALLY = {
    "type": "object",
    "properties": {
        "calls": {"type": "integer"},
        "completed": {"type": "integer"},
        "talk_s": {"type": "integer"},
    },
}
REPORT = {
    "type": "object",
    "required": ["from", "to", "days", "operators", "by_day", "total"],
    "properties": {
        "from": {"type": "string"},
        "to": {"type": "string"},
        "time_zone": {"type": "string"},
        "completed_talk_s": {"type": "integer"},
        "days": {"type": "array", "items": {"type": "string"}},
        "operators": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "ext": {"type": "string"},
                    "name": {"type": "string"},
                    "days": {"type": "array", "items": REPORT_TALLY},
                    "total": REPORT_TALLY,
                },
            },
        },
        "by_day": {"type": "array", "items": REPORT_TALLY},
        "total": REPORT_TALLY,
    },
}


# ------------------------------------------------------------------ endpoints


def register(api: Registry) -> None:
    @api.endpoint(
        "GET",
        "/api/journal/search",
        summary="Finished calls filtered by date, direction, outcome, operator, number",
        tag="journal",
        query=(
            ("limit", {"type": "integer", "minimum": 1, "maximum": 500}, False),
            ("offset", {"type": "integer", "minimum": 0, "maximum": 10**9}, False),
            *FILTER_QUERY,
        ),
        response=list_of(JOURNAL_ROW),
        errors=(400, 422),
    )
    async def search(request: Request) -> Response:
        flt = filter_from(request)
        q = request.query_params
        limit = _int(q.get("limit"), "limit", 50, 1, 500)
        offset = _int(q.get("offset"), "offset", 0, 0, 10**9)
        storage = request.app.state.services.storage
        rows, total = await storage.run(page_sync, storage.db, flt, limit=limit, offset=offset)
        next_offset = offset + len(rows) if len(rows) == limit else None
        return JSONResponse(
            {"items": [journal_json(r) for r in rows], "total": total, "next_offset": next_offset}
        )

    @api.endpoint(
        "GET",
        "/api/calls/{uuid}",
        summary="One call of the journal by its uuid (dashed or not)",
        tag="journal",
        response=JOURNAL_ROW,
        errors=(404, 422),
    )
    async def one_call(request: Request) -> Response:
        uuid = request.path_params["uuid"]
        if not _UUID.fullmatch(uuid):
            raise InvalidInput("not a call uuid", field="uuid")
        storage = request.app.state.services.storage
        entry = await storage.run(storage.journal.get, uuid)
        if entry is None:
            return error_response(404, "not_found", "no such call in the journal")
        return JSONResponse(journal_json(entry))

    @api.endpoint(
        "GET",
        "/api/journal/export",
        summary="The filtered journal as an xlsx workbook (B8)",
        tag="journal",
        query=(*FILTER_QUERY, LANG_QUERY),
        errors=(400, 422),
    )
    async def export(request: Request) -> Response:
        services = request.app.state.services
        flt = filter_from(request)
        t = translator_for(request)
        zone = team_zone(services)
        names = dict(services.agent.team.extension_users)

        def build() -> bytes:
            buffer = io.BytesIO()
            rows = export_rows(services.storage, flt)
            write_xlsx(buffer, [journal_sheet(rows, t, names)], time_zone=zone)
            return buffer.getvalue()

        return _xlsx_response(await asyncio.to_thread(build), "journal")

    @api.endpoint(
        "GET",
        "/api/reports/completed",
        summary="Completed calls (talk longer than G4) by operator and day",
        tag="reports",
        query=FILTER_QUERY,
        response=REPORT,
        errors=(400, 422),
    )
    async def completed(request: Request) -> Response:
        body, _ = await completed_report(request)
        return JSONResponse(body)

    @api.endpoint(
        "GET",
        "/api/reports/completed/export",
        summary="The Completed calls report as an xlsx workbook (B8)",
        tag="reports",
        query=(*FILTER_QUERY, LANG_QUERY),
        errors=(400, 422),
    )
    async def completed_export(request: Request) -> Response:
        body, _ = await completed_report(request)
        t = translator_for(request)

        def build() -> bytes:
            buffer = io.BytesIO()
            write_xlsx(buffer, report_sheets(body, t))
            return buffer.getvalue()

        return _xlsx_response(await asyncio.to_thread(build), "completed-calls")
