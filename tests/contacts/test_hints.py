"""B14: hints for unknown numbers from the numbering plan, offline, from the compact
copy of phonenumbers' geocoder and carrier data (agent/contacts/hint_table.py).

phonenumbers' own geocoder loads ~100 MB; it runs here in a child process only."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from agent.contacts import hint_table
from agent.contacts.service import hints
from agent.core.contacts import describe_number

ROOT = Path(__file__).resolve().parents[2]

# Landlines of several oblasts, every mobile operator, a toll-free and a foreign number.
SAMPLE = [
    "+380442249895",
    "+380322123456",
    "+380567890123",
    "+380312612345",
    "+380482345678",
    "+380501234567",
    "+380671112233",
    "+380931234567",
    "+380631234567",
    "+380731234567",
    "+380991234567",
    "+380961234567",
    "+380800123456",
    "+48221234567",
    "+14155552671",
]

_REFERENCE = """
import json, sys
import phonenumbers
from phonenumbers import carrier, geocoder
out = {}
for e164 in json.loads(sys.argv[1]):
    n = phonenumbers.parse(e164)
    out[e164] = {lang: [geocoder.description_for_number(n, lang) or None,
                        carrier.name_for_number(n, lang) or None,
                        geocoder.country_name_for_number(n, lang) or None]
                 for lang in ("en", "uk", "ru")}
print(json.dumps(out))
"""


def test_hints_say_what_phonenumbers_geocoder_and_carrier_say() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _REFERENCE, json.dumps(SAMPLE)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=120,
    )
    reference = json.loads(done.stdout)
    for e164 in SAMPLE:
        for lang in ("en", "uk", "ru"):
            hint = describe_number(e164, hints(), lang)
            want_region, want_operator, want_country = reference[e164][lang]
            assert hint.country == want_country, (e164, lang)
            if e164.startswith("+380"):
                assert (hint.region, hint.operator) == (want_region, want_operator), (e164, lang)
            else:  # other country codes are not in the table: the country alone
                assert hint.region == want_country, (e164, lang)


def test_a_kyiv_landline_and_a_kyivstar_mobile_are_named_in_ukrainian() -> None:
    landline = describe_number("+380442249895", hints(), "uk")
    mobile = describe_number("+380671112233", hints(), "uk")
    assert landline.region == "м. Київ" and landline.operator is None
    assert landline.kind == "fixed_line"
    assert (mobile.region, mobile.operator, mobile.kind) == ("Україна", "Київстар", "mobile")


def test_the_hint_table_matches_the_installed_phonenumbers() -> None:
    """Regenerate with ``python -m agent.contacts.hint_build`` after an upgrade."""
    code = "from agent.contacts.hint_build import build, render; print(render(build()), end='')"
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.stdout == Path(hint_table.__file__).read_text(encoding="utf-8")


def test_the_agent_never_loads_phonenumbers_geocoder_for_a_hint() -> None:
    code = (
        "import sys\n"
        "from agent.contacts.service import hints\n"
        "from agent.core.contacts import describe_number\n"
        "describe_number('+380442249895', hints(), 'uk')\n"
        "print(any(m.startswith(('phonenumbers.geodata', 'phonenumbers.carrierdata'))"
        " for m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.stdout.strip() == "False"
