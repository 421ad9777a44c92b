"""core/connection.py: trouble classified, delays backed off, "lost" and "back" said once.

Features U3 (reconnect) and B15 (connection health).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from agent.core.connection import (
    Backoff,
    Decision,
    FailureKind,
    LinkFailure,
    LinkMonitor,
    LinkState,
    backoff,
    classify,
)

T0 = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def fixed(value: float = 0.5) -> Callable[[], float]:
    return lambda: value


# ------------------------------------------------------------ classification

CASES = [
    (LinkFailure(FailureKind.NETWORK), Decision.RETRY),
    (LinkFailure(FailureKind.TLS), Decision.RETRY),
    (LinkFailure(FailureKind.TIMEOUT), Decision.RETRY),
    (LinkFailure(FailureKind.CLOSED_ABRUPTLY), Decision.RETRY),
    (LinkFailure(FailureKind.KEEPALIVE_TIMEOUT), Decision.RETRY),
    (LinkFailure(FailureKind.PROTOCOL), Decision.RETRY),
    (LinkFailure(FailureKind.HTTP_STATUS, status=500), Decision.RETRY),
    (LinkFailure(FailureKind.HTTP_STATUS, status=502), Decision.RETRY),
    (LinkFailure(FailureKind.HTTP_STATUS, status=503), Decision.RETRY),
    (LinkFailure(FailureKind.HTTP_STATUS, status=429), Decision.RETRY),
    (LinkFailure(FailureKind.HTTP_STATUS, status=408), Decision.RETRY),
    (LinkFailure(FailureKind.HTTP_STATUS, status=403), Decision.REAUTHENTICATE),
    (LinkFailure(FailureKind.HTTP_STATUS, status=401), Decision.REAUTHENTICATE),
    (LinkFailure(FailureKind.HTTP_STATUS, status=302), Decision.REAUTHENTICATE),
    (LinkFailure(FailureKind.HTTP_STATUS, status=404), Decision.GIVE_UP),
    (LinkFailure(FailureKind.HTTP_STATUS, status=400), Decision.GIVE_UP),
    (LinkFailure(FailureKind.CLOSED, close_code=1000), Decision.RETRY),
    (LinkFailure(FailureKind.CLOSED, close_code=1001), Decision.RETRY),
    (LinkFailure(FailureKind.CLOSED, close_code=1011), Decision.RETRY),
    (LinkFailure(FailureKind.CLOSED, close_code=None), Decision.RETRY),
    (LinkFailure(FailureKind.CLOSED, close_code=1008), Decision.REAUTHENTICATE),
    (LinkFailure(FailureKind.CLOSED, close_code=4003), Decision.REAUTHENTICATE),
    (LinkFailure(FailureKind.AUTH_REJECTED), Decision.GIVE_UP),
    (LinkFailure(FailureKind.SESSION_EXPIRED), Decision.REAUTHENTICATE),
    (LinkFailure(FailureKind.BAD_ADDRESS), Decision.GIVE_UP),
]


@pytest.mark.parametrize(("failure", "decision"), CASES, ids=[c[0].describe() for c in CASES])
def test_each_failure_is_classified_as_retry_reauthenticate_or_give_up(
    failure: LinkFailure, decision: Decision
) -> None:
    assert classify(failure) is decision


def test_every_failure_kind_has_a_decision_and_a_description() -> None:
    for kind in FailureKind:
        failure = LinkFailure(kind, status=503, close_code=1000)
        assert isinstance(classify(failure), Decision)
        assert failure.describe()


def test_a_description_carries_the_detail() -> None:
    assert LinkFailure(FailureKind.NETWORK, detail="refused").describe() == "network error: refused"
    assert LinkFailure(FailureKind.HTTP_STATUS, status=403).describe() == "HTTP 403"


# -------------------------------------------------------------------- backoff


def test_u3_backoff_starts_at_reconnect_s_doubles_and_stops_at_the_cap() -> None:
    delays = list(itertools.islice(backoff(10.0, 60.0, fixed(0.5)), 6))
    assert delays == [10.0, 20.0, 40.0, 60.0, 60.0, 60.0]


def test_jitter_spreads_each_delay_by_a_tenth_and_never_passes_the_cap() -> None:
    low = list(itertools.islice(backoff(10.0, 60.0, fixed(0.0)), 5))
    high = list(itertools.islice(backoff(10.0, 60.0, fixed(0.999999)), 5))
    assert low == pytest.approx([9.0, 18.0, 36.0, 54.0, 54.0])
    assert high[:3] == pytest.approx([11.0, 22.0, 44.0], rel=1e-4)
    assert max(high) <= 60.0


def test_a_reconnect_setting_above_the_cap_is_capped() -> None:
    assert next(backoff(90.0, 60.0, fixed())) == 60.0


def test_a_backoff_can_be_restarted() -> None:
    delays = Backoff(1.0, 8.0, fixed())
    assert [delays.next_delay() for _ in range(3)] == [1.0, 2.0, 4.0]
    delays.reset()
    assert delays.next_delay() == 1.0


def test_negative_delays_are_refused() -> None:
    with pytest.raises(ValueError):
        next(backoff(-1.0, 60.0, fixed()))


# --------------------------------------------------------------- link monitor


def monitor(healthy_s: float = 60.0) -> LinkMonitor:
    return LinkMonitor(reconnect_s=10.0, max_delay_s=60.0, jitter=fixed(), healthy_s=healthy_s)


def test_the_first_connection_is_reported_once_as_online() -> None:
    link = monitor()
    link.connecting(at(0))
    assert link.state is LinkState.CONNECTING
    change = link.connected(at(1))
    assert change.state is LinkState.ONLINE and change.at == at(1)
    assert change.up and change.reason is None
    stats = link.stats()
    assert (stats.state, stats.since, stats.connects, stats.reconnects) == (
        LinkState.ONLINE,
        at(1),
        1,
        0,
    )


def test_b15_a_drop_is_reported_once_however_many_attempts_follow() -> None:
    link = monitor()
    link.connecting(at(0))
    link.connected(at(0))
    lost = link.failed(at(5), LinkFailure(FailureKind.CLOSED_ABRUPTLY))
    assert lost.decision is Decision.RETRY
    assert lost.change is not None and lost.change.state is LinkState.OFFLINE
    assert not lost.change.up
    assert lost.change.reason == "connection lost"
    assert lost.delay_s == 10.0
    reports = []
    for i in range(3):
        link.connecting(at(20 + i))
        step = link.failed(at(20 + i), LinkFailure(FailureKind.NETWORK, detail="refused"))
        reports.append(step.change)
    assert reports == [None, None, None]
    stats = link.stats()
    assert stats.state is LinkState.OFFLINE
    assert stats.since == at(5)  # down since the drop, not since the last attempt
    assert stats.attempts_failed == 4
    assert stats.last_reason == "network error: refused"


def test_b15_coming_back_is_reported_once_and_counted_as_a_reconnect() -> None:
    link = monitor()
    link.connecting(at(0))
    link.connected(at(0))
    link.failed(at(5), LinkFailure(FailureKind.CLOSED_ABRUPTLY))
    link.connecting(at(15))
    back = link.connected(at(15))
    assert back.state is LinkState.ONLINE
    stats = link.stats()
    assert (stats.connects, stats.reconnects, stats.attempts_failed) == (2, 1, 0)
    assert stats.since == at(15)
    assert link.failed(at(20), LinkFailure(FailureKind.CLOSED_ABRUPTLY)).change is not None


def test_a_first_attempt_that_fails_is_reported_once_too() -> None:
    link = monitor()
    link.connecting(at(0))
    step = link.failed(at(1), LinkFailure(FailureKind.NETWORK))
    assert step.change is not None and step.change.reason == "network error"


def test_delays_keep_growing_while_connections_drop_at_once() -> None:
    link = monitor(healthy_s=60.0)
    delays = []
    for i in range(4):
        link.connecting(at(i * 100))
        link.connected(at(i * 100))
        delays.append(
            link.failed(at(i * 100 + 1), LinkFailure(FailureKind.CLOSED, close_code=1000)).delay_s
        )
    assert delays == [10.0, 20.0, 40.0, 60.0]


def test_the_backoff_starts_over_after_a_healthy_connection() -> None:
    link = monitor(healthy_s=60.0)
    link.connecting(at(0))
    assert link.failed(at(0), LinkFailure(FailureKind.NETWORK)).delay_s == 10.0
    assert link.failed(at(10), LinkFailure(FailureKind.NETWORK)).delay_s == 20.0
    link.connected(at(30))
    assert link.failed(at(200), LinkFailure(FailureKind.CLOSED_ABRUPTLY)).delay_s == 10.0


def test_a_refused_key_gives_up_with_a_report_even_after_lost_was_said() -> None:
    link = monitor()
    link.connecting(at(0))
    step = link.failed(at(0), LinkFailure(FailureKind.HTTP_STATUS, status=403))
    assert step.decision is Decision.REAUTHENTICATE and step.change is not None
    link.reauthenticated()
    final = link.give_up(at(1), "API key refused")
    assert final.gave_up and final.reason == "API key refused"
    assert final.state is LinkState.OFFLINE
    stats = link.stats()
    assert stats.gave_up and stats.reauthentications == 1
    assert stats.last_reason == "API key refused"


def test_a_hopeless_failure_gives_up_at_once() -> None:
    link = monitor()
    link.connecting(at(0))
    step = link.failed(at(0), LinkFailure(FailureKind.HTTP_STATUS, status=404))
    assert step.decision is Decision.GIVE_UP
    assert step.change is not None and step.change.gave_up
    assert step.change.reason == "HTTP 404"


def test_a_new_attempt_after_giving_up_clears_the_flag() -> None:
    link = monitor()
    link.give_up(at(0), "API key refused")
    link.connecting(at(1))
    assert not link.stats().gave_up


def test_frames_set_the_last_event_time() -> None:
    link = monitor()
    link.connected(at(0))
    link.frame(at(3))
    assert link.stats().last_event_at == at(3)


def test_after_a_deliberate_stop_the_next_run_reports_its_first_failure_again() -> None:
    link = monitor()
    link.connected(at(0))
    link.failed(at(1), LinkFailure(FailureKind.CLOSED_ABRUPTLY))
    link.stopped(at(2))
    assert link.state is LinkState.OFFLINE
    link.connecting(at(3))
    assert link.failed(at(4), LinkFailure(FailureKind.NETWORK)).change is not None


def test_after_giving_up_the_next_run_reports_its_first_failure_again() -> None:
    link = monitor()
    link.connecting(at(0))
    link.failed(at(0), LinkFailure(FailureKind.HTTP_STATUS, status=404))
    link.connecting(at(5))
    assert link.failed(at(6), LinkFailure(FailureKind.NETWORK)).change is not None
