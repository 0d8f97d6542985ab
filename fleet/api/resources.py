"""Names and hub paths of fleet's custom resources (its own flavour; see fleet.api.group).

All four kinds live in the hub namespace the controller watches (default `fleet-system`), as
Argo CD keeps Applications, ApplicationSets and AppProjects in `argocd`. Application and
ApplicationSet keep Argo CD's field names in spec and status, so the same YAML and the same
`jsonpath` in scripts work against either.
"""

from __future__ import annotations

from fleet.api.group import FLEET, FLEET_CLUSTER
from fleet.api.group import VERSION as VERSION
from fleet.api.group import Kind as Kind

GROUP = FLEET.group
API_VERSION = FLEET.api_version
DEFAULT_NAMESPACE = FLEET.namespace

# fleet's own kinds; a controller in another flavour (`--api argocd`) takes them from its
# `ApiFlavour` (fleet.api.group) instead.
APPLICATION = FLEET.application
APPLICATION_SET = FLEET.application_set
PROJECT = FLEET.project
CLUSTER = FLEET_CLUSTER

APPSET_LABEL = "fleet.gitops.dev/applicationset"
"""On every Application an ApplicationSet generated: the ApplicationSet's name (its owner
reference says the same; the label makes `-l` selection and the hub watch cheap)."""

RESOURCES_FINALIZER = "resources-finalizer.argocd.argoproj.io"
"""Argo CD's finalizer: deleting the Application first deletes the resources it deployed.
Without it (e.g. `preserveResourcesOnDeletion`), the resources stay on the cluster."""

REFRESH_ANNOTATION = "argocd.argoproj.io/refresh"
"""Argo CD's "refresh now" request (`normal` or `hard`); the controller removes it when done."""
