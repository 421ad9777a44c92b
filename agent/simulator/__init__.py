"""The Phonet PBX simulator, shipped in the package (contracts.md §3).

The demo, the agent's tests and ``phonet-agent simulator`` all run this one
simulator: real HTTP and WebSocket on one port, speaking phonet-api.md, plus a
control API under ``/_sim/``. See docs/architecture/simulator.md.
"""

from agent.simulator.cli import run_cli
from agent.simulator.client import SimControl
from agent.simulator.options import SimulatorInfo, SimulatorOptions
from agent.simulator.server import SimulatorThread, serve_simulator

__all__ = [
    "SimControl",
    "SimulatorInfo",
    "SimulatorOptions",
    "SimulatorThread",
    "run_cli",
    "serve_simulator",
]
