"""Product keys as specifications (L1, U10; issue 8 items 2 and 5): a key the vendor
issues verifies for its database and nowhere else, and each bad key is refused with
its own fault, field and message."""

from __future__ import annotations

import base64
import uuid
import zlib
from datetime import UTC, date, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.core.license import (
    KEY_LETTERS,
    Fault,
    LicenseRequest,
    LicenseTerms,
    Rejection,
    assemble_key,
    check_client_code,
    check_client_id,
    decode_key,
    parse_request,
    verify_key,
)
from tests.license.conftest import CODE, ISSUED, OTHER_CODE, Vendor

CLIENT = "a7013ca4-0789-4fe1-9abe-e5cab769d167"  # the manual's example (§4), lower-cased
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def verify(vendor: Vendor, key: str, **kwargs: object) -> LicenseTerms | Rejection:
    options: dict[str, object] = {"client_id": CLIENT, "now": NOW, **kwargs}
    return verify_key(key, public_key=vendor.public, **options)  # type: ignore[arg-type]


def fault_of(result: LicenseTerms | Rejection) -> Fault:
    assert isinstance(result, Rejection), f"expected a rejection, got {result}"
    return result.fault


# ------------------------------------------------------------------ the round trip


def test_a_key_the_vendor_issues_verifies_with_every_term_it_was_given(vendor: Vendor) -> None:
    key = vendor.key(CLIENT, CODE, 5, expires=date(2026, 12, 31))
    assert verify(vendor, key) == LicenseTerms(CLIENT, CODE, 5, ISSUED, date(2026, 12, 31))
    assert verify(vendor, key, client_code=CODE, count=5) == verify(vendor, key)


def test_a_key_reads_as_a_prefix_and_groups_of_eight_base32_letters(vendor: Vendor) -> None:
    key = vendor.key(CLIENT)
    prefix, *groups = key.split("-")
    assert prefix == "PA1"
    assert len(groups) == 19 and all(len(g) == 8 and set(g) <= set(ALPHABET) for g in groups)
    assert len("".join(groups)) == KEY_LETTERS


def test_a_pasted_key_may_be_wrapped_spaced_or_lower_case(vendor: Vendor) -> None:
    key = vendor.key(CLIENT)
    wrapped = "  " + key[:60].lower() + "\r\n" + key[60:120] + "\n\t" + key[120:] + " \n"
    assert verify(vendor, wrapped) == verify(vendor, key)


def test_a_key_without_expiry_never_expires(vendor: Vendor) -> None:
    terms = verify(vendor, vendor.key(CLIENT), now=datetime(2140, 1, 1, tzinfo=UTC))
    assert isinstance(terms, LicenseTerms) and terms.expires_on is None


def test_a_key_works_through_its_last_day_in_utc_and_not_a_moment_after(vendor: Vendor) -> None:
    key = vendor.key(CLIENT, expires=date(2025, 6, 1))
    assert isinstance(
        verify(vendor, key, now=datetime(2025, 6, 1, 23, 59, 59, tzinfo=UTC)), LicenseTerms
    )
    expired = verify(vendor, key, now=datetime(2025, 6, 2, tzinfo=UTC))
    assert fault_of(expired) is Fault.EXPIRED
    assert isinstance(expired, Rejection) and expired.field == "key"
    assert "expired on 2025-06-01" in expired.message
    assert expired.terms is not None and expired.terms.count == 3  # still shows what it was


# ------------------------------------------------------------------ each bad key (item 5)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "no product key"),
        ("   \n ", "no product key"),
        ("XYZ-ABCDEFGH", "not a Phonet Agent product key"),
        ("ABCDEFGHABCDEFGH", "not a Phonet Agent product key"),
        ("PA2-ABCDEFGH", "format 2"),
        ("PA1-ABCDEFGH-0189ABCD", "characters a key never has (0 1 8 9)"),
        ("PA1-ABCDEFGH", "letters too short"),
    ],
)
def test_text_that_is_no_key_is_malformed_and_says_why(
    vendor: Vendor, text: str, says: str
) -> None:
    result = verify(vendor, text)
    assert fault_of(result) is Fault.MALFORMED
    assert isinstance(result, Rejection) and result.field == "key" and says in result.message
    assert result.message_key == "license.malformed"


