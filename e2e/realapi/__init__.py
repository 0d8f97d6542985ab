"""Real kube-apiserver clusters on loopback for contract and end-to-end tests.

``RealClusters`` starts one etcd and a hub plus N member kube-apiservers built from Go modules
(``e2e/apiserver/build.sh``); ``StatusAgent`` stands in for the missing kubelets and controllers
by writing settled workload status. ``python -m e2e.realapi up`` runs them by hand.
"""

from e2e.realapi.cluster import (
    DEFAULT_BIN_DIR,
    BinariesMissingError,
    RealApiError,
    RealCluster,
    RealClusters,
    find_binaries,
)

__all__ = [
    "DEFAULT_BIN_DIR",
    "BinariesMissingError",
    "RealApiError",
    "RealCluster",
    "RealClusters",
    "find_binaries",
]
