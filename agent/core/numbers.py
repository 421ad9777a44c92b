"""Phone numbers: E.164 normalisation, dial targets, lookup keys and offline hints.

``phonenumbers`` (libphonenumber's metadata) decides what a valid number is; this
module adds what operators in UA/RU/BY/KZ type on top of it (the old trunk prefix
``8``), RFC 3966 ``tel:`` and ``callto:`` URLs (B1), the shapes the PBX dials that
are not numbers (extensions, DND codes, U4), and a fast path for imports.

Speed (issue 5): an import of 100k rows normalises every number, and
``phonenumbers.parse`` costs ~30 µs. :func:`to_e164` first tries a strict shape
for the default region (``+380…``, ``380…``, ``0…``, ``80…`` with the usual
separators) and checks the national number against the region's own metadata
patterns, which is what ``is_valid_number`` does (``_number_type_helper``); the
fast path only ever answers "valid, this E.164", otherwise phonenumbers decides.
``tests/core/test_numbers.py`` property-tests it against phonenumbers.

The geocoder, carrier and time-zone data are large: they are imported on first
use (architecture.md, "Processes and threads").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cache, lru_cache
from urllib.parse import unquote

import phonenumbers
from phonenumbers import PhoneNumber, PhoneNumberFormat

DEFAULT_REGION = "UA"

# The Soviet trunk prefix "8" (and "8~10" for abroad) is still typed in these
# countries. RU, BY and KZ keep it in the metadata; for UA it is ours to strip.
_TRUNK_8_REGIONS = frozenset({"UA", "RU", "BY", "KZ"})

# Regions whose fast path is proven against phonenumbers by the property test.
# A region qualifies when its country code belongs to it alone and its national
# prefix needs no transform rule.
FAST_REGIONS = frozenset({"UA"})

_FAST_SHAPE = re.compile(r"\+?[0-9( ][0-9 ().\-]{5,30}")
_SEPARATORS = str.maketrans("", "", " ().-+")
_SEPARATOR_BYTES = b" ().-+"  # the same, for fast_e164's ASCII text
# The lengths _FAST_SHAPE allows a cell of digits alone (after its "+", if any).
_FAST_DIGITS, _FAST_DIGITS_MAX = 6, 31
_EXTENSION = re.compile(r"[0-9]{2,5}")
_CODE = re.compile(r"[*#][0-9*#]{0,19}")
_TEL_SEPARATORS = str.maketrans("", "", " -.()")


class DialKind(StrEnum):
    NUMBER = "number"  # an outside number, E.164
    EXTENSION = "extension"  # an internal extension (2–5 digits, leading zeros kept)
    CODE = "code"  # a service code such as the DND combination "*78" (U4)


@dataclass(frozen=True, slots=True)
class DialTarget:
    """What the operator asked to dial: ``number`` is E.164, the extension or the code."""

    kind: DialKind
    number: str
    extension: str | None = None  # ``;ext=`` of a tel: URL, or "x12" / "доб. 12" typed


@dataclass(frozen=True, slots=True)
class InvalidNumber:
    """Why a dial request is not dialable; a value, never raised (architecture.md, rule 6).

    ``reason`` is stable plain English for logs and the API's ``message``;
    ``code`` is the stable message key (``number.empty``, ``number.invalid``,
    ``number.bad_url``).
    """

    reason: str
    code: str = "number.invalid"


@dataclass(frozen=True, slots=True)
class NumberHint:
    """Offline hint for an unknown number (B14); ``None`` where the numbering plan says nothing."""

    region: str | None  # geocoder: a city/oblast for landlines, the country for mobiles
    operator: str | None  # carrier of a mobile number
    country: str | None
    kind: str | None  # "mobile", "fixed_line", "toll_free", …


# ------------------------------------------------------------------ E.164


def to_e164(raw: str, region: str = DEFAULT_REGION) -> str | None:
    """The number in E.164 (``+380442249895``), or ``None`` when it is not a valid number.

    Accepts any format phonenumbers accepts for ``region``, plus the old trunk
    prefix ``8`` (``8 044 2249895``) and ``8 10`` for abroad in UA/RU/BY/KZ.
    An extension typed after the number is dropped (E.164 has none).
    """
    return _cached_e164(raw, region)


def clear_cache() -> None:
    """Forget memoised answers (benchmarks measure cold calls)."""
    _cached_e164.cache_clear()


# A pure function's memo, invisible to callers: dial lists and contact files
# repeat numbers (a company's line on every row of its people).
@lru_cache(maxsize=8192)
def _cached_e164(raw: str, region: str) -> str | None:
    if region in FAST_REGIONS:
        fast = fast_e164(raw, region)
        if fast is not None:
            return fast
    return reference_e164(raw, region)


def reference_e164(raw: str, region: str) -> str | None:
    """phonenumbers' answer, then the trunk-8 rule: the definition :func:`to_e164` speeds up.

    Public for the property test and the benchmark, which hold the fast path to it.
    """
    number = _parse(raw, region)
    if number is not None:
        return _format(number)
    if region in _TRUNK_8_REGIONS:
        digits = raw.strip().translate(_SEPARATORS)
        if digits.isascii() and digits.isdigit():
            if digits.startswith("810"):
                number = _parse("+" + digits[3:], region)
            elif digits.startswith("80"):
                number = _parse(digits[1:], region)
            if number is not None:
                return _format(number)
    return None


def _parse(raw: str, region: str) -> PhoneNumber | None:
    """A valid number or None; phonenumbers' exceptions stay here."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def _format(number: PhoneNumber) -> str:
    return str(phonenumbers.format_number(number, PhoneNumberFormat.E164))


