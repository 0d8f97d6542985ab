"""Registered clusters as the clusters generator sees them (`generators.base.Cluster`).

Why a function of its own: the generator library never imports fleet, so the controller
converts. Argo CD's clusters generator exposes a cluster's Secret labels and annotations; fleet
Clusters carry `spec.labels`/`spec.annotations` for the same purpose, and an Argo CD cluster
Secret keeps its own (minus the `argocd.argoproj.io/secret-type` label, which selects nothing).
Output is sorted by name so expansions are deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable

from fleet.api.cluster import Cluster
from fleet.clusters.registry import RegisteredCluster
from generators.base import Cluster as GeneratorCluster


def from_cluster(cluster: Cluster) -> GeneratorCluster:
    return GeneratorCluster(
        name=cluster.name,
        server=cluster.spec.server,
        labels=dict(cluster.spec.labels),
        annotations=dict(cluster.spec.annotations),
        project=cluster.spec.project,
    )


def generator_clusters(
    clusters: Iterable[Cluster | RegisteredCluster],
) -> list[GeneratorCluster]:
    """Cluster resources or registry entries -> generator input, sorted by name."""
    out: list[GeneratorCluster] = []
    for item in clusters:
        if isinstance(item, Cluster):
            out.append(from_cluster(item))
        else:
            out.append(
                GeneratorCluster(
                    name=item.name,
                    server=item.server,
                    labels=dict(item.labels),
                    annotations=dict(item.annotations),
                    project=item.project,
                )
            )
    return sorted(out, key=lambda c: c.name)
