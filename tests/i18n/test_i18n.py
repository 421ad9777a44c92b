"""Messages in Ukrainian, Russian and English (B7): chosen from the OS locale, English
under C/POSIX, every language complete, every key the window uses present."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from agent.i18n import (
    LANGUAGES,
    Translator,
    detect_language,
    language_of_locale,
    messages,
    resolve_language,
    translator,
)

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"\{(\w+)\}")


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


def test_every_language_has_every_english_key_with_the_same_placeholders() -> None:
    english = messages("en")
    for lang in LANGUAGES:
        texts = messages(lang)
        assert set(texts) == set(english), lang
        for key, text in texts.items():
            assert text.strip(), f"{lang} {key} is empty"
            assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(english[key])), (
                lang,
                key,
            )


def test_a_translator_fills_placeholders_and_falls_back_to_the_key() -> None:
    t = translator("uk")
    assert t("tray.open_window") == "Відкрити вікно"
    assert t("popup.hangup.talk", talk="1:05") == "Дзвінок завершено, розмова 1:05"
    assert t("popup.hangup.talk") == "Дзвінок завершено, розмова {talk}"  # left as written
    assert t("no.such.key") == "no.such.key"
    assert Translator("xx").language == "en"


def _keys_used_by_the_window() -> set[str]:
    keys: set[str] = set()
    for path in (ROOT / "webui").rglob("*.js"):
        if path.name == "license.js":
            continue  # the licence view carries its own English (docs/licensing.md)
        text = path.read_text(encoding="utf-8")
        keys |= set(re.findall(r"""\bt\(\s*"([a-z0-9_.]+)"\s*[,)]""", text))
        keys |= set(re.findall(r"""titleKey:\s*"([a-z0-9_.]+)\"""", text))
    for path in (ROOT / "webui").rglob("*.html"):
        keys |= set(re.findall(r'data-i18n(?:-\w+)?="([a-z0-9_.]+)"', path.read_text()))
    return {key for key in keys if "." in key}


def test_every_message_key_the_window_names_is_in_english() -> None:
    missing = sorted(_keys_used_by_the_window() - set(messages("en")))
    assert missing == []


def test_the_message_files_are_sorted_json_objects() -> None:
    for lang in LANGUAGES:
        path = ROOT / "agent" / "i18n" / f"{lang}.json"
        data = json.loads(path.read_text(encoding="utf-8"))
        assert list(data) == sorted(data), f"{path.name} keys are not sorted"