@dataclass(frozen=True, slots=True)
class _FastPlan:
    country_code: str
    national_prefix: str
    # The validity test of a national number (of ASCII digits) by its length; no
    # regex for a length no valid number has.
    valid_by_length: dict[int, re.Pattern[str]]


@cache
def _fast_plan(region: str) -> _FastPlan:
    """The region's validity test as regexes built from its metadata, one per length.

    Mirrors ``phonenumberutil._number_type_helper``: the national number matches
    the general description and at least one number type, each within its
    possible lengths. The lengths are settled before matching, by the regex chosen
    (a regex that tested them too took a third of fast_e164's time).
    """
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if meta is None or meta.general_desc is None:
        raise ValueError(f"no numbering plan for the region {region!r}")
    descs = [
        meta.premium_rate,
        meta.toll_free,
        meta.shared_cost,
        meta.voip,
        meta.personal_number,
        meta.pager,
        meta.uan,
        meta.voicemail,
        meta.fixed_line,
        meta.mobile,
    ]
    types = [d for d in descs if d is not None and d.national_number_pattern]
    general = meta.general_desc.national_number_pattern
    by_length: dict[int, re.Pattern[str]] = {}
    for n in range(_FAST_DIGITS_MAX + 1):  # no national number is longer than its cell
        fitting = [f"(?:{d.national_number_pattern})\\Z" for d in types if _fits(d, n)]
        if fitting and _fits(meta.general_desc, n):
            by_length[n] = re.compile(f"(?=(?:{general})\\Z)(?:{'|'.join(fitting)})")
    return _FastPlan(
        country_code=str(meta.country_code),
        national_prefix=meta.national_prefix or "",
        valid_by_length=by_length,
    )


def _fits(desc: phonenumbers.PhoneNumberDesc, n: int) -> bool:
    """Whether ``n`` digits is one of the description's possible lengths (none given:
    any length)."""
    lengths = [length for length in desc.possible_length if length > 0]
    return not lengths or n in lengths


