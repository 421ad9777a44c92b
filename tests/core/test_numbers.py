"""Phone numbers: E.164, dial targets (C1, B1, U4), lookup keys, hints (B14), zones (B3)."""

from __future__ import annotations

import subprocess
import sys
import zoneinfo
from pathlib import Path

import phonenumbers
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from agent.core.numbers import (
    FAST_REGIONS,
    DialKind,
    DialTarget,
    InvalidNumber,
    fast_e164,
    hint,
    index_keys,
    local_time_zone,
    parse_dial_target,
    reference_e164,
    to_e164,
)

KYIV = "+380442249895"
KYIVSTAR = "+380671234567"

# ------------------------------------------------------------------ to_e164


@pytest.mark.parametrize(
    "raw",
    [
        "+380 44 224-98-95",
        "0442249895",
        "380442249895",
        "(044) 224 98 95",
        "8 044 2249895",  # the old trunk prefix, still typed in UA
        "8 (044) 224-98-95",
        "8 10 380 44 224 98 95",  # "8~10" for abroad
        "+380442249895",
        "+380 (44) 224 98 95",
        "+380 (0) 44 224 98 95",
        "00380442249895",
        "044.224.98.95",
        "  044 224 98 95  ",
        "442249895",
        "+380 44 224 98 95 доб. 12",  # an extension does not change the number
    ],
)
def test_every_usual_form_of_a_kyiv_number_gives_the_same_e164(raw: str) -> None:
    assert to_e164(raw) == KYIV


@pytest.mark.parametrize(
    "raw", ["067 123 45 67", "+38 067 123 45 67", "8 067 1234567", "80671234567", "380671234567"]
)
def test_a_kyivstar_mobile_number_in_its_usual_forms(raw: str) -> None:
    assert to_e164(raw) == KYIVSTAR


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+48 22 123 45 67", "UA", "+48221234567"),
        ("8 (495) 123-45-67", "RU", "+74951234567"),
        ("8 10 380 44 224 98 95", "RU", KYIV),
        ("8 017 123-45-67", "BY", "+375171234567"),
        ("(202) 555-0123", "US", "+12025550123"),
    ],
)
def test_other_regions_read_numbers_their_own_way(raw: str, region: str, expected: str) -> None:
    assert to_e164(raw, region) == expected


@pytest.mark.parametrize(
    "raw",
    ["", "   ", "abc", "123", "+380 44 224", "04422498951234", "+999 123 456 789", "8 800", "++"],
)
def test_what_is_not_a_valid_number_gives_none(raw: str) -> None:
    assert to_e164(raw) is None


# ------------------------------------------------------------------ the fast path

_SEPARATOR = st.sampled_from(["", "", "", " ", "-", ".", "(", ")", "  "])


def _national_numbers(region: str) -> st.SearchStrategy[str]:
    """National numbers shaped like the region's own patterns (valid and near-valid)."""
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    assert meta is not None
    descs = [meta.fixed_line, meta.mobile, meta.toll_free, meta.premium_rate, meta.voip]
    patterns = [d.national_number_pattern for d in descs if d and d.national_number_pattern]
    shaped = st.one_of([st.from_regex(p.replace(r"\d", "[0-9]"), fullmatch=True) for p in patterns])
    near = shaped.flatmap(  # one digit more or less, or a digit changed
        lambda n: st.sampled_from([n[:-1], n + "7", "0" + n[1:], n[:3] + "1" + n[4:]])
    )
    anything = st.text("0123456789", min_size=1, max_size=14)
    return st.one_of(shaped, shaped, near, anything)


@st.composite
def _typed_numbers(draw: st.DrawFn, region: str) -> str:
    national = draw(_national_numbers(region))
    prefix = draw(
        st.one_of(
            st.sampled_from(["", "0", "380", "+380", "8", "80", "00", "00380", "810", "810380"]),
            st.text("+03789", max_size=5),
        )
    )
    digits = prefix + national
    out = []
    for ch in digits:
        out.append(draw(_SEPARATOR) if ch != "+" else "")
        out.append(ch)
    return "".join(out) + draw(st.sampled_from(["", "", " ", ".", "-", ")", " ("]))


