"""What the tray shows, decided without a GUI (agent/desktop/view.py; U3, B12, B16)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from agent.core.events import Direction
from agent.core.journal import JournalEntry, Source
from agent.desktop.view import (
    TOOLTIP_MAX,
    DayFigures,
    DialerView,
    IconState,
    LineView,
    TrayView,
    badge_text,
    day_figures,
    day_start,
    dialer_view,
    icon_state,
    lines_view,
    recent_numbers,
    state_text,
    tomorrow_at,
    tooltip,
)

KYIV = ZoneInfo("Europe/Kyiv")
NOW = datetime(2025, 3, 14, 10, 30, tzinfo=UTC)  # 12:30 in Kyiv
ONLINE = TrayView(extension="001", link="online", dnd_available=True)
CALL = LineView("+380442249895", "ACME", "in", talking=True)


@pytest.mark.parametrize(
    ("view", "state"),
    [
        (TrayView(extension="001"), IconState.OFFLINE),
        (TrayView(extension="001", link="connecting"), IconState.CONNECTING),
        (ONLINE, IconState.ONLINE),
        (TrayView(extension="001", link="online", dnd=True), IconState.DND),
        (TrayView(extension="001", link="online", dnd=True, lines=(CALL,)), IconState.ON_CALL),
        (
            TrayView(extension="001", link="online", dialer=DialerView("calling")),
            IconState.DIALER_RUNNING,
        ),
        (
            TrayView(extension="001", link="online", dialer=DialerView("paused")),
            IconState.DIALER_PAUSED,
        ),
        (TrayView(extension="001", link="online", dialer=DialerView("idle")), IconState.ONLINE),
        (TrayView(extension="001", link="offline", lines=(CALL,), dnd=True), IconState.OFFLINE),
    ],
)
def test_one_icon_per_state_and_the_most_urgent_fact_wins(view: TrayView, state: IconState) -> None:
    assert icon_state(view) == state


def test_the_missed_badge_counts_up_to_nine() -> None:
    assert [badge_text(n) for n in (0, 1, 9, 10, 250)] == [None, "1", "9", "9+", "9+"]


def test_the_tooltip_holds_the_state_and_todays_figures_b16() -> None:
    view = TrayView(
        extension="001",
        link="online",
        dnd=True,
        dnd_until=datetime(2025, 3, 14, 11, 0, tzinfo=UTC),
        figures=DayFigures(calls=12, talk_s=3725, completed=7, missed=2),
    )
    assert tooltip(view, KYIV) == (
        "Phonet Agent\n"
        "Ext 001 · online · DND until 13:00\n"
        "Today: 12 calls, talk 1:02:05, 7 completed\n"
        "2 missed"
    )


def test_the_tooltip_never_exceeds_what_windows_shows() -> None:
    view = TrayView(
        extension="001",
        link="online",
        lines=(LineView("+380442249895", "A very long company name " * 5, "out", True),),
        figures=DayFigures(calls=99999, talk_s=999999, completed=99999, missed=999),
        dialer=DialerView("calling", progress=(1000, 5000)),
    )
    assert len(tooltip(view, KYIV)) <= TOOLTIP_MAX


def test_the_state_line_says_why_the_link_is_down() -> None:
    refused = TrayView(extension="001", connect_wanted=False, problem="API key refused")
    assert state_text(refused, UTC) == "Ext 001 · API key refused"
    assert (
        state_text(TrayView(extension="001", connect_wanted=False), UTC) == "Ext 001 · disconnected"
    )
    assert state_text(TrayView(extension="001", link="connecting"), UTC) == "Ext 001 · connecting…"


def test_todays_figures_count_calls_talk_completed_and_missed_g4() -> None:
    since = day_start(NOW, KYIV)

    def entry(
        uuid: str, direction: Direction, talk_s: int, answered: bool, ended: datetime
    ) -> JournalEntry:
        return JournalEntry(
            uuid=uuid,
            direction=direction,
            number="+380442249895",
            operator_ext="001",
            dial_at=ended - timedelta(minutes=1),
            source=Source.LIVE,
            answer_at=ended - timedelta(seconds=talk_s) if answered else None,
            end_at=ended,
            talk_s=talk_s,
        )

    entries = [
        entry("a", Direction.OUT, 60, True, NOW),
        entry("b", Direction.IN, 10, True, NOW),  # not more than G4 = 10: not completed
        entry("c", Direction.IN, 0, False, NOW),  # missed
        entry("d", Direction.OUT, 0, False, NOW),  # no answer: not missed
        entry("e", Direction.IN, 0, False, since - timedelta(seconds=1)),  # yesterday
    ]
    assert day_figures(entries, since=since, completed_talk_s=10) == DayFigures(
        calls=4, talk_s=70, completed=1, missed=1
    )


def test_the_day_starts_at_midnight_in_the_teams_zone_and_tomorrow_is_9_00() -> None:
    assert day_start(NOW, KYIV) == datetime(2025, 3, 14, 0, 0, tzinfo=KYIV)
    late = datetime(2025, 3, 14, 22, 30, tzinfo=UTC)  # already the 15th in Kyiv
    assert tomorrow_at(late, KYIV) == datetime(2025, 3, 16, 9, 0, tzinfo=KYIV)


def test_recent_numbers_put_this_runs_dials_first_without_repeats() -> None:
    journal = [
        JournalEntry("x", Direction.OUT, "+1", "001", NOW, Source.LIVE),
        JournalEntry("y", Direction.IN, "+2", "001", NOW, Source.LIVE),  # incoming: not dialled
        JournalEntry("z", Direction.OUT, "+3", "001", NOW, Source.LIVE),
    ]
    assert recent_numbers(["+3", "+4"], journal) == ("+3", "+4", "+1")
    many = [
        JournalEntry(str(i), Direction.OUT, f"+{i}", "001", NOW, Source.LIVE) for i in range(20)
    ]
    assert len(recent_numbers([], many)) == 10


def test_status_shapes_become_views() -> None:
    assert dialer_view(
        {"state": "paused", "paused_until": "2025-03-14T10:35:00+00:00"}, True
    ) == DialerView("paused", datetime(2025, 3, 14, 10, 35, tzinfo=UTC))
    assert dialer_view({"state": "calling"}, present=False) is None
    lines = lines_view(
        [
            {"number": "1", "contact": None, "direction": "in", "talking": False},
            {"number": "2", "contact": "B", "direction": "out", "talking": True},
        ]
    )
    assert [line.number for line in lines] == ["2", "1"]  # the talking line first


def test_the_tooltip_shows_the_dial_lists_progress_b16() -> None:
    view = TrayView(
        extension="001",
        link="online",
        dialer=DialerView("calling", progress=(120, 1000)),
        figures=DayFigures(calls=3, talk_s=95, completed=2),
    )
    assert tooltip(view, UTC) == (
        "Phonet Agent\n"
        "Ext 001 · online · auto-dial on\n"
        "Today: 3 calls, talk 1:35, 2 completed\n"
        "Dial list: 120 of 1000"
    )
    empty = TrayView(extension="001", link="online", dialer=DialerView("idle", progress=(0, 0)))
    assert "Dial list" not in tooltip(empty, UTC)


def test_the_dialers_progress_in_the_status_becomes_the_views() -> None:
    status = {"state": "calling", "paused_until": None, "progress": {"done": 3, "total": 10}}
    assert dialer_view(status, True) == DialerView("calling", progress=(3, 10))
    assert dialer_view({"state": "idle"}, True) == DialerView("idle")  # not counted yet


def test_the_tray_speaks_the_operators_language_b7() -> None:
    view = TrayView(
        extension="001",
        link="online",
        dnd=True,
        dnd_until=datetime(2025, 3, 14, 11, 0, tzinfo=UTC),
        dialer=DialerView("calling", progress=(5, 40)),
        figures=DayFigures(calls=12, talk_s=3725, completed=7, missed=2),
        language="uk",
    )
    # Longer than Windows shows: the figures stay whole, the state line gives way.
    assert tooltip(view, KYIV) == (
        "Вн. 001 · на зв'язку · не турбувати до 13:00 · …\n"
        "Сьогодні: 12 дзв., розмови 1:02:05, 7 відбулися\n"
        "пропущених: 2\n"
        "Обдзвін: 5 з 40"
    )
    assert len(tooltip(view, KYIV)) <= TOOLTIP_MAX
    calm = replace(view, dnd=False, dialer=None, figures=DayFigures(calls=1, talk_s=5))
    assert tooltip(calm, KYIV) == (
        "Phonet Agent\nВн. 001 · на зв'язку\nСьогодні: 1 дзв., розмови 0:05, 0 відбулися"
    )
    talking = TrayView(extension="001", link="online", lines=(CALL,), language="ru")
    assert state_text(talking, UTC) == "Вн. 001 · на связи · разговор с ACME"
    assert state_text(TrayView(extension="001", link="connecting", language="ru"), UTC) == (
        "Вн. 001 · подключение…"
    )


def test_why_the_link_is_down_in_the_operators_words() -> None:
    def down(problem: str, language: str = "en") -> str:
        view = TrayView(extension="001", connect_wanted=False, problem=problem, language=language)
        return state_text(view, UTC)

    assert down("disconnected by the operator") == "Ext 001 · disconnected"
    assert down("API key refused", "uk") == "Вн. 001 · API-ключ відхилено"
    assert down("HTTP 404") == "Ext 001 · offline (HTTP 404)"  # technical: as it is
