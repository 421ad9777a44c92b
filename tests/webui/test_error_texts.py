"""The window says every API error in the operator's language (B7): webui/js/i18n.js
``errorText`` finds a message for each code the API can send, as
tests/i18n/test_error_messages.py expects it to, and names the error's field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.i18n.test_error_messages import api_error_codes, message_key
from tests.webui.conftest import UI, UIFactory

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

I18N = Path(__file__).resolve().parents[2] / "agent" / "i18n"

ERROR_TEXTS = """async ([codes, field]) => {
  const i18n = await import('/js/i18n.js');
  return Object.fromEntries(
    codes.map((code) => [code, i18n.errorText({ code, field, message: 'server: ' + code })]),
  );
}"""


async def error_texts(ui: UI, codes: list[str], field: str | None) -> dict[str, str]:
    texts: dict[str, str] = await ui.page.evaluate(ERROR_TEXTS, [codes, field])
    return texts


@pytest.mark.parametrize("lang", ["uk", "ru", "en"])
async def test_every_api_error_code_is_shown_in_the_operators_language(
    ui_factory: UIFactory, lang: str
) -> None:
    messages: dict[str, str] = json.loads((I18N / f"{lang}.json").read_text(encoding="utf-8"))
    ui = await ui_factory(operator={"language": lang}, online=False)
    await ui.open("phone")
    codes = api_error_codes()
    shown = await error_texts(ui, codes, "number")
    expected = {}
    for code in codes:
        key = message_key(code, messages)
        assert key is not None, code
        expected[code] = messages[key].replace("{field}", "number")
    assert shown == expected
    # A code the catalogue does not know (a newer agent's): the server's own words.
    assert await error_texts(ui, ["no_such_code"], None) == {"no_such_code": "server: no_such_code"}
    ui.assert_clean()


async def test_a_file_import_error_names_its_field_in_ukrainian(ui_factory: UIFactory) -> None:
    ui = await ui_factory(operator={"language": "uk"}, online=False)
    await ui.open("phone")
    # A real refusal of the contacts import: the mapping names a field it does not have.
    text: Any = await ui.page.evaluate(
        """async () => {
          const api = await import('/js/api.js');
          const i18n = await import('/js/i18n.js');
          const form = new FormData();
          form.append('file', new Blob(['name,phone\\nAnna,+380441234567\\n']), 'c.csv');
          form.append('mapping', JSON.stringify({ colour: 'A' }));
          try {
            await api.upload('/api/contacts/import', form);
            return 'accepted';
          } catch (err) {
            return [err.code, err.field, i18n.errorText(err)];
          }
        }"""
    )
    assert text == [
        "import.unknown_field",
        "colour",
        "У зіставленні вказано поле «colour», якого цей імпорт не має",
    ]
    # The 422 of the refused import is the only "error" the console may show.
    assert all("422" in e for e in ui.errors), ui.errors