@pytest.mark.parametrize("region", sorted(FAST_REGIONS))
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_fast_path_never_disagrees_with_phonenumbers(region: str, data: st.DataObject) -> None:
    raw = data.draw(
        st.one_of(_typed_numbers(region), st.text("+0123456789 ().-", max_size=20)), label="raw"
    )
    fast = fast_e164(raw, region)
    assert fast is None or fast == reference_e164(raw, region)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=30))
@example("+380 44 224-98-95")
@example("٠٤٤٢٢٤٩٨٩٥")  # Arabic-Indic digits: phonenumbers reads them, the fast path does not
def test_to_e164_is_phonenumbers_with_the_trunk_rule_for_any_text(raw: str) -> None:
    assert to_e164(raw) == reference_e164(raw, "UA")


@settings(max_examples=300, deadline=None)
@given(national=st.from_regex(r"(?:39|50|6[36-8]|7[1-357]|9[1-9])[0-9]{7}", fullmatch=True))
def test_the_fast_path_takes_the_common_shapes_of_valid_numbers(national: str) -> None:
    for raw in (f"+380{national}", f"0{national}", f"380{national}", f"8 0{national}"):
        assert fast_e164(raw, "UA") == f"+380{national}"


# ------------------------------------------------------------------ dial targets


@pytest.mark.parametrize(
    "text",
    [
        "tel:+380-44-224-98-95",
        "tel:%2B380442249895",
        "tel:0442249895;phone-context=+380",
        "tel:+380.44.224.98.95",
        "tel:+380(44)2249895",
        "TEL:+380442249895",
        "tel://+380442249895",
        "tel:0442249895",  # no context: read as typed (browsers send it)
        "tel:044%20224%2098%2095",
        "callto:+380442249895",
        "callto://+380442249895",
        "callto://%2B380442249895/",
        "callto:0442249895",
        "+380 44 224-98-95",
        "8 044 2249895",
    ],
)
def test_typed_numbers_and_tel_or_callto_urls_dial_the_e164_number_b1(text: str) -> None:
    assert parse_dial_target(text) == DialTarget(DialKind.NUMBER, KYIV)


def test_a_tel_url_extension_is_kept_apart_from_the_number() -> None:
    assert parse_dial_target("tel:+380442249895;ext=12") == DialTarget(
        DialKind.NUMBER, KYIV, extension="12"
    )
    assert parse_dial_target("tel:+380442249895;isub=7;ext=1-2") == DialTarget(
        DialKind.NUMBER, KYIV, extension="12"
    )


def test_an_extension_typed_after_the_number_is_kept_apart() -> None:
    assert parse_dial_target("044 224 98 95 доб. 12") == DialTarget(DialKind.NUMBER, KYIV, "12")
    assert parse_dial_target("0442249895 x7") == DialTarget(DialKind.NUMBER, KYIV, "7")


def test_a_phone_context_that_is_a_longer_prefix_is_prepended_rfc_3966() -> None:
    assert parse_dial_target("tel:2249895;phone-context=+380-44") == DialTarget(
        DialKind.NUMBER, KYIV
    )


@pytest.mark.parametrize("text", ["001", "12", "0123", "12345", " 101 ", "tel:001"])
def test_two_to_five_digits_are_an_internal_extension_with_leading_zeros(text: str) -> None:
    assert parse_dial_target(text) == DialTarget(
        DialKind.EXTENSION, text.strip().removeprefix("tel:")
    )


def test_a_local_tel_number_in_a_domain_context_is_an_extension() -> None:
    assert parse_dial_target("tel:7042;phone-context=example.com") == DialTarget(
        DialKind.EXTENSION, "7042"
    )


