"""Licensing rules, pure (L1, U10; issue 8): the product key's format, what the vendor
signs, how a key is judged, the client code (EDRPOU) checksum and the request text.
Seats are in :mod:`agent.core.license_seats`.

No I/O and no clock: ``now`` is an argument. Ed25519 verification comes from
``cryptography``, a pure-computation library like ``phonenumbers``.

A product key is the vendor's signed statement "client ID X, client code C may run N
seats (until D)". It is text an operator pastes (docs/licensing.md, "Key format")::

    PA1-XXXXXXXX-XXXXXXXX-…     19 groups of 8 base32 letters (RFC 4648: A–Z, 2–7)

which decode to 95 bytes, big-endian::

    0   1  format version (1)
    1  16  client ID (a UUID)
    17  4  client code (EDRPOU, as a number)
    21  2  licence count (1..9999)
    23  2  issued on (days since 1970-01-01)
    25  2  expires on, the last valid day (days since 1970-01-01; 0: never)
    27 64  Ed25519 signature over SIGNING_CONTEXT + bytes 0..26
    91  4  CRC-32 of bytes 0..90

The CRC tells a key damaged in copying ("malformed": every single wrong letter and
every swap of two neighbours is caught) from a key whose content was changed on
purpose or that another vendor key signed ("tampered": the CRC holds, the signature
does not). The client ID and code travel inside the key, so a key for another
database or company says so instead of looking tampered.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
import uuid
import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Final

KEY_PREFIX: Final = "PA"
FORMAT_VERSION: Final = 1
SIGNING_CONTEXT: Final = b"phonet-agent licence v1\x00"
"""Domain separation: a signature over a licence can never be mistaken for another message."""

_BODY: Final = struct.Struct(">B16sIHHH")  # version, client id, code, count, issued, expires
_SIGNATURE_LEN: Final = 64
_CRC: Final = struct.Struct(">I")
KEY_BYTES: Final = _BODY.size + _SIGNATURE_LEN + _CRC.size  # 95: a multiple of 5, no padding
KEY_LETTERS: Final = KEY_BYTES * 8 // 5  # 152
GROUP: Final = 8
MAX_COUNT: Final = 9999
EPOCH: Final = date(1970, 1, 1)
_LAST_DAY: Final = EPOCH + timedelta(days=0xFFFF)
_BASE32: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
_PREFIX_RE: Final = re.compile(r"([A-Z]+)(\d+)")
_SPACE_RE: Final = re.compile(r"\s+")


class Fault(StrEnum):
    """What is wrong with a key or a form field; ``license.{value}`` names its message."""

    MALFORMED = "malformed"  # not a key at all, or damaged in copying
    TAMPERED = "tampered"  # well-formed, but the signature does not hold
    OTHER_CLIENT_ID = "other_client_id"  # signed, for another database
    OTHER_CLIENT_CODE = "other_client_code"  # signed, for another company
    OTHER_COUNT = "other_count"  # signed, for another licence count than the form says
    EXPIRED = "expired"
    BAD_CLIENT_ID = "bad_client_id"
    BAD_CLIENT_CODE = "bad_client_code"
    BAD_COUNT = "bad_count"
    BAD_EXPIRY = "bad_expiry"


@dataclass(frozen=True, slots=True)
class Rejection:
    """A refused key or form field: a value, not an exception (architecture.md, rule 6).

    ``field`` is the form field to mark (``key``, ``client_id``, ``client_code``,
    ``count``, ``expires``); ``terms`` are the key's own terms when it decoded and
    its signature held (an expired key still shows what it was for).
    """

    fault: Fault
    field: str
    message: str
    terms: LicenseTerms | None = None

    @property
    def message_key(self) -> str:
        return f"license.{self.fault.value}"


@dataclass(frozen=True, slots=True)
class LicenseTerms:
    """What a key grants. ``client_id`` is canonical (lower case, dashed); ``client_code``
    8 digits; ``expires_on`` the last day the key works (UTC), None for never."""

    client_id: str
    client_code: str
    count: int
    issued_on: date
    expires_on: date | None = None

    @property
    def expires_at(self) -> datetime | None:
        """The first instant the key no longer works: midnight UTC after ``expires_on``."""
        if self.expires_on is None:
            return None
        return datetime.combine(self.expires_on + timedelta(days=1), time(), tzinfo=UTC)

    def expired(self, now: datetime) -> bool:
        at = self.expires_at
        return at is not None and now >= at


# ------------------------------------------------------------------ client identity


def check_client_id(text: str) -> str | Rejection:
    """A client ID as canonical UUID text, or why it is not one."""
    try:
        return str(uuid.UUID(text.strip()))
    except (ValueError, AttributeError):
        return Rejection(Fault.BAD_CLIENT_ID, "client_id", f"{text!r} is not a client ID (a UUID)")


def edrpou_check_digit(first7: str) -> int:
    """The 8th digit of an EDRPOU code (ЄДРПОУ; the State Statistics Service's rule).

    Weights 1..7, or 7,1..6 for codes from 30 000 000 to 59 999 999; when the sum
    mod 11 is 10, again with every weight + 2, and a second 10 counts as 0.
    """
    digits = [int(c) for c in first7]
    weights = [7, 1, 2, 3, 4, 5, 6] if first7[0] in "345" else [1, 2, 3, 4, 5, 6, 7]
    check = sum(w * d for w, d in zip(weights, digits, strict=True)) % 11
    if check == 10:
        check = sum((w + 2) * d for w, d in zip(weights, digits, strict=True)) % 11 % 10
    return check


def check_client_code(text: str) -> str | Rejection:
    """The client code (the company's EDRPOU: 8 digits, the last a check digit), spaces
    removed; or why it is not one (L1, U10)."""
    code = _SPACE_RE.sub("", text or "")
    if not code:
        return Rejection(Fault.BAD_CLIENT_CODE, "client_code", "the client code (EDRPOU) is empty")
    if not (code.isascii() and code.isdigit()) or len(code) != 8:
        return Rejection(
            Fault.BAD_CLIENT_CODE,
            "client_code",
            f"the client code (EDRPOU) has 8 digits; {code!r} has {len(code)} characters"
            if code.isascii() and code.isdigit()
            else f"the client code (EDRPOU) is digits only; {code!r} is not",
        )
    if edrpou_check_digit(code[:7]) != int(code[7]):
        return Rejection(
            Fault.BAD_CLIENT_CODE,
            "client_code",
            f"{code} is not a valid EDRPOU code: its check digit does not match "
            "(is a digit mistyped?)",
        )
    return code


def check_count(value: object) -> int | Rejection:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_COUNT:
        return Rejection(
            Fault.BAD_COUNT, "count", f"the licence count must be a whole number 1..{MAX_COUNT}"
        )
    return value


def check_terms(terms: LicenseTerms) -> LicenseTerms | Rejection:
    """Terms fit to sign (the vendor's ``issue``): every field valid, canonical."""
    client_id = check_client_id(terms.client_id)
    if isinstance(client_id, Rejection):
        return client_id
    code = check_client_code(terms.client_code)
    if isinstance(code, Rejection):
        return code
    count = check_count(terms.count)
    if isinstance(count, Rejection):
        return count
    if not EPOCH < terms.issued_on <= _LAST_DAY:
        return Rejection(Fault.BAD_EXPIRY, "issued", "the issue date is out of range")
    if terms.expires_on is not None and not terms.issued_on <= terms.expires_on <= _LAST_DAY:
        return Rejection(
            Fault.BAD_EXPIRY, "expires", "the expiry date must be on or after the issue date"
        )
    return LicenseTerms(client_id, code, count, terms.issued_on, terms.expires_on)


# ------------------------------------------------------------------ the key text


def _body(terms: LicenseTerms) -> bytes:
    expires = 0 if terms.expires_on is None else (terms.expires_on - EPOCH).days
    return _BODY.pack(
        FORMAT_VERSION,
        uuid.UUID(terms.client_id).bytes,
        int(terms.client_code),
        terms.count,
        (terms.issued_on - EPOCH).days,
        expires,
    )


def signing_payload(terms: LicenseTerms) -> bytes:
    """The exact bytes the vendor signs with Ed25519 (``terms`` already checked)."""
    return SIGNING_CONTEXT + _body(terms)


def assemble_key(terms: LicenseTerms, signature: bytes) -> str:
    """The key text for ``terms`` and the vendor's signature of :func:`signing_payload`."""
    if len(signature) != _SIGNATURE_LEN:
        raise ValueError("an Ed25519 signature is 64 bytes")
    raw = _body(terms) + signature
    raw += _CRC.pack(zlib.crc32(raw))
    letters = base64.b32encode(raw).decode("ascii")
    groups = [letters[i : i + GROUP] for i in range(0, len(letters), GROUP)]
    return "-".join([f"{KEY_PREFIX}{FORMAT_VERSION}", *groups])


@dataclass(frozen=True, slots=True)
class DecodedKey:
    terms: LicenseTerms
    payload: bytes  # what the signature covers
    signature: bytes


def _malformed(message: str) -> Rejection:
    return Rejection(Fault.MALFORMED, "key", message)


def decode_key(text: str) -> DecodedKey | Rejection:
    """Read a key's terms without judging its signature. Whitespace and line breaks
    anywhere (a key wrapped in an e-mail) and letter case do not matter."""
    compact = _SPACE_RE.sub("", text or "").upper()
    if not compact:
        return _malformed("no product key was given")
    head, dash, rest = compact.partition("-")
    prefix = _PREFIX_RE.fullmatch(head)
    if not dash or prefix is None or prefix.group(1) != KEY_PREFIX:
        return _malformed(
            f"this is not a Phonet Agent product key (a key starts with {KEY_PREFIX}1-)"
        )
    if int(prefix.group(2)) != FORMAT_VERSION:
        return _malformed(
            f"this key is of format {prefix.group(2)}, which this version of the agent "
            "does not know: update the agent"
        )
    letters = rest.replace("-", "")
    strange = sorted(set(letters) - _BASE32)
    if strange:
        return _malformed(
            "the key holds characters a key never has "
            f"({' '.join(strange[:5])}): paste it exactly as received"
        )
    if len(letters) != KEY_LETTERS:
        what = "short" if len(letters) < KEY_LETTERS else "long"
        off = abs(KEY_LETTERS - len(letters))
        return _malformed(
            f"the key is {off} letter{'' if off == 1 else 's'} too {what}: copy it whole"
        )
    try:
        raw = base64.b32decode(letters)
    except (binascii.Error, ValueError):  # pragma: no cover - alphabet and length checked
        return _malformed("the key cannot be read")
    (crc,) = _CRC.unpack(raw[-_CRC.size :])
    if zlib.crc32(raw[: -_CRC.size]) != crc:
        return _malformed(
            "the key does not add up (a letter is wrong or two are swapped): "
            "paste it again exactly as received"
        )
    version, id_bytes, code, count, issued, expires = _BODY.unpack(raw[: _BODY.size])
    if version != FORMAT_VERSION:
        return _malformed(f"the key says format {version} inside but {FORMAT_VERSION} outside")
    terms = LicenseTerms(
        client_id=str(uuid.UUID(bytes=id_bytes)),
        client_code=f"{code:08d}",
        count=count,
        issued_on=EPOCH + timedelta(days=issued),
        expires_on=EPOCH + timedelta(days=expires) if expires else None,
    )
    signature = raw[_BODY.size : _BODY.size + _SIGNATURE_LEN]
    return DecodedKey(terms, SIGNING_CONTEXT + raw[: _BODY.size], signature)


def verify_key(
    text: str,
    *,
    public_key: bytes,
    client_id: str,
    now: datetime,
    client_code: str | None = None,
    count: int | None = None,
) -> LicenseTerms | Rejection:
    """Judge a key for this database (L1; issue 8 item 5), in this order: malformed,
    tampered, for another client ID, for another client code, for another count,
    expired. ``client_code`` / ``count``: what the form says, when it says anything.
    ``public_key``: the vendor's 32-byte Ed25519 public key."""
    decoded = decode_key(text)
    if isinstance(decoded, Rejection):
        return decoded
    # cryptography (OpenSSL's bindings) costs ~6 MB of resident memory: loaded when a
    # key is first judged, not by an agent that holds none (issue 2, idle memory).
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(decoded.signature, decoded.payload)
    except InvalidSignature:
        return Rejection(
            Fault.TAMPERED,
            "key",
            "the key's signature does not hold: it was altered, or it was not issued by "
            "this agent's vendor",
        )
    terms = decoded.terms
    if check_terms(terms) != terms:
        # Signed, yet out of range: no vendor build issues such a key.
        return _malformed("the key holds values no licence has")
    if terms.client_id != client_id.lower():
        return Rejection(
            Fault.OTHER_CLIENT_ID,
            "client_id",
            f"the key is for client ID {terms.client_id}; this database's client ID is "
            f"{client_id.lower()}",
            terms,
        )
    if client_code is not None and terms.client_code != client_code:
        return Rejection(
            Fault.OTHER_CLIENT_CODE,
            "client_code",
            f"the key is for client code {terms.client_code}, not {client_code}",
            terms,
        )
    if count is not None and terms.count != count:
        return Rejection(
            Fault.OTHER_COUNT,
            "count",
            f"the key is for {licences(terms.count)}, not {count}",
            terms,
        )
    if terms.expired(now):
        assert terms.expires_on is not None
        return Rejection(
            Fault.EXPIRED,
            "key",
            f"the key expired on {terms.expires_on.isoformat()}: ask the vendor for a new one",
            terms,
        )
    return terms


# ------------------------------------------------------------------ the request to the vendor


REQUEST_TITLE: Final = "Phonet Agent licence request"
_REQUEST_FIELDS: Final = {
    "client id": "client_id",
    "client code (edrpou)": "client_code",
    "client code": "client_code",
    "licences": "count",
}


@dataclass(frozen=True, slots=True)
class LicenseRequest:
    """What the customer sends the vendor (manual §4: client ID, client code, count)."""

    client_id: str
    client_code: str
    count: int

    @property
    def text(self) -> str:
        """One field a line, so it survives e-mail and chat; read back by :func:`parse_request`."""
        return (
            f"{REQUEST_TITLE}\n"
            f"Client ID: {self.client_id}\n"
            f"Client code (EDRPOU): {self.client_code}\n"
            f"Licences: {self.count}\n"
        )


def parse_request(text: str) -> LicenseRequest | Rejection:
    """A request as :attr:`LicenseRequest.text` writes it (the vendor's ``issue --request``)."""
    found: dict[str, str] = {}
    for line in (text or "").splitlines():
        name, colon, value = line.partition(":")
        key = _REQUEST_FIELDS.get(name.strip().lower())
        if colon and key:
            found[key] = value.strip()
    for key, fault in (
        ("client_id", Fault.BAD_CLIENT_ID),
        ("client_code", Fault.BAD_CLIENT_CODE),
        ("count", Fault.BAD_COUNT),
    ):
        if not found.get(key):
            return Rejection(fault, key, f"the request has no {key.replace('_', ' ')}")
    client_id = check_client_id(found["client_id"])
    if isinstance(client_id, Rejection):
        return client_id
    code = check_client_code(found["client_code"])
    if isinstance(code, Rejection):
        return code
    count = check_count(int(found["count"]) if found["count"].isdigit() else 0)
    if isinstance(count, Rejection):
        return count
    return LicenseRequest(client_id, code, count)


def licences(n: int) -> str:
    return f"{n} licence" if n == 1 else f"{n} licences"
