"""The clusters generator: one parameter set per registered cluster the selector matches.

Parameters as Argo CD names them: name, nameNormalized, server, project, and the cluster Secret's
labels and annotations (flat `metadata.labels.<key>` in the default mode, nested under `metadata`
in goTemplate mode). The local cluster `in-cluster` is a target only when the selector is empty
and no registered cluster already stands for https://kubernetes.default.svc (it has no Secret, so
no labels to match); it comes first. Every registered cluster carries the label
`argocd.argoproj.io/secret-type: cluster`, as an Argo CD cluster Secret does, so the documented
`matchLabels: {argocd.argoproj.io/secret-type: cluster}` selects exactly the remote clusters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from generators.base import (
    CLUSTER_SECRET_LABEL,
    IN_CLUSTER_NAME,
    IN_CLUSTER_SERVER,
    Cluster,
    ParamSet,
)
from generators.errors import GeneratorError
from generators.fields import optional_bool, reject_unknown, string_map
from generators.normalize import sanitize_name
from generators.selector import parse_selector

if TYPE_CHECKING:
    from generators.evaluate import Evaluation

_FIELDS = frozenset({"selector", "values", "template", "flatList"})


class ClustersGenerator:
    kind = "clusters"

    def validate(self, spec: Mapping[str, Any], path: str) -> None:
        reject_unknown(spec, _FIELDS, path)
        parse_selector(spec.get("selector"), f"{path}.selector")
        string_map(spec, "values", path)
        optional_bool(spec, "flatList", path)

    def generate(self, spec: Mapping[str, Any], path: str, run: Evaluation) -> list[ParamSet]:
        selector = parse_selector(spec.get("selector"), f"{path}.selector")
        values = string_map(spec, "values", path)
        if run.env.clusters_error is not None:
            raise GeneratorError(
                f"{path}: the cluster list is unavailable ({run.env.clusters_error})"
            )
        clusters = run.env.clusters
        params: list[ParamSet] = []
        has_local_secret = any(c.server == IN_CLUSTER_SERVER for c in clusters)
        if run.env.in_cluster_enabled and selector.is_empty and not has_local_secret:
            local: ParamSet = {
                "name": IN_CLUSTER_NAME,
                "nameNormalized": IN_CLUSTER_NAME,
                "server": IN_CLUSTER_SERVER,
                "project": "",
            }
            params.append(run.with_values(values, local, path))
        for cluster in clusters:
            labels = secret_labels(cluster)
            if not selector.matches(labels):
                continue
            cluster_params = _cluster_params(cluster, labels, go_template=run.go_template)
            params.append(run.with_values(values, cluster_params, path))
        if optional_bool(spec, "flatList", path):
            return [{"clusters": params}]
        return params


def secret_labels(cluster: Cluster) -> dict[str, str]:
    """The labels of the Argo CD cluster Secret this cluster stands for."""
    return {**cluster.labels, CLUSTER_SECRET_LABEL: "cluster"}


def _cluster_params(cluster: Cluster, labels: Mapping[str, str], *, go_template: bool) -> ParamSet:
    params: ParamSet = {
        "name": cluster.name,
        "nameNormalized": sanitize_name(cluster.name),
        "server": cluster.server,
        "project": cluster.project,
    }
    if go_template:
        metadata: dict[str, Any] = {}
        if cluster.annotations:
            metadata["annotations"] = dict(cluster.annotations)
        metadata["labels"] = dict(labels)
        params["metadata"] = metadata
    else:
        for key, value in cluster.annotations.items():
            params[f"metadata.annotations.{key}"] = value
        for key, value in labels.items():
            params[f"metadata.labels.{key}"] = value
    return params
