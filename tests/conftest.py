"""Shared test fixtures. Real servers on 127.0.0.1 port 0; only the clock is faked.

The Phonet simulator (agent/simulator, contracts.md §3):

- ``simulator``: a running simulator's :class:`SimulatorInfo`, fresh for each test.
  One simulator thread serves the whole session and is reset before each test
  (start is ~20 ms but a stop takes ~0.2 s of uvicorn's shutdown ticks), with
  ``operator_answer_s=0.05`` so makeCall flows run fast.
- ``sim``: a :class:`SimControl` for it (the ``/_sim/`` control API).
- ``tls_simulator`` / ``tls_sim``: the same over HTTPS and WSS; ``ca_file`` is set.
- ``simulator_factory``: ``simulator_factory(seconds=True, ...)`` starts a
  simulator of its own with those options, stopped after the test.

Sub-directories add their own fixtures in their own conftest.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from agent.simulator import SimControl, SimulatorInfo, SimulatorOptions, SimulatorThread

FAST_OPERATOR_ANSWER_S = 0.05


def _fresh(thread: SimulatorThread) -> Iterator[SimulatorInfo]:
    info = thread.info
    with SimControl(info.base_url, info.ca_file) as control:
        control.reset()
        if control.connections():  # a previous test left a live client open
            control.drop()
    yield info


@pytest.fixture(scope="session")
def _simulator_thread() -> Iterator[SimulatorThread]:
    thread = SimulatorThread(SimulatorOptions(operator_answer_s=FAST_OPERATOR_ANSWER_S))
    thread.start()
    yield thread
    thread.stop()


@pytest.fixture(scope="session")
def _tls_simulator_thread() -> Iterator[SimulatorThread]:
    options = SimulatorOptions(tls=True, operator_answer_s=FAST_OPERATOR_ANSWER_S)
    thread = SimulatorThread(options)
    thread.start()
    yield thread
    thread.stop()


@pytest.fixture
def simulator(_simulator_thread: SimulatorThread) -> Iterator[SimulatorInfo]:
    """A running simulator over plain HTTP/WS, reset to its defaults."""
    yield from _fresh(_simulator_thread)


@pytest.fixture
def tls_simulator(_tls_simulator_thread: SimulatorThread) -> Iterator[SimulatorInfo]:
    """A running simulator over HTTPS/WSS; trust ``ca_file``."""
    yield from _fresh(_tls_simulator_thread)


@pytest.fixture
def sim(simulator: SimulatorInfo) -> Iterator[SimControl]:
    with SimControl(simulator.base_url) as control:
        yield control


@pytest.fixture
def tls_sim(tls_simulator: SimulatorInfo) -> Iterator[SimControl]:
    with SimControl(tls_simulator.base_url, tls_simulator.ca_file) as control:
        yield control


@pytest.fixture
def simulator_factory() -> Iterator[Callable[..., SimulatorInfo]]:
    """Start simulators with other options; each is stopped after the test."""
    threads: list[SimulatorThread] = []

    def start(**options: Any) -> SimulatorInfo:
        options.setdefault("operator_answer_s", FAST_OPERATOR_ANSWER_S)
        thread = SimulatorThread(SimulatorOptions(**options))
        threads.append(thread)
        return thread.start()

    yield start
    for thread in threads:
        thread.stop()
