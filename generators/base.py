"""The one small interface every generator implements, and what generators can see.

A generator turns its spec (one entry of `spec.generators`, already interpolated with parent
parameters where Argo CD does that) into parameter sets. It never renders Applications and never
fetches: clusters and repositories come in through `Environment`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from generators.repos import RepoResolver

if TYPE_CHECKING:
    from generators.evaluate import Evaluation

ParamSet = dict[str, Any]

IN_CLUSTER_NAME = "in-cluster"
IN_CLUSTER_SERVER = "https://kubernetes.default.svc"
CLUSTER_SECRET_LABEL = "argocd.argoproj.io/secret-type"


@dataclass(frozen=True, slots=True)
class Cluster:
    """A registered cluster as the clusters generator sees it (an Argo CD cluster Secret)."""

    name: str
    server: str
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    project: str = ""


@dataclass(frozen=True, slots=True)
class Environment:
    """Everything outside the ApplicationSet that generators read."""

    clusters: Sequence[Cluster] = ()
    repos: RepoResolver | None = None
    in_cluster_enabled: bool = True
    """Argo CD's `cluster.inClusterEnabled`: whether the local cluster is a target at all."""
    clusters_error: str | None = None
    """Why the cluster list is not known (e.g. the hub watch is failing). When set, the clusters
    generator fails with this message instead of generating from `clusters`: an unknown list
    must never read as "no clusters", which would delete every cluster's Application."""


class Generator(Protocol):
    kind: str
    """The key under `spec.generators[]`, e.g. `list`."""

    def validate(self, spec: Mapping[str, Any], path: str) -> None:
        """Check the spec's shape before anything is generated; raise InvalidApplicationSetError."""
        ...

    def generate(self, spec: Mapping[str, Any], path: str, run: Evaluation) -> list[ParamSet]:
        """The parameter sets, in Argo CD's order. Raise a GeneratorError, never return partial."""
        ...