def fast_e164(raw: str, region: str) -> str | None:
    """E.164 for the common shapes of ``region`` (one of :data:`FAST_REGIONS`), or None
    to let :func:`reference_e164` decide; never a different answer than it.

    Every import calls it once a row (issues 4 and 5: 100k rows): a cell of digits
    alone, with or without a leading ``+`` (most of them), takes two string tests in C
    rather than the shape regex and a translation; the separators of the other shapes,
    all ASCII once the shape matched, are dropped by ``bytes.translate``, a third of
    ``str.translate``'s cost."""
    text = raw.strip()
    if text.isdigit() and text.isascii():
        if not _FAST_DIGITS <= len(text) <= _FAST_DIGITS_MAX:
            return None
        digits, plus = text, False
    elif text[1:].isdigit() and text[:1] == "+" and text.isascii():
        if not _FAST_DIGITS <= len(text) - 1 <= _FAST_DIGITS_MAX:
            return None
        digits, plus = text[1:], True
    elif _FAST_SHAPE.fullmatch(text):
        digits = text.encode("ascii").translate(None, _SEPARATOR_BYTES).decode("ascii")
        plus = text[0] == "+"
    else:
        return None
    plan = _fast_plan(region)
    cc, prefix = plan.country_code, plan.national_prefix
    if plus:
        if not digits.startswith(cc):
            return None
        national = digits[len(cc) :]
    elif prefix and digits.startswith(prefix):
        national = digits[len(prefix) :]
    elif digits.startswith(cc):
        national = digits[len(cc) :]
    elif prefix and digits.startswith("8" + prefix) and region in _TRUNK_8_REGIONS:
        national = digits[1 + len(prefix) :]
    else:
        national = digits
    valid = plan.valid_by_length.get(len(national))
    if valid is not None and valid.match(national):
        return "+" + cc + national
    return None


# ------------------------------------------------------------------ dialing


def parse_dial_target(text: str, region: str = DEFAULT_REGION) -> DialTarget | InvalidNumber:
    """What the operator asked to dial (C1, B1, U4); bad input is a value, not an exception.

    - ``tel:`` URLs per RFC 3966 (visual separators, ``%2B``, ``;ext=``,
      ``;phone-context=``) and ``callto:`` / ``callto://`` URLs;
    - 2–5 digits: an internal extension, leading zeros kept (``001``);
    - digits with ``*``/``#`` starting with one of them: a service code (``*78``);
    - anything else: a number in any format :func:`to_e164` reads.
    """
    stripped = text.strip()
    scheme, sep, rest = stripped.partition(":")
    if sep and scheme.lower() == "tel":
        return _parse_tel(rest, stripped, region)
    if sep and scheme.lower() == "callto":
        return _parse_typed(unquote(rest.removeprefix("//")).strip().rstrip("/"), region)
    return _parse_typed(stripped, region)


def _parse_typed(
    text: str, region: str, extension: str | None = None
) -> DialTarget | InvalidNumber:
    if not text:
        return InvalidNumber("empty number", "number.empty")
    if _EXTENSION.fullmatch(text):
        return DialTarget(DialKind.EXTENSION, text, extension)
    if _CODE.fullmatch(text):
        return DialTarget(DialKind.CODE, text, extension)
    e164 = to_e164(text, region)
    if e164 is None:
        return InvalidNumber(f"not a phone number: {_quote(text)}")
    if extension is None:
        extension = _typed_extension(text, region)
    return DialTarget(DialKind.NUMBER, e164, extension)


def _typed_extension(text: str, region: str) -> str | None:
    """The extension typed after a number ("x12", "доб. 12"); phonenumbers finds it."""
    if text.isdigit() or (text.startswith("+") and text[1:].isdigit()):
        return None
    try:
        return phonenumbers.parse(text, region).extension or None
    except phonenumbers.NumberParseException:
        return None


