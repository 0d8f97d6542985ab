"""kubectl 1.36 (built from the pinned module into .cache/bin, like kube-apiserver) against
fleet's and Argo CD's CRDs: `apply -f` with its default validation, strict rejection of an
unknown field, `explain`, `diff`, and `apply --server-side` after a client-side apply.

Every test runs on fleet.sim and on the real kube-apiserver (the reference): where they
disagree, the simulator is wrong.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fleet.api.crds import install_crds
from fleet.api.group import ARGOCD, FLEET, ApiFlavour
from fleet.kube import Credentials, build_api_client
from tests.clusters.harness import Env
from tests.kubectl import kubectl, require_kubectl

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def need_kubectl() -> None:
    require_kubectl()


@dataclass(frozen=True)
class Hub:
    backend: str
    kubeconfig: Path
    namespace: str
    flavour: ApiFlavour

    async def kubectl(self, *args: str, stdin: str | None = None) -> tuple[int, str]:
        return await kubectl(self.kubeconfig, *args, stdin=stdin)

    def short(self, kind: str) -> str:
        """Short names differ on purpose, so both sets can be installed (`app`, `fapp`)."""
        names = {
            ("argocd", "Application"): "app",
            ("argocd", "ApplicationSet"): "appset",
            ("argocd", "AppProject"): "appproj",
            ("fleet", "Application"): "fapp",
            ("fleet", "ApplicationSet"): "fappset",
            ("fleet", "Project"): "fproj",
        }
        return names[(self.flavour.name, kind)]


@pytest.fixture(params=["sim", "real"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Env | Path]:
    if request.param == "real":
        yield request.getfixturevalue("shared_real")
        return
    from fleet.sim import SimServer

    async with SimServer(names=["hub"], port_per_cluster=True, kubeconfig_dir=tmp_path) as sim:
        c = sim.clusters["hub"]
        api = build_api_client(
            Credentials(server=c.server, token=c.token, ca_pem=base64.b64decode(c.ca_data))
        )
        async with api:
            await install_crds(api)
            await install_crds(api, flavour=ARGOCD)
        yield c.kubeconfig


@pytest.fixture(params=[ARGOCD, FLEET], ids=["argocd", "fleet"])
async def hub(request: pytest.FixtureRequest, backend: Env | Path) -> Hub:
    flavour: ApiFlavour = request.param
    if isinstance(backend, Path):
        kubeconfig, name = backend, "sim"
    else:
        kubeconfig, name = backend.hub.kubeconfig, "real"
        member = backend.hub
        api = build_api_client(
            Credentials(server=member.server, token=member.token, ca_pem=member.ca_pem)
        )
        async with api:
            await install_crds(api)
            await install_crds(api, flavour=ARGOCD)
    namespace = f"kubectl-{uuid.uuid4().hex[:8]}"
    made = Hub(name, kubeconfig, namespace, flavour)
    code, out = await made.kubectl("create", "namespace", namespace)
    assert code == 0, out
    return made


def application(hub: Hub, *, prune: str = "true", extra: str = "") -> str:
    """The Application of Argo CD's getting-started guide, with the options guides add."""
    return f"""\
apiVersion: {hub.flavour.api_version}
kind: Application
metadata:
  name: guestbook
  finalizers:
    - resources-finalizer.argocd.argoproj.io
spec:
  project: default
  source:
    repoURL: https://github.com/argoproj/argocd-example-apps.git
    targetRevision: HEAD
    path: guestbook
  destination:
    server: https://kubernetes.default.svc
    namespace: guestbook
  syncPolicy:
    automated:
      prune: {prune}
      selfHeal: true
    syncOptions:
      - CreateNamespace=true
      - PrunePropagationPolicy=foreground
      - PruneLast=true
    retry:
      limit: 5
      backoff:
        duration: 5s
        factor: 2
        maxDuration: 3m
  ignoreDifferences:
    - group: apps
      kind: Deployment
      jsonPointers:
        - /spec/replicas
{extra}"""


def application_set(hub: Hub) -> str:
    return f"""\
apiVersion: {hub.flavour.api_version}
kind: ApplicationSet
metadata:
  name: guestbook
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
    - list:
        elements:
          - cluster: engineering-dev
            url: https://1.2.3.4
          - cluster: engineering-prod
            url: https://2.4.6.8
  template:
    metadata:
      name: '{{{{.cluster}}}}-guestbook'
    spec:
      project: default
      source:
        repoURL: https://github.com/argoproj/argo-cd.git
        targetRevision: HEAD
        path: applicationset/examples/list-generator/guestbook/{{{{.cluster}}}}
      destination:
        server: '{{{{.url}}}}'
        namespace: guestbook
"""


