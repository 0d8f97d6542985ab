"""The API flavours fleet can serve: its own group, or Argo CD's. The one place naming a group.

Why flavours: fleet is a drop-in for Argo CD's application controller (issue 15). On a hub where
Argo CD's CRDs and objects already exist, `fleet controller run --api argocd` reconciles
`argoproj.io/v1alpha1` Applications, ApplicationSets and AppProjects in Argo CD's namespace
(`argocd`), so a migration is "scale Argo CD's controllers to zero, start fleet" with every
object kept. By default fleet serves its own group (`fleet.gitops.dev`, namespace
`fleet-system`), whose short names differ so both CRD sets can be installed on one hub.

An `ApiFlavour` says: which group and version, the default namespace, the kinds with their
plurals and hub paths (`Kind`), and the CRD folder. Argo CD has no Cluster kind (clusters come
from its cluster Secrets only) and its Application and AppProject have no status subresource:
`Kind.status()` then names the object itself, since the API server accepts status only there.

Labels and annotations fleet writes on member objects (`fleet.gitops.dev/app`, the tracking
id) are not the API group and do not change with the flavour.
"""

from __future__ import annotations

from dataclasses import dataclass

FLEET_GROUP = "fleet.gitops.dev"
ARGOCD_GROUP = "argoproj.io"
VERSION = "v1alpha1"


@dataclass(frozen=True, slots=True)
class Kind:
    """One custom resource kind of a flavour, with its hub paths (always namespaced)."""

    kind: str
    plural: str
    group: str = FLEET_GROUP
    version: str = VERSION
    status_subresource: bool = True
    """False for Argo CD's Application and AppProject: status is written on the object."""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"

    def collection(self, namespace: str) -> str:
        """`/apis/<group>/<version>/namespaces/<ns>/<plural>`"""
        return f"/apis/{self.group}/{self.version}/namespaces/{namespace}/{self.plural}"

    def item(self, namespace: str, name: str) -> str:
        return f"{self.collection(namespace)}/{name}"

    def status(self, namespace: str, name: str) -> str:
        """Where a status write goes: the status subresource, or the object without one."""
        item = self.item(namespace, name)
        return f"{item}/status" if self.status_subresource else item


@dataclass(frozen=True, slots=True)
class ApiFlavour:
    """Group, version, default namespace and kinds the controller and CLIs talk to."""

    name: str
    """`fleet` or `argocd`: the value of `--api`."""
    group: str
    version: str
    namespace: str
    """The default hub namespace (`-n`)."""
    application: Kind
    application_set: Kind
    project: Kind
    cluster: Kind | None
    """None for Argo CD: clusters come only from cluster Secrets."""
    crd_folder: str
    """The CRD YAML folder, relative to the repository's crds/ ("" = crds/ itself)."""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"

    @property
    def kinds(self) -> tuple[Kind, ...]:
        found = (self.application, self.application_set, self.project, self.cluster)
        return tuple(kind for kind in found if kind is not None)

    def resource(self, kind: str) -> Kind:
        """The Kind named `kind` (e.g. `Application`, `AppProject`); KeyError names the choices."""
        for candidate in self.kinds:
            if candidate.kind == kind:
                return candidate
        choices = ", ".join(k.kind for k in self.kinds)
        raise KeyError(f"the {self.name} API has no kind {kind!r} (it has {choices})")


FLEET_CLUSTER = Kind("Cluster", "clusters")
"""fleet's Cluster kind (only the fleet flavour has one)."""

FLEET = ApiFlavour(
    name="fleet",
    group=FLEET_GROUP,
    version=VERSION,
    namespace="fleet-system",
    application=Kind("Application", "applications"),
    application_set=Kind("ApplicationSet", "applicationsets"),
    project=Kind("Project", "projects"),
    cluster=FLEET_CLUSTER,
    crd_folder="",
)

ARGOCD = ApiFlavour(
    name="argocd",
    group=ARGOCD_GROUP,
    version=VERSION,
    namespace="argocd",
    application=Kind("Application", "applications", ARGOCD_GROUP, status_subresource=False),
    application_set=Kind("ApplicationSet", "applicationsets", ARGOCD_GROUP),
    project=Kind("AppProject", "appprojects", ARGOCD_GROUP, status_subresource=False),
    cluster=None,
    crd_folder="argocd",
)

FLAVOURS: dict[str, ApiFlavour] = {FLEET.name: FLEET, ARGOCD.name: ARGOCD}


def flavour(name: str) -> ApiFlavour:
    """The flavour `--api NAME` selects; ValueError names the choices."""
    try:
        return FLAVOURS[name]
    except KeyError:
        raise ValueError(
            f"--api {name!r}: unknown API flavour (choose one of {', '.join(FLAVOURS)})"
        ) from None


__all__ = [
    "ARGOCD",
    "ARGOCD_GROUP",
    "FLAVOURS",
    "FLEET",
    "FLEET_CLUSTER",
    "FLEET_GROUP",
    "VERSION",
    "ApiFlavour",
    "Kind",
    "flavour",
]
