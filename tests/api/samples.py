"""Valid sample objects of each fleet kind, using most of their schemas (for round trips)."""

from __future__ import annotations

from typing import Any

API_VERSION = "fleet.gitops.dev/v1alpha1"


def application(name: str = "guestbook", namespace: str = "fleet-system") -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "Application",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "project": "default",
            "source": {
                "repoURL": "https://github.com/argoproj/argocd-example-apps.git",
                "path": "helm-guestbook",
                "targetRevision": "HEAD",
                "helm": {
                    "valueFiles": ["values-prod.yaml"],
                    "values": "replicaCount: 2\n",
                    "valuesObject": {"image": {"tag": "v1"}, "ingress": {"enabled": True}},
                    "parameters": [{"name": "service.type", "value": "NodePort"}],
                    "releaseName": "guestbook",
                },
            },
            "destination": {"name": "member-1", "namespace": "guestbook"},
            "syncPolicy": {
                "automated": {"prune": True, "selfHeal": True, "allowEmpty": False},
                "syncOptions": ["CreateNamespace=true"],
                "retry": {
                    "limit": 5,
                    "backoff": {"duration": "5s", "factor": 2, "maxDuration": "3m"},
                },
            },
            "ignoreDifferences": [
                {"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]}
            ],
            "revisionHistoryLimit": 3,
        },
        "operation": {
            "sync": {"revision": "main", "prune": True, "syncOptions": ["PruneLast=true"]},
            "initiatedBy": {"username": "alice"},
        },
    }


def kustomize_source() -> dict[str, Any]:
    return {
        "repoURL": "https://git.example.com/apps.git",
        "path": "overlays/prod",
        "kustomize": {
            "namePrefix": "prod-",
            "nameSuffix": "-v1",
            "images": ["nginx=nginx:1.27"],
            "commonLabels": {"team": "web"},
            "replicas": [{"name": "web", "count": 3}],
        },
    }


def application_set(name: str = "guestbook", namespace: str = "fleet-system") -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "ApplicationSet",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "goTemplate": True,
            "goTemplateOptions": ["missingkey=error"],
            "generators": [
                {
                    "matrix": {
                        "generators": [
                            {"clusters": {"selector": {"matchLabels": {"env": "prod"}}}},
                            {"list": {"elements": [{"app": "a"}, {"app": "b"}]}},
                        ]
                    }
                },
                {
                    "git": {
                        "repoURL": "https://git.example.com/apps.git",
                        "revision": "HEAD",
                        "directories": [{"path": "apps/*"}],
                    }
                },
            ],
            "template": {
                "metadata": {"name": "{{.name}}-{{.app}}", "labels": {"app": "{{.app}}"}},
                "spec": {
                    "project": "default",
                    "source": {"repoURL": "https://git.example.com/apps.git", "path": "{{.app}}"},
                    "destination": {"server": "{{.server}}", "namespace": "{{.app}}"},
                },
            },
            "templatePatch": "spec:\n  revisionHistoryLimit: 2\n",
            "syncPolicy": {
                "applicationsSync": "create-update",
                "preserveResourcesOnDeletion": True,
            },
            "preservedFields": {"annotations": ["notes"]},
            "ignoreApplicationDifferences": [{"jsonPointers": ["/spec/source/targetRevision"]}],
        },
    }


def project(name: str = "team-a", namespace: str = "fleet-system") -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "Project",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "description": "Team A's services",
            "sourceRepos": [
                "https://git.example.com/team-a/*",
                "!https://git.example.com/team-a/secret",
            ],
            "destinations": [
                {"server": "https://10.0.0.1:6443", "namespace": "team-a-*"},
                {"name": "member-*", "namespace": "team-a"},
            ],
            "clusterResourceWhitelist": [{"group": "", "kind": "Namespace"}],
            "clusterResourceBlacklist": [],
            "namespaceResourceWhitelist": [{"group": "*", "kind": "*"}],
            "namespaceResourceBlacklist": [{"group": "", "kind": "ResourceQuota"}],
            "sourceNamespaces": ["fleet-system"],
        },
    }
