"""fleet.sim: Kubernetes API servers simulated in-process, many clusters behind one port.

The embedded default backend for demos and the scale-test bed. It speaks the REST protocol
closely enough for kubectl, kubernetes_asyncio and the official client, and never imports the
rest of fleet.
"""

from fleet.sim.cluster import SimCluster
from fleet.sim.faults import Faults
from fleet.sim.server import SimServer

__all__ = ["Faults", "SimCluster", "SimServer"]
