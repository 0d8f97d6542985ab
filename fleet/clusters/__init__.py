"""The cluster registry: credentials, one client per cluster, health probes, circuit breakers.

`manager.ClusterManager` owns every cluster's client (others use `manager.use(name)` or
`manager.client(name)`); `registry.HubRegistry` keeps it in step with the hub's Cluster
resources and credential Secrets and writes their status; `cli` is `fleet cluster ...`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fleet.clusters.manager import ClusterHealth, ClusterManager, ManagerSettings
    from fleet.clusters.registry import HubRegistry, RegisteredCluster

_LAZY = {
    "ClusterHealth": "fleet.clusters.manager",
    "ClusterManager": "fleet.clusters.manager",
    "ManagerSettings": "fleet.clusters.manager",
    "HubRegistry": "fleet.clusters.registry",
    "RegisteredCluster": "fleet.clusters.registry",
}


def __getattr__(name: str) -> Any:
    """Import the client machinery on first use: `fleet` commands that never talk to a cluster
    (and the parser every command builds) should not pay for loading kubernetes_asyncio."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(name)
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = ["ClusterHealth", "ClusterManager", "HubRegistry", "ManagerSettings", "RegisteredCluster"]
