"""Messages in Ukrainian, Russian and English for the window, popups and tray (B7).

One flat JSON file per language (``en.json``, ``uk.json``, ``ru.json``): dotted keys
(``phone.dial``, ``error.pbx_unreachable``, ``settings.invalid.reconnect_s``) to text
with ``{name}`` placeholders. English is complete; a key missing from another
language falls back to English, and a key missing everywhere shows as itself, so a
new message never breaks a screen (architecture.md, rule 8: user-facing errors are
message keys translated here).

The language is the operator's setting ``language`` when set, else the OS locale's
(English under C/POSIX and for any other language).

    from agent.i18n import translator, resolve_language
    t = translator(resolve_language(operator.language))
    t("tray.open_window")                  # "Open window"
    t("popup.hangup.talk", talk="1:05")    # "Call ended, talk 1:05"
"""

from __future__ import annotations

import functools
import json
import locale
import os
import sys
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Final

LANGUAGES: Final = ("en", "uk", "ru")
DEFAULT: Final = "en"
# Locale prefixes mapped to our languages; anything else is English.
_LOCALE_PREFIXES: Final = {"uk": "uk", "ru": "ru", "en": "en"}
_ENV_VARS: Final = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


def language_of_locale(name: str | None) -> str | None:
    """Our language for a locale name (``uk_UA.UTF-8``, ``ru-RU``, ``C``), or None."""
    if not name:
        return None
    # LANGUAGE may list several ("uk:ru:en"); the first one we know wins.
    for part in name.split(":"):
        code = part.split(".")[0].split("@")[0].replace("-", "_").lower()
        if code in ("c", "posix", ""):
            return DEFAULT
        found = _LOCALE_PREFIXES.get(code.split("_")[0])
        if found:
            return found
    return None


def detect_language(environ: Mapping[str, str] | None = None) -> str:
    """The OS locale's language: ``uk``, ``ru``, else ``en`` (C/POSIX is English)."""
    env = os.environ if environ is None else environ
    for var in _ENV_VARS:
        value = env.get(var)
        if value:
            # The first variable set decides, as gettext does; C means English.
            return language_of_locale(value) or DEFAULT
    if sys.platform == "win32" and environ is None:
        return language_of_locale(_windows_ui_locale()) or DEFAULT
    if environ is None:
        try:
            return language_of_locale(locale.getlocale()[0]) or DEFAULT
        except ValueError:
            return DEFAULT
    return DEFAULT


def _windows_ui_locale() -> str | None:
    """The Windows display language (e.g. ``uk-UA``); environment variables rarely
    carry it there."""
    try:
        import ctypes

        lang_id = ctypes.windll.kernel32.GetUserDefaultUILanguage()  # type: ignore[attr-defined]
        name: str | None = locale.windows_locale.get(int(lang_id))
        return name
    except (AttributeError, OSError, ValueError):
        return None


def resolve_language(setting: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The operator's ``language`` setting when it names one of ours, else the OS's."""
    if setting and setting in LANGUAGES:
        return setting
    return detect_language(environ)


@functools.cache
def messages(language: str) -> Mapping[str, str]:
    """The messages of one language as shipped (read once; the files never change)."""
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}; one of {', '.join(LANGUAGES)}")
    text = resources.files("agent.i18n").joinpath(f"{language}.json").read_text("utf-8")
    data = json.loads(text)
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise ValueError(f"{language}.json must map message keys to text")
    return data


class Translator:
    """``t(key, **values)``: the key's text in one language, with placeholders filled.

    Missing in the language: the English text; missing in English too: the key.
    A placeholder without a value stays as written, rather than failing.
    """

    def __init__(self, language: str) -> None:
        self.language = language if language in LANGUAGES else DEFAULT
        self._own = messages(self.language)
        self._english = messages(DEFAULT)

    def __call__(self, key: str, /, **values: object) -> str:
        text = self._own.get(key) or self._english.get(key) or key
        if not values:
            return text
        try:
            return text.format_map(_Keep(values))
        except (ValueError, IndexError):
            return text

    def has(self, key: str) -> bool:
        return key in self._own or key in self._english


class _Keep(dict[str, object]):
    def __missing__(self, name: str) -> str:
        return "{" + name + "}"


def translator(language: str | None = None) -> Callable[..., str]:
    """A :class:`Translator` for ``language`` (None or unknown: the OS's language)."""
    return Translator(resolve_language(language))