@pytest.mark.parametrize("text", ["*78", "*79", "#21#", "*72*1#", "tel:*78", "tel:%2A78"])
def test_digits_with_star_or_hash_are_a_service_code_u4(text: str) -> None:
    code = parse_dial_target(text)
    assert isinstance(code, DialTarget)
    assert code.kind is DialKind.CODE
    assert code.number.startswith(("*", "#"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", InvalidNumber("empty number", "number.empty")),
        ("   ", InvalidNumber("empty number", "number.empty")),
        ("tel:", InvalidNumber("empty number", "number.empty")),
        ("callto://", InvalidNumber("empty number", "number.empty")),
        ("abc", InvalidNumber("not a phone number: 'abc'")),
        ("1", InvalidNumber("not a phone number: '1'")),
        ("123456", InvalidNumber("not a phone number: '123456'")),
        ("+380 44 224", InvalidNumber("not a phone number: '+380 44 224'")),
        ("callto://skype.user", InvalidNumber("not a phone number: 'skype.user'")),
        (
            "tel:+380442249895;ext=abc",
            InvalidNumber("not a tel: URL: 'tel:+380442249895;ext=abc'", "number.bad_url"),
        ),
        (
            "tel:*78;phone-context=+380",
            InvalidNumber("not a tel: URL: 'tel:*78;phone-context=+380'", "number.bad_url"),
        ),
        ("x" * 60, InvalidNumber("not a phone number: '" + "x" * 39 + "…'")),
    ],
)
def test_what_cannot_be_dialled_is_an_invalid_number_value_never_an_exception(
    text: str, expected: InvalidNumber
) -> None:
    assert parse_dial_target(text) == expected


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_any_text_gives_a_target_or_an_invalid_number(text: str) -> None:
    assert isinstance(parse_dial_target(text), DialTarget | InvalidNumber)


# ------------------------------------------------------------------ lookup, hints, zones


def test_a_contact_number_is_indexed_by_e164_first_then_the_national_number() -> None:
    assert index_keys("(044) 224 98 95") == [KYIV, "442249895"]
    assert index_keys(KYIV)[0] == index_keys("8 044 2249895")[0]


def test_a_value_that_is_not_a_number_is_indexed_by_its_digits() -> None:
    assert index_keys("001") == ["001"]
    assert index_keys("ext. 12-34") == ["1234"]
    assert index_keys("n/a") == []


def test_a_kyivstar_mobile_hints_its_operator_and_country_b14() -> None:
    en = hint(KYIVSTAR, "en")
    assert (en.operator, en.country, en.kind) == ("Kyivstar", "Ukraine", "mobile")
    assert en.region == "Ukraine"  # mobiles are not geographic
    assert hint(KYIVSTAR, "uk").operator == "Київстар"


def test_a_kyiv_landline_hints_its_city_and_no_operator_b14() -> None:
    en = hint(KYIV, "en")
    assert (en.region, en.operator, en.kind) == ("Kyiv city", None, "fixed_line")
    assert hint(KYIV, "uk").region == "м. Київ"


def test_an_invalid_number_hints_nothing() -> None:
    assert hint("12345") == hint("abc") == hint("")
    assert hint("abc").region is None


def test_the_time_zone_comes_from_the_number_b3() -> None:
    assert local_time_zone(KYIV) in ("Europe/Kyiv", "Europe/Kiev")
    assert local_time_zone("+12025550123") == "America/New_York"
    assert local_time_zone("+74951234567") == "Europe/Moscow"
    for number in (KYIV, "+12025550123"):
        zone = local_time_zone(number)
        assert zone is not None
        zoneinfo.ZoneInfo(zone)


def test_an_unknown_number_has_no_time_zone() -> None:
    assert local_time_zone("abc") is None
    assert local_time_zone("+80012345678") is None  # international freephone: no area


def test_the_geocoder_carrier_and_zone_data_load_only_on_first_use() -> None:
    code = (
        "import sys, agent.core.numbers as n; n.to_e164('0442249895');"
        "n.parse_dial_target('tel:+380442249895');"
        "print(sorted(m for m in ('phonenumbers.geocoder', 'phonenumbers.carrier',"
        " 'phonenumbers.timezone') if m in sys.modules))"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    ).stdout
    assert out.strip() == "[]"
