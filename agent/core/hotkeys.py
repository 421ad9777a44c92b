"""The global hotkey's text form (B1): ``<ctrl>+<alt>+d``, pynput's notation.

Pure parsing, shared by the settings check (a bad hotkey is refused when saved,
agent/core/settings.py) and the desktop, which grabs the key (agent/desktop/links.py).
A hotkey is one or more modifiers and one key: a single character or F1–F24.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.core.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class Hotkey:
    modifiers: frozenset[str]  # ctrl, alt, shift, super
    key: str  # one character, or a key name such as f9

    def __str__(self) -> str:
        return "+".join([*(f"<{m}>" for m in sorted(self.modifiers)), self.key])


MODIFIERS = {
    "ctrl": "ctrl",
    "control": "ctrl",
    "alt": "alt",
    "shift": "shift",
    "super": "super",
    "win": "super",
    "cmd": "super",
}
_FUNCTION_KEY = re.compile(r"f([1-9]|1[0-9]|2[0-4])")


def parse_hotkey(text: str) -> Hotkey:
    """``<ctrl>+<alt>+d`` into a :class:`Hotkey`; :class:`InvalidInput` (field ``hotkey``)
    when it is not one."""
    parts = [p.strip().lower() for p in text.split("+") if p.strip()]
    mods: set[str] = set()
    key: str | None = None
    for part in parts:
        name = part.strip("<>")
        if name in MODIFIERS:
            mods.add(MODIFIERS[name])
        elif key is None and (len(name) == 1 or _FUNCTION_KEY.fullmatch(name)):
            key = name
        else:
            raise InvalidInput(f"not a hotkey: {text!r}", field="hotkey")
    if key is None or not mods:
        raise InvalidInput(
            f"a hotkey needs a modifier and one key, e.g. <ctrl>+<alt>+d: {text!r}",
            field="hotkey",
        )
    return Hotkey(frozenset(mods), key)


def hotkey_problem(text: str) -> str | None:
    """The settings check: None for a hotkey or for none at all (empty), else why not."""
    if not text.strip():
        return None
    try:
        parse_hotkey(text)
    except InvalidInput as exc:
        return str(exc)
    return None
