"""Tray icons drawn with Pillow: one per state, with a missed-calls badge (issue 3).

Drawn, not loaded: no image files to ship or to lose in a frozen build, and every
state stays legible at 16 px because each has its own colour *and* its own shape
(a colour-blind operator tells DND from online by the bar, not the red).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from agent.desktop.view import IconState, badge_text

SIZE = 64
WHITE = (255, 255, 255, 255)
BADGE = (226, 36, 36, 255)

COLOURS: dict[IconState, tuple[int, int, int, int]] = {
    IconState.OFFLINE: (128, 134, 144, 255),
    IconState.CONNECTING: (224, 161, 0, 255),
    IconState.ONLINE: (31, 157, 85, 255),
    IconState.DND: (200, 48, 48, 255),
    IconState.ON_CALL: (43, 120, 228, 255),
    IconState.DIALER_RUNNING: (123, 79, 214, 255),
    IconState.DIALER_PAUSED: (110, 96, 150, 255),
}


def render(state: IconState, missed: int = 0, size: int = SIZE) -> Image.Image:
    """The icon for a state; a copy, so callers may keep or change it."""
    return _render(state, badge_text(missed), size).copy()


@lru_cache(maxsize=64)
def _render(state: IconState, badge: str | None, size: int) -> Image.Image:
    scale = 4  # draw large, then shrink: smooth edges without antialiasing support
    big = SIZE * scale
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    s = scale
    draw.ellipse((2 * s, 2 * s, 62 * s, 62 * s), fill=COLOURS[state])
    _GLYPHS[state](draw, s)
    if badge is not None:
        _badge(draw, s, badge)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def _handset(draw: ImageDraw.ImageDraw, s: int) -> None:
    # A receiver: a thick arc with an ear piece and a mouth piece at its ends.
    draw.arc((16 * s, 14 * s, 48 * s, 50 * s), 105, 255, fill=WHITE, width=7 * s)
    draw.rounded_rectangle((18 * s, 11 * s, 30 * s, 21 * s), 3 * s, fill=WHITE)
    draw.rounded_rectangle((18 * s, 43 * s, 30 * s, 53 * s), 3 * s, fill=WHITE)


def _online(draw: ImageDraw.ImageDraw, s: int) -> None:
    _handset(draw, s)


def _on_call(draw: ImageDraw.ImageDraw, s: int) -> None:
    _handset(draw, s)
    for r in (8, 15):  # sound waves
        box = (32 * s - r * s, 32 * s - r * s, 32 * s + r * s, 32 * s + r * s)
        draw.arc(box, -45, 45, fill=WHITE, width=3 * s)


def _offline(draw: ImageDraw.ImageDraw, s: int) -> None:
    _handset(draw, s)
    draw.line((14 * s, 50 * s, 50 * s, 14 * s), fill=WHITE, width=6 * s)


def _connecting(draw: ImageDraw.ImageDraw, s: int) -> None:
    for x in (18, 32, 46):
        draw.ellipse(((x - 5) * s, 27 * s, (x + 5) * s, 37 * s), fill=WHITE)


def _dnd(draw: ImageDraw.ImageDraw, s: int) -> None:
    draw.rounded_rectangle((14 * s, 27 * s, 50 * s, 37 * s), 3 * s, fill=WHITE)


def _dialer_running(draw: ImageDraw.ImageDraw, s: int) -> None:
    draw.polygon([(24 * s, 16 * s), (24 * s, 48 * s), (49 * s, 32 * s)], fill=WHITE)


def _dialer_paused(draw: ImageDraw.ImageDraw, s: int) -> None:
    draw.rectangle((20 * s, 17 * s, 28 * s, 47 * s), fill=WHITE)
    draw.rectangle((36 * s, 17 * s, 44 * s, 47 * s), fill=WHITE)


_GLYPHS = {
    IconState.OFFLINE: _offline,
    IconState.CONNECTING: _connecting,
    IconState.ONLINE: _online,
    IconState.DND: _dnd,
    IconState.ON_CALL: _on_call,
    IconState.DIALER_RUNNING: _dialer_running,
    IconState.DIALER_PAUSED: _dialer_paused,
}


def _badge(draw: ImageDraw.ImageDraw, s: int, text: str) -> None:
    box = (34 * s, 0, 64 * s - 1, 30 * s)
    draw.ellipse(box, fill=BADGE, outline=WHITE, width=2 * s)
    font = _font(18 * s if len(text) == 1 else 14 * s)
    cx, cy = 49 * s, 15 * s
    draw.text((cx, cy), text, fill=WHITE, font=font, anchor="mm")


@lru_cache(maxsize=4)
def _font(px: int) -> Any:
    try:
        return ImageFont.load_default(size=px)  # FreeType, bundled with Pillow's wheels
    except (OSError, TypeError, ImportError):
        return ImageFont.load_default()
