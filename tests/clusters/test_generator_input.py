"""Registered clusters become the clusters generator's input, sorted by name."""

from __future__ import annotations

from fleet.api.cluster import Cluster, ClusterSpec, SecretRef
from fleet.clusters.generator_input import generator_clusters
from fleet.clusters.registry import RegisteredCluster
from generators.base import Cluster as GeneratorCluster


def test_cluster_resources_become_generator_clusters() -> None:
    spec = ClusterSpec("https://b", SecretRef("s"), {"env": "prod"}, {"team": "a"}, "proj")
    out = generator_clusters([Cluster("b", "fleet-system", spec)])
    assert out == [GeneratorCluster("b", "https://b", {"env": "prod"}, {"team": "a"}, "proj")]


def test_registry_entries_and_resources_mix_and_sort_by_name() -> None:
    spec = ClusterSpec("https://z", SecretRef("s"))
    argo = RegisteredCluster("a", "https://a", {"k": "v"}, {}, "", "ArgoCDSecret")
    out = generator_clusters([Cluster("z", "ns", spec), argo])
    assert [c.name for c in out] == ["a", "z"]
    assert out[0].labels == {"k": "v"}


def test_the_clusters_generator_selects_on_registered_labels() -> None:
    from generators.base import Environment
    from generators.expand import expand
    from generators.model import parse_application_set

    appset = parse_application_set(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "ApplicationSet",
            "metadata": {"name": "x", "namespace": "argocd"},
            "spec": {
                "generators": [{"clusters": {"selector": {"matchLabels": {"env": "prod"}}}}],
                "template": {
                    "metadata": {"name": "{{name}}-app"},
                    "spec": {
                        "project": "default",
                        "source": {"repoURL": "https://r", "path": "p"},
                        "destination": {"server": "{{server}}", "namespace": "d"},
                    },
                },
            },
        }
    )
    prod = ClusterSpec("https://p", SecretRef("s"), {"env": "prod"})
    dev = ClusterSpec("https://d", SecretRef("s"), {"env": "dev"})
    clusters = generator_clusters([Cluster("p", "ns", prod), Cluster("d", "ns", dev)])
    result = expand(appset, Environment(clusters=clusters, in_cluster_enabled=False))
    assert [a["metadata"]["name"] for a in result.applications] == ["p-app"]