def test_a_key_cut_short_or_pasted_twice_is_malformed(vendor: Vendor) -> None:
    key = vendor.key(CLIENT)
    short = verify(vendor, key[:-9])
    assert isinstance(short, Rejection) and "8 letters too short" in short.message
    assert fault_of(verify(vendor, key + key[4:])) is Fault.MALFORMED


def test_a_mistyped_letter_is_malformed_not_tampered(vendor: Vendor) -> None:
    key = vendor.key(CLIENT)
    i = 40
    typo = key[:i] + ("B" if key[i] != "B" else "C") + key[i + 1 :]
    result = verify(vendor, typo)
    assert fault_of(result) is Fault.MALFORMED
    assert isinstance(result, Rejection) and "does not add up" in result.message


def _reseal(key: str, change: bytes, at: int) -> str:
    """The key with bytes changed at ``at`` and the CRC made to match again: what a
    deliberate forger does."""
    raw = bytearray(base64.b32decode(key[4:].replace("-", "")))
    raw[at : at + len(change)] = change
    raw[-4:] = zlib.crc32(bytes(raw[:-4])).to_bytes(4, "big")
    letters = base64.b32encode(bytes(raw)).decode()
    return "PA1-" + "-".join(letters[i : i + 8] for i in range(0, len(letters), 8))


def test_a_key_with_a_raised_count_is_tampered(vendor: Vendor) -> None:
    key = vendor.key(CLIENT, count=3)
    forged = _reseal(key, (500).to_bytes(2, "big"), at=21)
    assert decode_key(forged).terms.count == 500  # type: ignore[union-attr]
    result = verify(vendor, forged)
    assert fault_of(result) is Fault.TAMPERED
    assert isinstance(result, Rejection) and result.field == "key"
    assert "signature does not hold" in result.message


def test_a_key_moved_to_another_client_id_is_tampered(vendor: Vendor) -> None:
    other = uuid.uuid4()
    forged = _reseal(vendor.key(str(other)), uuid.UUID(CLIENT).bytes, at=1)
    assert fault_of(verify(vendor, forged)) is Fault.TAMPERED


def test_a_key_signed_by_another_vendor_key_is_tampered(vendor: Vendor) -> None:
    stranger = Vendor(Ed25519PrivateKey.generate())
    assert fault_of(verify(vendor, stranger.key(CLIENT))) is Fault.TAMPERED


def test_a_key_for_another_client_id_says_whose_it_is(vendor: Vendor) -> None:
    other = str(uuid.uuid4())
    result = verify(vendor, vendor.key(other))
    assert fault_of(result) is Fault.OTHER_CLIENT_ID
    assert isinstance(result, Rejection) and result.field == "client_id"
    assert other in result.message and CLIENT in result.message


def test_a_key_for_another_client_code_says_so(vendor: Vendor) -> None:
    result = verify(vendor, vendor.key(CLIENT, OTHER_CODE), client_code=CODE)
    assert fault_of(result) is Fault.OTHER_CLIENT_CODE
    assert isinstance(result, Rejection) and result.field == "client_code"
    assert OTHER_CODE in result.message and CODE in result.message


def test_a_key_for_another_count_than_the_form_says_is_refused(vendor: Vendor) -> None:
    result = verify(vendor, vendor.key(CLIENT, count=5), count=3)
    assert fault_of(result) is Fault.OTHER_COUNT
    assert isinstance(result, Rejection) and result.field == "count"
    assert "5 licences, not 3" in result.message


def test_a_tampered_key_is_refused_before_it_is_judged_for_the_client(vendor: Vendor) -> None:
    forged = _reseal(vendor.key(str(uuid.uuid4())), b"\x09", at=22)
    assert fault_of(verify(vendor, forged)) is Fault.TAMPERED


