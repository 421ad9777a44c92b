"""The tray's feed turns the agent's status into what the tray draws (agent/desktop/feed.py;
U3, B7, B16): the link as the status tells it, the dial list's progress, the language."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from agent.core.journal import JournalEntry
from agent.desktop.feed import TrayFeed
from agent.desktop.view import TrayView, tooltip


class Runtime:
    dnd_code = "*78"

    def __init__(self) -> None:
        self.recent_numbers: list[str] = []
        self.status_now: dict[str, Any] = {
            "extension": "001",
            "link": "online",
            "dnd": {"on": False, "until": None},
            "lines": [],
            "dialer": {"state": "calling", "paused_until": None, "list_id": 1},
        }

    def status(self) -> dict[str, Any]:
        return self.status_now


class Journal:
    async def page(
        self, *, limit: int, offset: int, since: datetime | None, operator_ext: str | None
    ) -> tuple[list[JournalEntry], int | None]:
        return [], 0


async def test_the_feed_shows_progress_once_counted_and_follows_the_language() -> None:
    runtime, language = Runtime(), ["en"]
    shown: list[TrayView] = []
    feed = TrayFeed(
        runtime=runtime,
        journal=Journal(),
        own_ext="001",
        link=lambda: ("online", True, None),
        has_dialer=lambda: True,
        completed_talk_s=lambda: 10,
        tz=lambda: UTC,
        show=shown.append,
        language=lambda: language[0],
    )
    view = await feed.refresh()
    assert view.dialer is not None and view.dialer.progress is None  # not counted yet
    assert "Dial list" not in tooltip(view, UTC)

    runtime.status_now["dialer"]["progress"] = {"done": 40, "total": 250}
    view = await feed.refresh()
    assert tooltip(view, UTC).endswith("\nDial list: 40 of 250")

    language[0] = "ru"  # the operator saved another language: the next view speaks it
    view = await feed.refresh()
    assert view.language == "ru" and tooltip(view, UTC).endswith("\nОбзвон: 40 из 250")
    assert [v.language for v in shown] == ["en", "en", "ru"]  # each change drawn once


async def test_closing_the_feed_always_ends_it_even_when_a_change_meets_the_close() -> None:
    """Quit closes the feed; a state change arriving in the same instant must not keep
    its task alive (asyncio.wait_for on 3.11 swallowed such a cancellation: the agent's
    stop then waited forever)."""
    import asyncio

    runtime = Runtime()
    for _ in range(200):
        shown: list[TrayView] = []
        feed = TrayFeed(
            runtime=runtime,
            journal=Journal(),
            own_ext="001",
            link=lambda: ("online", True, None),
            has_dialer=lambda: True,
            completed_talk_s=lambda: 10,
            tz=lambda: UTC,
            show=shown.append,
        )
        feed.start()
        while not shown:  # the feed is in its wait for the next change
            await asyncio.sleep(0)
        feed.changed()
        closing = asyncio.ensure_future(feed.close())
        done, _ = await asyncio.wait({closing}, timeout=10)
        assert done, "the feed's task did not end when closed"
