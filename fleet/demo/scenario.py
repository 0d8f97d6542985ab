"""The demo's world: a simulated hub and three members, registered clusters, a config repo.

Everything is made the way a platform engineer would make it, through fleet's own code paths:
CRDs by `fleet.api.crds.install_crds`, clusters by the `fleet cluster add` implementation
(credentials into a Secret, a labelled Cluster), the ApplicationSet applied to the hub as YAML
from the repository. Only the controller is left for the caller to start.
"""

from __future__ import annotations

import argparse
import contextlib
import io
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from kubernetes_asyncio.client import ApiClient

from fleet.api.crds import install_crds
from fleet.api.resources import APPLICATION_SET, DEFAULT_NAMESPACE, PROJECT
from fleet.demo import repo_content
from fleet.demo.configrepo import DEMO_GIT_PORT, ConfigRepo, GitHttpServer
from fleet.kube import Conflict, Credentials, build_api_client, request_json
from fleet.sim import SimServer

HUB = "hub"
TIMEOUT = 15.0
STATUS_DELAY = 1.0
"""Seconds the simulated clusters take to make a workload ready: long enough to see
Progressing in the view, short enough that the demo converges in seconds."""


@dataclass(frozen=True)
class Member:
    name: str
    labels: dict[str, str]


MEMBERS = (
    Member("staging-eu", {"env": "staging", "region": "eu"}),
    Member("prod-eu", {"env": "production", "region": "eu"}),
    Member("prod-us", {"env": "production", "region": "us"}),
)


class ScenarioError(Exception):
    """A setup step failed; the message says which step and why."""


@dataclass
class Scenario:
    workdir: Path
    namespace: str
    sim: SimServer
    hub: ApiClient
    repo: ConfigRepo
    repo_url: str
    initial_revision: str

    def member_client(self, name: str) -> ApiClient:
        """An admin client for a member cluster (as a person with its kubeconfig has)."""
        cluster = self.sim.clusters[name]
        return build_api_client(
            Credentials(server=cluster.server, token=cluster.token, ca_pem=self.sim.ca_pem)
        )

    def cluster_names(self) -> dict[str, str]:
        """Member server URL -> cluster name (what the view shows for a destination)."""
        return {self.sim.clusters[m.name].server: m.name for m in MEMBERS}

    def kubeconfig(self, name: str) -> Path:
        return self.sim.clusters[name].kubeconfig


Say = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


async def register_member(
    hub_kubeconfig: Path, member: Member, kubeconfig: Path, namespace: str
) -> str:
    """`fleet cluster add NAME --kubeconfig ... --label env=... --label region=...`, in-process.

    Calls the command's own implementation so the demo registers clusters exactly as users do;
    returns what the command printed.
    """
    from fleet.clusters.cli import CliError, _add

    args = argparse.Namespace(
        name=member.name,
        kubeconfig=kubeconfig,
        context=None,
        label=[f"{key}={value}" for key, value in member.labels.items()],
        project="",
        service_account=False,
        hub_kubeconfig=hub_kubeconfig,
        hub_context=None,
        namespace=namespace,
    )
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            await _add(args)
    except CliError as error:
        raise ScenarioError(f"registering cluster {member.name}: {error}") from None
    return out.getvalue().strip()


async def _create(api: ApiClient, path: str, body: dict[str, Any]) -> None:
    with contextlib.suppress(Conflict):
        await request_json(api, "POST", path, body=body, timeout=TIMEOUT)


@contextlib.asynccontextmanager
async def scenario(
    workdir: Path, *, namespace: str = DEFAULT_NAMESPACE, say: Say = _quiet
) -> AsyncIterator[Scenario]:
    """Start and populate the demo world; tear it all down on exit."""
    workdir.mkdir(parents=True, exist_ok=True)
    names = [HUB, *(m.name for m in MEMBERS)]
    async with SimServer(
        names=names, kubeconfig_dir=workdir / "kubeconfigs", status_delay=STATUS_DELAY
    ) as sim:
        hub_cluster = sim.clusters[HUB]
        say(
            f"simulated clusters {', '.join(names)} at {sim.url} (kubeconfigs in "
            f"{sim.kubeconfig_dir})"
        )
        repo = ConfigRepo(workdir)
        git_server = GitHttpServer(repo.served, port=DEMO_GIT_PORT)
        hub = build_api_client(
            Credentials(server=hub_cluster.server, token=hub_cluster.token, ca_pem=sim.ca_pem)
        )
        try:
            await install_crds(hub)
            await _create(hub, "/api/v1/namespaces", {"metadata": {"name": namespace}})
            await _create(
                hub, PROJECT.collection(namespace), repo_content.default_project(namespace)
            )
            say(f"hub: fleet CRDs installed, namespace {namespace}, project default")
            for member in MEMBERS:
                say(
                    await register_member(
                        hub_cluster.kubeconfig,
                        member,
                        sim.clusters[member.name].kubeconfig,
                        namespace,
                    )
                )
            repo.served.mkdir(parents=True, exist_ok=True)
            await git_server.start()
            repo_url = git_server.url()
            revision = await anyio.to_thread.run_sync(
                repo.create, repo_content.initial_files(repo_url)
            )
            say(f"git: {repo_url} at {revision[:7]} (work tree {repo.work})")
            if git_server.port != DEMO_GIT_PORT:
                say(
                    f"git: port {DEMO_GIT_PORT} was taken; examples/ name "
                    f"http://127.0.0.1:{DEMO_GIT_PORT}/config.git, use {repo_url} instead"
                )
            appset = repo_content.application_set(repo_url, namespace)
            await request_json(
                hub, "POST", APPLICATION_SET.collection(namespace), body=appset, timeout=TIMEOUT
            )
            say(
                f"hub: ApplicationSet {repo_content.APPSET_NAME} applied "
                f"({len(MEMBERS)} clusters x {len(repo_content.APPS)} apps)"
            )
            yield Scenario(workdir, namespace, sim, hub, repo, repo_url, revision)
        finally:
            await hub.close()
            await git_server.close()