@settings(max_examples=200, deadline=None)
@given(position=st.integers(0, KEY_LETTERS - 1), letter=st.sampled_from(ALPHABET))
def test_no_single_wrong_letter_is_ever_accepted(
    vendor: Vendor, position: int, letter: str
) -> None:
    key = vendor.key(CLIENT)
    letters = key[4:].replace("-", "")
    if letters[position] == letter:
        return
    changed = "PA1-" + letters[:position] + letter + letters[position + 1 :]
    assert fault_of(verify(vendor, changed)) is Fault.MALFORMED


@settings(max_examples=100, deadline=None)
@given(position=st.integers(0, KEY_LETTERS - 2))
def test_no_swap_of_two_neighbouring_letters_is_ever_accepted(
    vendor: Vendor, position: int
) -> None:
    letters = vendor.key(CLIENT)[4:].replace("-", "")
    a, b = letters[position], letters[position + 1]
    if a == b:
        return
    swapped = letters[:position] + b + a + letters[position + 2 :]
    assert fault_of(verify(vendor, "PA1-" + swapped)) is Fault.MALFORMED


def test_assembling_a_key_needs_a_whole_signature() -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        assemble_key(LicenseTerms(CLIENT, CODE, 1, ISSUED), b"short")


# ------------------------------------------------------------------ client identity


@pytest.mark.parametrize(
    "code",
    [
        "32855961",  # 30–60 million: weights 7,1,2,3,4,5,6
        "14360570",  # below 30 million: weights 1..7
        "00032129",  # leading zeros are digits too
        "10000062",  # first sum mod 11 is 10: weights + 2
        "40000081",  # the same, in the 30–60 million range
        " 3285 5961 ",  # spaces typed in are dropped
    ],
)
def test_a_valid_edrpou_code_is_accepted(code: str) -> None:
    assert check_client_code(code) == code.replace(" ", "")


@pytest.mark.parametrize(
    ("code", "says"),
    [
        ("", "empty"),
        ("3285596", "8 digits"),
        ("328559612", "8 digits"),
        ("3285596A", "digits only"),
        ("٣٢٨٥٥٩٦١", "digits only"),  # Arabic-Indic digits are not EDRPOU digits
        ("32855962", "check digit does not match"),
        ("14360571", "check digit does not match"),
    ],
)
def test_a_bad_edrpou_code_is_refused_and_says_why(code: str, says: str) -> None:
    result = check_client_code(code)
    assert isinstance(result, Rejection)
    assert result.fault is Fault.BAD_CLIENT_CODE and result.field == "client_code"
    assert says in result.message


def test_a_client_id_is_any_uuid_written_canonically() -> None:
    assert check_client_id(CLIENT.upper()) == CLIENT
    assert check_client_id("{" + CLIENT + "}") == CLIENT
    bad = check_client_id("not-a-uuid")
    assert isinstance(bad, Rejection) and bad.field == "client_id"


# ------------------------------------------------------------------ the request text


def test_the_request_text_reads_back_to_what_it_says() -> None:
    request = LicenseRequest(CLIENT, CODE, 7)
    assert request.text.splitlines() == [
        "Phonet Agent licence request",
        f"Client ID: {CLIENT}",
        f"Client code (EDRPOU): {CODE}",
        "Licences: 7",
    ]
    assert parse_request(request.text.replace("\n", "\n    ")) == request  # indented in a mail
    assert parse_request("Hello,\n\n" + request.text + "\nThanks") == request


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("Client code (EDRPOU): 32855961\nLicences: 2", "client_id"),
        (f"Client ID: {CLIENT}\nLicences: 2", "client_code"),
        (f"Client ID: {CLIENT}\nClient code: 32855961", "count"),
        (f"Client ID: {CLIENT}\nClient code: 32855962\nLicences: 2", "client_code"),
        (f"Client ID: {CLIENT}\nClient code: 32855961\nLicences: 0", "count"),
        (f"Client ID: {CLIENT}\nClient code: 32855961\nLicences: many", "count"),
    ],
)
def test_a_request_missing_or_spoiling_a_field_is_refused(text: str, field: str) -> None:
    result = parse_request(text)
    assert isinstance(result, Rejection) and result.field == field
