"""Tray icons drawn with Pillow (agent/desktop/icons.py): one per state, a missed badge."""

from __future__ import annotations

from PIL import Image

from agent.desktop.icons import BADGE, COLOURS, render
from agent.desktop.view import IconState


def share(image: Image.Image, colour: tuple[int, int, int, int]) -> float:
    data = image.convert("RGBA").tobytes()
    near = sum(
        1
        for i in range(0, len(data), 4)
        if sum(abs(data[i + k] - colour[k]) for k in range(3)) < 30 and data[i + 3] > 200
    )
    return near / (len(data) // 4)


def test_every_state_has_its_own_picture() -> None:
    pictures = {state: render(state).tobytes() for state in IconState}
    assert len(set(pictures.values())) == len(IconState)


def test_every_state_has_its_own_colour_filling_the_icon() -> None:
    assert len(set(COLOURS.values())) == len(IconState)
    for state in IconState:
        assert share(render(state), COLOURS[state]) > 0.3, state


def test_a_missed_badge_is_drawn_over_the_icon_and_counts() -> None:
    plain, one, many = (
        render(IconState.ONLINE),
        render(IconState.ONLINE, 1),
        render(IconState.ONLINE, 12),
    )
    assert share(plain, BADGE) == 0
    assert share(one, BADGE) > 0.05
    assert one.tobytes() != many.tobytes()
    assert render(IconState.ONLINE, 12).tobytes() == render(IconState.ONLINE, 99).tobytes()  # "9+"


def test_icons_come_in_any_size_and_are_fresh_copies() -> None:
    small = render(IconState.DND, 3, size=16)
    assert small.size == (16, 16) and small.mode == "RGBA"
    first = render(IconState.DND)
    first.putpixel((0, 0), (1, 2, 3, 255))
    assert render(IconState.DND).getpixel((0, 0)) != (1, 2, 3, 255)
