"""Contacts as the agent keeps them, and the rules around finding them (U7, B13, B14).

Pure: no database, no clock (``now`` and the time zone are arguments). The
adapters (agent/contacts/, agent/storage/contacts_repo.py) store what these rules
decide:

- :func:`search_keys`: the index keys of a contact under the operator's search
  fields (U7). Each search field is a list of contact fields concatenated in
  order (the manual's "Поле2 + Поле3"); a key is the E.164 form of the result
  (``index_keys(...)[0]``), so every way of typing a number finds the same contact.
- :func:`rank_matches`: several contacts share a number; the stated rule
  (:data:`RANK_RULE`) picks the one the popup shows.
- :func:`known_lines` / :func:`unknown_lines`: the popup and call-info lines of
  B13 (last contact and result, last note, nearest planned event) and B14
  (region and operator from the numbering plan, "seen before").
- :func:`describe_number`: B14's hint from a compact copy of phonenumbers'
  geocoder and carrier tables (agent/contacts/hint_table.py): the full geocoder
  costs ~0.7 s and ~100 MB of memory on first use, the compact copy nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from itertools import product
from typing import Any, Final

import phonenumbers

from agent.core.numbers import DEFAULT_REGION, NumberHint, to_e164

PHONE_FIELD: Final = "phone"
"""The search field naming each of a contact's phone numbers; other names are
attributes (``name`` and ``company`` are the contact's own fields)."""

PHONE_KINDS: Final = ("mobile", "work", "home", "fax", "other")
"""Kinds the window offers; any other text is kept as typed."""

MAX_SEARCH_FIELDS: Final = 10
MAX_CONCATENATED: Final = 5
MAX_PHONES: Final = 50


@dataclass(frozen=True, slots=True)
class Phone:
    """One number of a contact: E.164 when it is a valid number, else as typed
    (an extension, a short code); ``kind`` (mobile, work…) and ``person`` say which."""

    number: str
    kind: str | None = None
    person: str | None = None


@dataclass(frozen=True, slots=True)
class Contact:
    """A person or a company (features.md: the manual's *Контрагент*).

    ``attributes`` are free fields (text, numbers, booleans): the dial list's extra
    sort field (U6) and composite search fields (U7) read them. A deleted contact
    keeps its row (``deleted_at``), so the journal's links still resolve; a merged
    one also names the contact it went into (``merged_into``).
    """

    id: int | None
    name: str
    company: str | None = None
    phones: tuple[Phone, ...] = ()
    attributes: Mapping[str, Any] = field(default_factory=dict)
    responsible_ext: str | None = None
    last_contact_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    deleted_at: datetime | None = None
    merged_into: int | None = None


def normalise_phone(raw: str, region: str = DEFAULT_REGION) -> str | None:
    """How a contact's number is kept: E.164, or the digits of what is not a valid
    number but can still be dialled (an extension: ``002``); None for neither."""
    text = raw.strip()
    e164 = to_e164(text, region)
    if e164 is not None:
        return e164
    digits = "".join(ch for ch in text if "0" <= ch <= "9")
    if 2 <= len(digits) <= 15 and not re.search(r"[^\d\s()+.\-]", text):
        return digits
    return None


# Code points put Ukrainian "і" after "я" (and ґ, є, ї, ё out of place too). The
# contact list sorts by the ``search`` column, so those five letters become their
# neighbour plus a private-use character: "ґ" sorts right after "г", "і" and "ї"
# after "и" and before "й". A search maps ``q`` the same way, so substrings still match.
_OUT_OF_ORDER: Final = (
    ("ё", "е\ue000"),
    ("є", "е\ue001"),
    ("ґ", "г\ue000"),
    ("і", "и\ue000"),
    ("ї", "и\ue001"),
)


def search_text(name: str, company: str | None = None) -> str:
    """What the contact list sorts by and ``q`` is matched against: name and company,
    case-folded, Cyrillic letters in alphabet order. Apply it to ``q`` too."""
    text = name.strip().casefold()
    if company:
        text = f"{text} {company.strip().casefold()}".strip()
    if not text.isascii():
        for letter, key in _OUT_OF_ORDER:
            if letter in text:
                text = text.replace(letter, key)
    return text


def merge_contacts(kept: Contact, others: Sequence[Contact]) -> Contact:
    """Several contacts as one (merging duplicates): the kept one's fields win; its
    empty fields and missing attributes are filled from the others in order; the
    phones are united (a number once, the kept one's first); the newest last
    contact stays, so the ranking still sees it."""
    name, company, responsible = kept.name, kept.company, kept.responsible_ext
    phones = list(kept.phones)
    numbers = {p.number for p in phones}
    attributes = dict(kept.attributes)
    last = kept.last_contact_at
    for other in others:
        name = name or other.name
        company = company or other.company
        responsible = responsible or other.responsible_ext
        for phone in other.phones:
            if phone.number not in numbers:
                numbers.add(phone.number)
                phones.append(phone)
        for key, value in other.attributes.items():
            attributes.setdefault(key, value)
        if other.last_contact_at is not None and (last is None or other.last_contact_at > last):
            last = other.last_contact_at
    return Contact(
        id=kept.id,
        name=name,
        company=company,
        phones=tuple(phones[:MAX_PHONES]),
        attributes=attributes,
        responsible_ext=responsible,
        last_contact_at=last,
        created_at=kept.created_at,
        updated_at=kept.updated_at,
    )


# ------------------------------------------------------------------ search fields (U7)


def check_search_fields(value: Any) -> str | None:
    """The problem with a ``search_fields`` setting, or None when it is usable."""
    if not isinstance(value, list) or not value:
        return "must be a non-empty list of field lists"
    if len(value) > MAX_SEARCH_FIELDS:
        return f"at most {MAX_SEARCH_FIELDS} search fields"
    for item in value:
        if not isinstance(item, list) or not item:
            return 'each search field is a non-empty list of field names, e.g. ["phone"]'
        if len(item) > MAX_CONCATENATED:
            return f"at most {MAX_CONCATENATED} fields concatenated"
        if not all(isinstance(name, str) and name.strip() for name in item):
            return "field names must be non-empty text"
    return None


def _field_values(contact: Contact, name: str) -> list[tuple[str, int | None]]:
    """A field's values as text, with the phone index they came from."""
    if name == PHONE_FIELD:
        return [(p.number, i) for i, p in enumerate(contact.phones) if p.number]
    if name == "name":
        value: Any = contact.name
    elif name == "company":
        value = contact.company
    else:
        value = contact.attributes.get(name)
    if value is None or isinstance(value, bool | dict | list):
        return []
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 442249895.0 read from a spreadsheet
    text = str(value).strip()
    return [(text, None)] if text else []


def search_keys(
    contact: Contact, search_fields: Sequence[Sequence[str]], region: str = DEFAULT_REGION
) -> list[tuple[str, int | None]]:
    """The keys the number index holds for ``contact``: (key, phone index or None).

    Each search field concatenates its fields in order ("Поле2 + Поле3"); a field
    with no value leaves that search field out. A field naming the phones takes
    each phone in turn. Keys are unique; the first phone a key came from wins.
    """
    keys: dict[str, int | None] = {}
    for names in search_fields:
        if len(names) == 1 and names[0].strip() == PHONE_FIELD:
            # The common case, fast: a stored E.164 number is its own key.
            for index, phone in enumerate(contact.phones):
                number = phone.number
                key = number if number.startswith("+") else lookup_key(number, region)
                if key is not None and key not in keys:
                    keys[key] = index
            continue
        parts = [_field_values(contact, name.strip()) for name in names]
        if not all(parts):
            continue
        for combination in product(*parts):
            text = "".join(value for value, _ in combination)
            phone_index = next((i for _, i in combination if i is not None), None)
            key = lookup_key(text, region)
            if key is not None and key not in keys:
                keys[key] = phone_index
    return list(keys.items())


def lookup_key(number: str, region: str = DEFAULT_REGION) -> str | None:
    """The key a number is indexed and looked up by: ``index_keys(number)[0]`` (E.164,
    else the digits of what is not a valid number), without the national-number
    parse that ``index_keys`` also makes (~25 µs a number, imports make 100k)."""
    e164 = to_e164(number, region)
    if e164 is not None:
        return e164
    digits = "".join(ch for ch in number if "0" <= ch <= "9")
    return digits if len(digits) >= 2 else None


# ------------------------------------------------------------------ several matches


RANK_RULE: Final = (
    "the operator's own contacts first (responsible operator), then the most recently "
    "contacted, then the most recently changed"
)


@dataclass(frozen=True, slots=True)
class Candidate:
    """What ranking needs of a contact found by number."""

    contact_id: int
    responsible_ext: str | None
    last_contact_at: datetime | None
    updated_at: datetime | None


_NEVER = datetime.min.replace(tzinfo=UTC)


def rank_key(candidate: Candidate, own_ext: str) -> tuple[bool, float, float, int]:
    """Sort key of :data:`RANK_RULE`: smaller is better; the id breaks ties (newest)."""
    return (
        candidate.responsible_ext != own_ext,
        -(candidate.last_contact_at or _NEVER).timestamp(),
        -(candidate.updated_at or _NEVER).timestamp(),
        -candidate.contact_id,
    )


def rank_matches(candidates: Iterable[Candidate], own_ext: str) -> list[Candidate]:
    return sorted(candidates, key=lambda c: rank_key(c, own_ext))


# ------------------------------------------------------------------ popup lines (B13, B14)


@dataclass(frozen=True, slots=True)
class LastCall:
    """The newest finished call with a number, from the journal."""

    at: datetime
    outcome: str | None
    direction: str
    talk_s: int = 0


@dataclass(frozen=True, slots=True)
class PlannedSummary:
    """A contact's nearest planned event (M4)."""

    event_id: int
    planned_at: datetime
    kind: str
    importance: str
    notes: str = ""


@dataclass(frozen=True, slots=True)
class DialProgress:
    """The number in the operator's dial list (B13): tries so far and the next one."""

    attempts: int
    next_at: datetime


@dataclass(frozen=True, slots=True)
class RobotAnswer:
    """The contact's latest answer to the robot dialer (B13, J2)."""

    dtmf: str
    importance: str
    at: datetime


_PHRASES: Final[dict[str, dict[str, str]]] = {
    "en": {
        "matches": "{n} contacts have this number: yours first, then the most recent",
        "last": "Last contact: {when}, {result}",
        "never": "No calls with this number yet",
        "note": "Note: {text}",
        "planned": "Planned: {when}, {what}",
        "responsible": "Responsible: {ext}",
        "dialing": "Auto-dial: {n} attempt(s), next {when}",
        "robot": "Robot: pressed {dtmf} ({importance}), {when}",
        "seen": "Seen before: {when}, {result}",
        "unseen": "Not seen before",
    },
    "uk": {
        "matches": "Цей номер мають {n} контакти: спершу ваші, потім найсвіжіші",
        "last": "Останній контакт: {when}, {result}",
        "never": "Дзвінків з цим номером ще не було",
        "note": "Примітка: {text}",
        "planned": "Заплановано: {when}, {what}",
        "responsible": "Відповідальний: {ext}",
        "dialing": "Автодзвін: спроб {n}, наступна {when}",
        "robot": "Робот: натиснуто {dtmf} ({importance}), {when}",
        "seen": "Дзвонив раніше: {when}, {result}",
        "unseen": "Раніше не дзвонив",
    },
    "ru": {
        "matches": "Этот номер есть у {n} контактов: сначала ваши, затем самые свежие",
        "last": "Последний контакт: {when}, {result}",
        "never": "Звонков с этим номером ещё не было",
        "note": "Примечание: {text}",
        "planned": "Запланировано: {when}, {what}",
        "responsible": "Ответственный: {ext}",
        "dialing": "Автодозвон: попыток {n}, следующая {when}",
        "robot": "Робот: нажато {dtmf} ({importance}), {when}",
        "seen": "Звонил раньше: {when}, {result}",
        "unseen": "Раньше не звонил",
    },
}
_RESULTS: Final[dict[str, dict[str, str]]] = {
    "en": {
        "answered": "answered",
        "no_answer": "no answer",
        "busy": "busy",
        "congested": "network busy",
        "failed": "failed",
        "not_reached": "not reached",
        "": "in progress",
    },
    "uk": {
        "answered": "розмова",
        "no_answer": "без відповіді",
        "busy": "зайнято",
        "congested": "мережа перевантажена",
        "failed": "збій",
        "not_reached": "не додзвонились",
        "": "триває",
    },
    "ru": {
        "answered": "разговор",
        "no_answer": "без ответа",
        "busy": "занято",
        "congested": "сеть перегружена",
        "failed": "сбой",
        "not_reached": "не дозвонились",
        "": "идёт",
    },
}
_KIND_WORDS: Final[dict[str, dict[str, str]]] = {
    "en": {k: k for k in PHONE_KINDS},
    "uk": {
        "mobile": "мобільний",
        "work": "робочий",
        "home": "домашній",
        "fax": "факс",
        "other": "інший",
    },
    "ru": {
        "mobile": "мобильный",
        "work": "рабочий",
        "home": "домашний",
        "fax": "факс",
        "other": "другой",
    },
}
NOTE_LIMIT: Final = 80


def language_of(lang: str | None) -> str:
    """One of the phrase tables' languages; English for anything else (B7)."""
    code = (lang or "").lower()[:2]
    return code if code in _PHRASES else "en"


def format_when(at: datetime, tz: tzinfo, lang: str) -> str:
    """A time as an operator reads it, in the team's time zone."""
    local = at.astimezone(tz)
    return local.strftime("%Y-%m-%d %H:%M" if lang == "en" else "%d.%m.%Y %H:%M")


def _result(call: LastCall, lang: str) -> str:
    text = _RESULTS[lang].get(call.outcome or "", call.outcome or "")
    if call.talk_s > 0:
        minutes, seconds = divmod(call.talk_s, 60)
        text += f" {minutes}:{seconds:02d}"
    return text


def _one_line(text: str, limit: int = NOTE_LIMIT) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def phone_detail(phone: Phone | None, lang: str) -> str | None:
    """M4: the kind of number and its contact person ("mobile · Іван")."""
    if phone is None:
        return None
    kind = _KIND_WORDS[lang].get(phone.kind or "", phone.kind or "")
    parts = [p for p in (kind, phone.person or "") if p]
    return " · ".join(parts) or None


def known_lines(
    *,
    phone: Phone | None,
    matches: int,
    last_call: LastCall | None,
    last_note: str | None,
    planned: PlannedSummary | None,
    responsible_ext: str | None,
    own_ext: str,
    tz: tzinfo,
    lang: str,
    dialing: DialProgress | None = None,
    robot: RobotAnswer | None = None,
) -> tuple[str, ...]:
    """B13's lines for a known contact, most useful first."""
    lang = language_of(lang)
    words = _PHRASES[lang]
    lines: list[str] = []
    detail = phone_detail(phone, lang)
    if detail:
        lines.append(detail)
    if matches > 1:
        lines.append(words["matches"].format(n=matches))
    if last_call is not None:
        when = format_when(last_call.at, tz, lang)
        lines.append(words["last"].format(when=when, result=_result(last_call, lang)))
    else:
        lines.append(words["never"])
    if last_note:
        lines.append(words["note"].format(text=_one_line(last_note)))
    if planned is not None:
        what = ", ".join(p for p in (planned.kind, planned.importance) if p)
        lines.append(
            words["planned"].format(when=format_when(planned.planned_at, tz, lang), what=what)
        )
    if dialing is not None:
        when = format_when(dialing.next_at, tz, lang)
        lines.append(words["dialing"].format(n=dialing.attempts, when=when))
    if robot is not None:
        when = format_when(robot.at, tz, lang)
        lines.append(words["robot"].format(dtmf=robot.dtmf, importance=robot.importance, when=when))
    if responsible_ext and responsible_ext != own_ext:
        lines.append(words["responsible"].format(ext=responsible_ext))
    return tuple(lines)


def unknown_lines(
    hint: NumberHint | None, seen: LastCall | None, *, tz: tzinfo, lang: str
) -> tuple[str, ...]:
    """B14's lines for a number no contact has: where it is from, and "seen before"."""
    lang = language_of(lang)
    words = _PHRASES[lang]
    lines: list[str] = []
    if hint is not None:
        place = " · ".join(p for p in (hint.region, hint.operator) if p)
        if place:
            lines.append(place)
    if seen is not None:
        when = format_when(seen.at, tz, lang)
        lines.append(words["seen"].format(when=when, result=_result(seen, lang)))
    else:
        lines.append(words["unseen"])
    return tuple(lines)


# ------------------------------------------------------------------ B14 hints, offline


@dataclass(frozen=True, slots=True)
class HintTables:
    """phonenumbers' geocoder and carrier prefixes (international digits → {lang: text})
    for some country codes, and country names by region code (hint_table.py)."""

    geo: Mapping[str, Mapping[str, str]]
    carriers: Mapping[str, Mapping[str, str]]
    countries: Mapping[str, Mapping[str, str]]
    longest: int = 10


_MOBILE_TYPES = frozenset(
    {
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        phonenumbers.PhoneNumberType.PAGER,
    }
)
_KIND_NAMES: Final = {
    phonenumbers.PhoneNumberType.FIXED_LINE: "fixed_line",
    phonenumbers.PhoneNumberType.MOBILE: "mobile",
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
    phonenumbers.PhoneNumberType.TOLL_FREE: "toll_free",
    phonenumbers.PhoneNumberType.PREMIUM_RATE: "premium_rate",
    phonenumbers.PhoneNumberType.VOIP: "voip",
}


def _prefixed(table: Mapping[str, Mapping[str, str]], digits: str, longest: int, lang: str) -> str:
    for length in range(min(len(digits), longest), 0, -1):
        names = table.get(digits[:length])
        if names is not None:
            # phonenumbers falls back to English for every language but zh, ja, ko.
            return names.get(lang) or names.get("en", "")
    return ""


def describe_number(e164: str, tables: HintTables, lang: str = "en") -> NumberHint:
    """Region and mobile operator of a number, as phonenumbers' geocoder and carrier
    modules say (``description_for_number``, ``name_for_number``), from the compact
    tables. Unknown numbers give a hint of Nones."""
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return NumberHint(None, None, None, None)
    if not phonenumbers.is_valid_number(number):
        return NumberHint(None, None, None, None)
    lang = language_of(lang)
    ntype = phonenumbers.number_type(number)
    region_code = phonenumbers.region_code_for_number(number) or ""
    names = tables.countries.get(region_code, {})
    country = names.get(lang) or names.get("en") or None
    digits = e164.lstrip("+")
    region: str | None = country
    if phonenumbers.is_number_type_geographical(ntype, number.country_code or 0):
        region = _prefixed(tables.geo, digits, tables.longest, lang) or country
    operator = None
    if ntype in _MOBILE_TYPES:
        operator = _prefixed(tables.carriers, digits, tables.longest, lang) or None
    return NumberHint(
        region=region, operator=operator, country=country, kind=_KIND_NAMES.get(ntype)
    )
