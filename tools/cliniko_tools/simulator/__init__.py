"""An in-memory Cliniko REST API on loopback: the demo's, integration tests' and benchmarks' Cliniko.

    from cliniko_tools.simulator import Simulator

    with Simulator(api_keys=["MS0xLWFiYw-au1"], seed="demo") as sim:
        base_url = sim.start()  # http://127.0.0.1:PORT/v1

See docs/simulator.md for the wire behaviour, the control surface and the deliberate choices.
"""

from cliniko_tools.simulator.behaviour import SimulatorBehaviour
from cliniko_tools.simulator.clock import SimClock
from cliniko_tools.simulator.faults import FAULT_KINDS, FaultInjector
from cliniko_tools.simulator.requestlog import RecordedRequest
from cliniko_tools.simulator.schema import ValidationFailed
from cliniko_tools.simulator.simulator import Simulator, serve
from cliniko_tools.simulator.store import NotFound

__all__ = [
    "FAULT_KINDS",
    "FaultInjector",
    "NotFound",
    "RecordedRequest",
    "SimClock",
    "Simulator",
    "SimulatorBehaviour",
    "ValidationFailed",
    "serve",
]
