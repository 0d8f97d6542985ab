"""Names and hub paths of fleet's custom resources: the one place every component takes them from.

All four kinds live in the hub namespace the controller watches (default `fleet-system`), as
Argo CD keeps Applications, ApplicationSets and AppProjects in `argocd`. Application and
ApplicationSet keep Argo CD's field names in spec and status, so the same YAML and the same
`jsonpath` in scripts work against either.
"""

from __future__ import annotations

from dataclasses import dataclass

GROUP = "fleet.gitops.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
DEFAULT_NAMESPACE = "fleet-system"


@dataclass(frozen=True, slots=True)
class Kind:
    kind: str
    plural: str

    def collection(self, namespace: str) -> str:
        """`/apis/fleet.gitops.dev/v1alpha1/namespaces/<ns>/<plural>`"""
        return f"/apis/{API_VERSION}/namespaces/{namespace}/{self.plural}"

    def item(self, namespace: str, name: str) -> str:
        return f"{self.collection(namespace)}/{name}"

    def status(self, namespace: str, name: str) -> str:
        return f"{self.item(namespace, name)}/status"


APPLICATION = Kind("Application", "applications")
APPLICATION_SET = Kind("ApplicationSet", "applicationsets")
PROJECT = Kind("Project", "projects")
CLUSTER = Kind("Cluster", "clusters")

APPSET_LABEL = "fleet.gitops.dev/applicationset"
"""On every Application an ApplicationSet generated: the ApplicationSet's name (its owner
reference says the same; the label makes `-l` selection and the hub watch cheap)."""

RESOURCES_FINALIZER = "resources-finalizer.argocd.argoproj.io"
"""Argo CD's finalizer: deleting the Application first deletes the resources it deployed.
Without it (e.g. `preserveResourcesOnDeletion`), the resources stay on the cluster."""

REFRESH_ANNOTATION = "argocd.argoproj.io/refresh"
"""Argo CD's "refresh now" request (`normal` or `hard`); the controller removes it when done."""
