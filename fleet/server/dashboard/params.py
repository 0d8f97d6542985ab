"""An ApplicationSet's parameter sets, generator by generator, for its dashboard page.

Evaluated on demand (a signed-in user presses "Show parameter sets"), with what the running
controller's ApplicationSet controller would use: the registered clusters and the repository
cache (through RepoHub, so hub repository credentials apply), inside the controller's expansion
limits and in a worker thread (generation is CPU-bound and may read git). Nothing is cached and
nothing written: a view of what each generator yields now.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio

from fleet.clusters.generator_input import generator_clusters
from fleet.controllers.appset import ClustersUnavailable, git_generator_urls
from fleet.controllers.repos import RepoHub
from generators import limits
from generators.base import Cluster, Environment
from generators.errors import GeneratorError, GitReadError
from generators.evaluate import Evaluation, entry_kinds
from generators.expand import engine_for
from generators.govalue import flat_strings
from generators.limits import ExpansionLimits
from generators.model import ApplicationSet, parse_application_set
from generators.repos import RepoResolver

MAX_SETS = 500
"""Parameter sets shown per generator (the page says how many more there were)."""
MAX_KEYS = 40


@dataclass(frozen=True)
class GeneratorParams:
    path: str
    """`spec.generators[0].matrix`"""
    keys: list[str] = field(default_factory=list)
    sets: list[dict[str, str]] = field(default_factory=list)
    total: int = 0
    error: str = ""


def _table(path: str, params: Sequence[Mapping[str, Any]]) -> GeneratorParams:
    flat = [flat_strings(p) for p in params[:MAX_SETS]]
    keys: list[str] = []
    for row in flat:
        for key in row:
            if key not in keys and len(keys) < MAX_KEYS:
                keys.append(key)
    return GeneratorParams(path, keys, flat, len(params))


def evaluate_sync(
    appset: ApplicationSet,
    clusters: Sequence[Cluster],
    clusters_error: str | None,
    resolver: RepoResolver | None,
    in_cluster_enabled: bool,
    bounds: ExpansionLimits,
) -> list[GeneratorParams]:
    """In a worker thread: each generator entry's parameter sets, or its error."""
    env = Environment(
        clusters=tuple(clusters),
        repos=resolver,
        in_cluster_enabled=in_cluster_enabled,
        clusters_error=clusters_error,
    )
    out: list[GeneratorParams] = []
    try:
        with limits.activated(limits.Budget(bounds)):
            run = Evaluation(appset, env, engine_for(appset))
            for index, entry in enumerate(appset.generators):
                path = f"spec.generators[{index}]"
                for kind in entry_kinds(entry, path):
                    where = f"{path}.{kind}"
                    try:
                        out.append(_table(where, run.evaluate(entry, path, kind=kind)))
                    except GeneratorError as error:
                        out.append(GeneratorParams(where, error=str(error)))
    finally:
        close = getattr(resolver, "close", None)
        if close is not None:
            close()
    return out


async def parameter_sets(
    document: Mapping[str, Any],
    *,
    registered: Sequence[Any],
    repos: RepoHub,
    in_cluster_enabled: bool,
    bounds: ExpansionLimits,
    clusters_known: bool = True,
) -> list[GeneratorParams]:
    """`registered`: the registry's RegisteredClusters (the implicit in-cluster one is added
    by the clusters generator itself, as in the controller)."""
    name = str((document.get("metadata") or {}).get("name") or "")
    try:
        appset = parse_application_set(document, f"ApplicationSet {name}")
    except GeneratorError as error:
        return [GeneratorParams("spec", error=str(error))]
    clusters_error = None if clusters_known else str(ClustersUnavailable("not listed yet"))
    clusters = generator_clusters(c for c in registered if c.source != "InCluster")
    urls = [url for _, url in git_generator_urls(appset.generators, "spec.generators")]
    try:
        resolver: RepoResolver | None = await repos.resolver(urls) if urls else None
    except GitReadError as error:
        return [GeneratorParams("spec.generators", error=f"git: {error}")]
    return await anyio.to_thread.run_sync(
        evaluate_sync, appset, clusters, clusters_error, resolver, in_cluster_enabled, bounds
    )
