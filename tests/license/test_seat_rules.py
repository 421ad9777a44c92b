"""Seats as specifications (U10; issue 8 items 4 and 6): what a key allows, and whether
one more agent may connect with others connected now. Pure rules, no database."""

from __future__ import annotations

from datetime import date

from agent.core.license import Fault, LicenseTerms, Rejection
from agent.core.license_seats import LicenseState, SeatHolder, seat_verdict, standing
from tests.license.conftest import CODE, ISSUED

CLIENT = "a7013ca4-0789-4fe1-9abe-e5cab769d167"
OLENA = SeatHolder("sim/001", ext="001", name="Олена Коваль", host="desk-1")
PETRO = SeatHolder("sim/002", ext="002", name="Петро Бондар")
IVAN = SeatHolder("sim/003", ext="003")


def licensed(count: int) -> LicenseTerms:
    return LicenseTerms(CLIENT, CODE, count, ISSUED, date(2030, 1, 1))


def test_without_a_key_a_database_runs_as_one_seat_and_says_so() -> None:
    current = standing(None)
    assert current.state is LicenseState.UNLICENSED and current.count == 1
    assert current.message == "no licence key is installed: running as one seat"
    assert current.required  # the first-run form opens (L1)


def test_a_valid_key_allows_its_count_and_closes_the_form() -> None:
    current = standing(licensed(5))
    assert current.state is LicenseState.LICENSED and current.count == 5
    assert current.message == "licensed for 5 licences until 2030-01-01"
    assert not current.required


def test_an_expired_key_falls_back_to_one_seat_and_shows_what_it_was() -> None:
    expired = Rejection(Fault.EXPIRED, "key", "the key expired on 2030-01-01", licensed(5))
    current = standing(expired)
    assert current.state is LicenseState.EXPIRED and current.count == 1
    assert current.terms == licensed(5) and current.required
    assert "expired on 2030-01-01" in current.message and "one seat" in current.message


def test_a_key_that_no_longer_verifies_falls_back_to_one_seat() -> None:
    current = standing(Rejection(Fault.TAMPERED, "key", "the key's signature does not hold"))
    assert current.state is LicenseState.INVALID and current.count == 1 and current.terms is None


def test_an_agent_is_admitted_while_fewer_than_the_count_are_connected() -> None:
    assert seat_verdict(standing(licensed(3)), []).admitted
    assert seat_verdict(standing(licensed(3)), [OLENA, PETRO]).admitted
    assert seat_verdict(standing(None), []).admitted


def test_connecting_beyond_the_count_is_refused_naming_who_holds_the_seats() -> None:
    verdict = seat_verdict(standing(licensed(2)), [OLENA, PETRO])
    assert not verdict.admitted and verdict.held_by == (OLENA, PETRO)
    assert verdict.message.startswith(
        "all 2 licences are in use, by 001 Олена Коваль on desk-1, 002 Петро Бондар."
    )
    assert "install a key with more licences" in verdict.message


def test_without_a_key_a_second_agent_is_refused_and_told_why() -> None:
    verdict = seat_verdict(standing(None), [IVAN])
    assert not verdict.admitted
    assert verdict.message.startswith(
        "no licence key is installed: running as one seat, and that seat is in use, by 003."
    )


def test_a_lowered_count_refuses_newcomers_while_more_are_still_connected() -> None:
    assert not seat_verdict(standing(licensed(1)), [OLENA, PETRO]).admitted


def test_a_holder_without_extension_or_name_is_named_by_its_agent_id() -> None:
    assert SeatHolder("host-7/agent").label == "host-7/agent"


def test_an_agent_that_still_holds_its_seat_keeps_it_even_under_a_lowered_count() -> None:
    """A lower count refuses newcomers; nobody connected is cut off (U10). An agent
    that released its seat (Disconnect) or lost it (a stale beat) is a newcomer."""
    full = standing(licensed(1))
    kept = seat_verdict(full, [OLENA, PETRO], IVAN, holding=True)
    assert kept.admitted and kept.held_by == (OLENA, PETRO)
    assert not seat_verdict(full, [OLENA, PETRO], IVAN).admitted