def project(hub: Hub) -> str:
    kind = hub.flavour.project.kind
    return f"""\
apiVersion: {hub.flavour.api_version}
kind: {kind}
metadata:
  name: team-a
spec:
  description: Team A
  sourceRepos:
    - https://github.com/argoproj/*
  destinations:
    - namespace: 'team-a-*'
      server: https://kubernetes.default.svc
  clusterResourceWhitelist:
    - group: ''
      kind: Namespace
  namespaceResourceBlacklist:
    - group: ''
      kind: ResourceQuota
"""


async def test_apply_with_default_validation_accepts_guide_yaml(hub: Hub) -> None:
    for text in (application(hub), application_set(hub), project(hub)):
        code, out = await hub.kubectl("apply", "-n", hub.namespace, "-f", "-", stdin=text)
        assert code == 0, out
        assert "created" in out
    code, out = await hub.kubectl(
        "get", hub.short("Application"), "guestbook", "-n", hub.namespace, "-o", "name"
    )
    assert code == 0, out
    assert out.strip() == f"application.{hub.flavour.group}/guestbook"


async def test_apply_rejects_an_unknown_top_level_field(hub: Hub) -> None:
    text = application(hub) + "bogus: 1\n"
    code, out = await hub.kubectl("apply", "-n", hub.namespace, "-f", "-", stdin=text)
    assert code != 0
    assert 'unknown field "bogus"' in out


async def test_apply_rejects_a_wrongly_typed_field(hub: Hub) -> None:
    code, out = await hub.kubectl(
        "apply", "-n", hub.namespace, "-f", "-", stdin=application(hub, prune='"yes"')
    )
    assert code != 0
    assert "spec.syncPolicy.automated.prune" in out


async def test_explain_describes_sync_policy(hub: Hub) -> None:
    code, out = await hub.kubectl("explain", f"{hub.short('Application')}.spec.syncPolicy")
    assert code == 0, out
    assert f"GROUP:      {hub.flavour.group}" in out
    for field in ("automated", "retry", "syncOptions"):
        assert field in out


async def test_diff_is_empty_after_apply_and_shows_a_change(hub: Hub) -> None:
    code, out = await hub.kubectl("apply", "-n", hub.namespace, "-f", "-", stdin=application(hub))
    assert code == 0, out
    code, out = await hub.kubectl("diff", "-n", hub.namespace, "-f", "-", stdin=application(hub))
    assert (code, out) == (0, "")
    code, out = await hub.kubectl(
        "diff", "-n", hub.namespace, "-f", "-", stdin=application(hub, prune="false")
    )
    assert code == 1, out
    assert "-      prune: true" in out and "+      prune: false" in out


async def test_server_side_apply_takes_over_a_client_side_apply(hub: Hub) -> None:
    code, out = await hub.kubectl("apply", "-n", hub.namespace, "-f", "-", stdin=application(hub))
    assert code == 0, out
    for _ in range(2):
        code, out = await hub.kubectl(
            "apply", "--server-side", "-n", hub.namespace, "-f", "-", stdin=application(hub)
        )
        assert code == 0, out
        assert "Warning" not in out, out
        assert "serverside-applied" in out
    code, out = await hub.kubectl(
        "get",
        hub.short("Application"),
        "guestbook",
        "-n",
        hub.namespace,
        "-o",
        "jsonpath={.spec.project} {.spec.syncPolicy.syncOptions}",
    )
    assert code == 0, out
    assert out.startswith("default ") and "PruneLast=true" in out


async def test_status_columns_are_printed(hub: Hub) -> None:
    code, out = await hub.kubectl("apply", "-n", hub.namespace, "-f", "-", stdin=application(hub))
    assert code == 0, out
    code, out = await hub.kubectl("get", hub.short("Application"), "-n", hub.namespace)
    assert code == 0, out
    header = out.splitlines()[0].split()
    if hub.flavour is ARGOCD:
        assert header[:5] == ["NAME", "SYNC", "STATUS", "HEALTH", "STATUS"]
    else:
        assert header[:3] == ["NAME", "SYNC", "HEALTH"]


async def test_crds_of_both_sets_are_listed_side_by_side(hub: Hub) -> None:
    code, out = await hub.kubectl("get", "crd", "-o", "name")
    assert code == 0, out
    for name in ("applications.argoproj.io", "applications.fleet.gitops.dev"):
        assert f"customresourcedefinition.apiextensions.k8s.io/{name}" in out
    listed = await _api_resources(hub)
    assert {"app", "fapp"} <= listed


async def _api_resources(hub: Hub) -> set[str]:
    code, out = await hub.kubectl("api-resources", "--no-headers")
    assert code == 0, out
    short: set[str] = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 5:
            short |= set(parts[1].split(","))
    return short
