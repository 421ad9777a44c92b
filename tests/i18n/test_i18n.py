"""Messages in Ukrainian, Russian and English (B7): chosen from the OS locale, English
under C/POSIX. That every language is complete and every key in use is present:
tests/test_i18n_keys.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.i18n import (
    LANGUAGES,
    Translator,
    detect_language,
    language_of_locale,
    resolve_language,
    translator,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"LANG": "uk_UA.UTF-8"}, "uk"),
        ({"LANG": "ru_RU.UTF-8"}, "ru"),
        ({"LANG": "en_GB.UTF-8"}, "en"),
        ({"LANG": "C"}, "en"),
        ({"LANG": "POSIX"}, "en"),
        ({"LC_ALL": "C.UTF-8", "LANG": "uk_UA.UTF-8"}, "en"),  # LC_ALL wins, as in gettext
        ({"LANGUAGE": "ru:en", "LANG": "uk_UA.UTF-8"}, "ru"),
        ({"LANGUAGE": "de:uk", "LANG": "en_US.UTF-8"}, "uk"),  # the first we know
        ({"LANG": "de_DE.UTF-8"}, "en"),  # a language we do not have: English
        ({}, "en"),
    ],
)
def test_the_language_comes_from_the_os_locale(environ: dict[str, str], expected: str) -> None:
    assert detect_language(environ) == expected


def test_windows_style_locale_names_are_understood() -> None:
    assert language_of_locale("uk-UA") == "uk"
    assert language_of_locale("Russian_Russia.1251") is None  # not a locale code we map
    assert language_of_locale("ru-RU") == "ru"


def test_the_operators_setting_overrides_the_os() -> None:
    assert resolve_language("ru", {"LANG": "uk_UA.UTF-8"}) == "ru"
    assert resolve_language("", {"LANG": "uk_UA.UTF-8"}) == "uk"
    assert resolve_language("xx", {"LANG": "C"}) == "en"


def test_a_translator_fills_placeholders_and_falls_back_to_the_key() -> None:
    t = translator("uk")
    assert t("tray.open_window") == "Відкрити вікно"
    assert t("popup.hangup.talk", talk="1:05") == "Дзвінок завершено, розмова 1:05"
    assert t("popup.hangup.talk") == "Дзвінок завершено, розмова {talk}"  # left as written
    assert t("no.such.key") == "no.such.key"
    assert Translator("xx").language == "en"


def test_the_message_files_are_sorted_json_objects() -> None:
    for lang in LANGUAGES:
        path = ROOT / "agent" / "i18n" / f"{lang}.json"
        data = json.loads(path.read_text(encoding="utf-8"))
        assert list(data) == sorted(data), f"{path.name} keys are not sorted"