def _parse_tel(rest: str, url: str, region: str) -> DialTarget | InvalidNumber:
    """RFC 3966 §3: ``tel:`` global-number or local-number ``;phone-context=``."""
    subscriber, *params = unquote(rest.removeprefix("//")).strip().rstrip("/").split(";")
    options: dict[str, str] = {}
    for param in params:
        name, _, value = param.partition("=")
        options[name.strip().lower()] = value.strip()
    number = subscriber.translate(_TEL_SEPARATORS)
    extension = options.get("ext", "").translate(_TEL_SEPARATORS) or None
    if extension is not None and not extension.isdigit():
        return InvalidNumber(f"not a tel: URL: {_quote(url)}", "number.bad_url")
    if not number:
        return InvalidNumber("empty number", "number.empty")
    context = options.get("phone-context", "")
    # §5.1.5: a global-number-digits context is the prefix the local number is
    # read under ("+380" + "0442249895" is then read as phonenumbers would);
    # a domain name says nothing about digits, so the default region applies.
    if not number.startswith("+") and context.startswith("+"):
        if not number.isdigit():
            return InvalidNumber(f"not a tel: URL: {_quote(url)}", "number.bad_url")
        number = "+" + context.translate(_TEL_SEPARATORS).lstrip("+") + number
    # RFC 3966 requires a context for local numbers; browsers and CRMs send
    # "tel:0442249895" anyway, so it is read like a typed number (B1).
    return _parse_typed(number, region, extension)


# ------------------------------------------------------------------ lookup and hints


def index_keys(raw: str, region: str = DEFAULT_REGION) -> list[str]:
    """Keys a contact's number is indexed by, E.164 first, then the national number.

    A lookup of a number ``n`` matches the contacts having ``index_keys(n)[0]``.
    A value that is not a valid number is kept as its digits (an extension,
    a foreign number the metadata does not know), so it still finds itself.
    """
    e164 = to_e164(raw, region)
    if e164 is None:
        digits = "".join(ch for ch in raw if "0" <= ch <= "9")
        return [digits] if len(digits) >= 2 else []
    number = phonenumbers.parse(e164)
    return [e164, phonenumbers.national_significant_number(number)]


def hint(e164: str, lang: str = "en") -> NumberHint:
    """Region and mobile operator from the numbering plan, offline (B14)."""
    number = _parse(e164, DEFAULT_REGION)
    if number is None:
        return NumberHint(None, None, None, None)
    from phonenumbers import carrier, geocoder  # large data: load on first use

    kind = phonenumbers.number_type(number)
    return NumberHint(
        region=geocoder.description_for_number(number, lang) or None,
        operator=carrier.name_for_number(number, lang) or None,
        country=geocoder.country_name_for_number(number, lang) or None,
        kind=_KIND_NAMES.get(kind),
    )


def local_time_zone(e164: str) -> str | None:
    """The IANA zone of the number's area, the first of several (B3); None if unknown."""
    number = _parse(e164, DEFAULT_REGION)
    if number is None:
        return None
    from phonenumbers import timezone  # large data: load on first use

    zones = timezone.time_zones_for_number(number)
    if not zones or zones[0] == timezone.UNKNOWN_TIMEZONE:
        return None
    return str(zones[0])


_KIND_NAMES = {
    phonenumbers.PhoneNumberType.FIXED_LINE: "fixed_line",
    phonenumbers.PhoneNumberType.MOBILE: "mobile",
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
    phonenumbers.PhoneNumberType.TOLL_FREE: "toll_free",
    phonenumbers.PhoneNumberType.PREMIUM_RATE: "premium_rate",
    phonenumbers.PhoneNumberType.SHARED_COST: "shared_cost",
    phonenumbers.PhoneNumberType.VOIP: "voip",
    phonenumbers.PhoneNumberType.PERSONAL_NUMBER: "personal_number",
    phonenumbers.PhoneNumberType.PAGER: "pager",
    phonenumbers.PhoneNumberType.UAN: "uan",
    phonenumbers.PhoneNumberType.VOICEMAIL: "voicemail",
}


def _quote(value: str, limit: int = 40) -> str:
    """A user value inside a reason: quoted, cut to ``limit`` characters."""
    text = value if len(value) <= limit else value[: limit - 1] + "…"
    return repr(text)
