"""One run of the kind harness: a hub and member clusters named uniquely for this run, fleet
installed on the hub the way docs/deploy.md says, the config repo served to them, and the steps
of the scenario. Everything it creates it removes again, by name, also after a failure; what it
did not create (other clusters, other containers) it never touches.

The hub reaches the members the way a real install does: `fleet cluster add` gets each member's
`kind get kubeconfig --internal` (https://<member>-control-plane:6443), which the controller in
its Pod resolves through CoreDNS and Docker's embedded DNS. The host reaches every cluster
through the API server port kind publishes on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from e2e.kind.clusters import KindCluster, create_clusters, delete_clusters, load_image
from e2e.kind.gitserve import GitServer, kind_gateway
from e2e.kind.images import FLEET_IMAGE, WORKLOAD_IMAGE, Builder
from e2e.kind.proc import CommandError, run, say
from e2e.kind.stamps import Stages
from e2e.kind.workloads import kind_repo_files
from e2e.scenario.repo import REPO_NAME, write_repo

NAMESPACE = "fleet-system"
DEST_NAMESPACE = "fleet-e2e"
CONTROLLER = "deployment/fleet-controller"
Obj = dict[str, Any]


class StepTimeout(AssertionError):
    """A scenario step did not reach its condition in time; the message says what it last saw."""


def wait_for(
    what: str, check: Callable[[], str | None], timeout: float, interval: float = 2.0
) -> None:
    """Poll `check` (None = done, else what is still missing) until done or `timeout`."""
    deadline = time.monotonic() + timeout
    last = "not checked yet"
    while True:
        try:
            missing = check()
        except CommandError as error:
            missing = str(error)
        if missing is None:
            return
        last = missing
        if time.monotonic() > deadline:
            raise StepTimeout(f"{what}: not done after {timeout:g} s; last seen: {last}")
        time.sleep(interval)


@dataclass
class KindSession:
    builder: Builder
    stages: Stages
    workdir: Path
    hub: KindCluster
    members: list[KindCluster]
    git: GitServer
    repo_base: Path

    # -- tools ----------------------------------------------------------------------------------
    def kubectl(
        self, cluster: KindCluster, *args: str, timeout: float = 120.0, input: bytes | None = None
    ) -> str:
        """kubectl against `cluster`, with its discovery cache in this run's directory: the
        default (~/.kube/cache) is keyed by host:port, which another run's cluster (or a test's
        API server) may have used with other resources, and a stale mapping answers 404."""
        cache = cluster.kubeconfig.parent / ".kube-cache"
        return run(
            ["kubectl", "--kubeconfig", str(cluster.kubeconfig), f"--cache-dir={cache}", *args],
            env=self.builder.env,
            timeout=timeout,
            input=input,
        )

    def get_json(self, cluster: KindCluster, *args: str) -> Obj:
        doc: Obj = json.loads(self.kubectl(cluster, "get", "-o", "json", *args))
        return doc

    @property
    def repo_url(self) -> str:
        return self.git.url(REPO_NAME)

    def commit(self, color: str) -> str:
        """Commit the kind repo at `color` (a new commit on main); its SHA."""
        return write_repo(self.repo_base, kind_repo_files(color))

    # -- installation -----------------------------------------------------------------------------
    def install_fleet(self) -> None:
        root = self.builder.layout.root
        load_image(self.builder, FLEET_IMAGE, self.hub)
        for member in self.members:
            load_image(self.builder, WORKLOAD_IMAGE, member)
        # fleet's own CRDs (crds/*.yaml; crds/argocd/ is the optional Argo CD API group).
        crds = [arg for path in sorted((root / "crds").glob("*.yaml")) for arg in ("-f", str(path))]
        self.kubectl(self.hub, "apply", "--server-side", *crds)
        self.kubectl(
            self.hub,
            "wait",
            "--for",
            "condition=Established",
            "--timeout",
            "60s",
            *crds,
            timeout=90,
        )
        self.kubectl(self.hub, "apply", "-k", str(self.builder.layout.kind_dir / "overlay"))
        self.kubectl(
            self.hub,
            "-n",
            NAMESPACE,
            "rollout",
            "status",
            CONTROLLER,
            "--timeout",
            "240s",
            timeout=300,
        )

    def run_shared_scenario(self, revision: str, timeout: float) -> str:
        """e2e/scenario (`fleet cluster add` with the internal kubeconfigs, the ApplicationSet,
        the wait for Synced and Healthy) in a container from the controller image on the kind
        network: the internal names resolve there exactly as they do in the hub's Pods."""
        root = self.builder.layout.root
        # As this process's user: the kubeconfigs are private to it (mode 0600).
        args = [
            "docker",
            "run",
            "--rm",
            "--network",
            "kind",
            "--user",
            f"{os.getuid()}:{os.getgid()}",
            "-e",
            "HOME=/tmp",
            "-v",
            f"{self.workdir}:/work:ro",
            "-v",
            f"{root / 'e2e'}:/opt/fleet-e2e/e2e:ro",
            "-e",
            "PYTHONPATH=/opt/fleet-e2e",
            "--entrypoint",
            "python",
            FLEET_IMAGE,
            "-m",
            "e2e.scenario",
            "run",
            "--hub-kubeconfig",
            f"/work/{self.hub.internal_kubeconfig.name}",
            "--repo-url",
            self.repo_url,
            "--expected-revision",
            revision,
            "--namespace",
            NAMESPACE,
            "--dest-namespace",
            DEST_NAMESPACE,
            "--timeout",
            f"{timeout:g}",
        ]
        for member in self.members:
            args += ["--member", f"{member.name}=/work/{member.internal_kubeconfig.name}"]
        return run(args, env=self.builder.env, timeout=timeout + 120)

    # -- observations ---------------------------------------------------------------------------
    def applications(self) -> dict[str, Obj]:
        items = self.get_json(self.hub, "-n", NAMESPACE, "applications.fleet.gitops.dev")
        return {item["metadata"]["name"]: item for item in items.get("items") or []}

    def apps_of(self, member: KindCluster) -> list[str]:
        return [f"web-{member.name}", f"api-{member.name}"]

    def converged(self, names: Sequence[str], revision: str) -> str | None:
        """None when every named Application is Synced at `revision` and Healthy."""
        apps = self.applications()
        behind = []
        for name in names:
            status = (apps.get(name) or {}).get("status") or {}
            sync = status.get("sync") or {}
            health = (status.get("health") or {}).get("status")
            synced = sync.get("status") == "Synced" and sync.get("revision") == revision
            if not synced or health != "Healthy":
                behind.append(
                    f"{name}: sync={sync.get('status')} "
                    f"revision={str(sync.get('revision'))[:12]} health={health}"
                )
        return "; ".join(behind) or None

    def controller_logs(self, tail: int = 300) -> str:
        try:
            return self.kubectl(
                self.hub, "-n", NAMESPACE, "logs", CONTROLLER, f"--tail={tail}", "--all-containers"
            )
        except CommandError as error:
            return f"(no controller logs: {error})"

    def diagnostics(self) -> str:
        parts = []
        for what in (
            ["-n", NAMESPACE, "get", "applicationsets,applications,pods", "-o", "wide"],
            ["-n", NAMESPACE, "get", "secrets", "-l", "fleet.gitops.dev/secret-type"],
        ):
            try:
                parts.append(self.kubectl(self.hub, *what))
            except CommandError as error:
                parts.append(str(error))
        for member in self.members:
            try:
                parts.append(
                    f"--- {member.name}\n"
                    + self.kubectl(member, "-n", DEST_NAMESPACE, "get", "all,configmaps,events")
                )
            except CommandError as error:
                parts.append(str(error))
        parts.append("--- controller logs (from its Pod)\n" + self.controller_logs())
        return "\n".join(parts)


RUN_CLUSTER = re.compile(r"fk[0-9a-f]{6}-(hub|m[0-9]+)")
"""The names kind_session gives its clusters (and the only ones remove_leftovers deletes)."""


def remove_leftovers(builder: Builder) -> None:
    """Delete clusters an earlier run left behind when it was killed before its cleanup.
    Called under harness_lock, so no other run is using them; other names are never touched."""
    existing = run(["kind", "get", "clusters"], env=builder.env).split()
    leftovers = [name for name in existing if RUN_CLUSTER.fullmatch(name)]
    if leftovers:
        say(f"deleting clusters a killed run left behind: {' '.join(leftovers)}")
        delete_clusters(builder, leftovers)


@contextmanager
def kind_session(builder: Builder, stages: Stages, members: int = 2) -> Iterator[KindSession]:
    """Clusters `fk<run>-hub`, `fk<run>-m1`...; deleted on exit, whatever happened. On an
    exception, the hub's objects, the members' workloads and the controller's log from inside
    its Pod are printed first."""
    run_id = secrets.token_hex(3)
    names = [f"fk{run_id}-hub", *(f"fk{run_id}-m{i + 1}" for i in range(members))]
    workdir = Path(tempfile.mkdtemp(prefix=f"run-{run_id}-", dir=builder.layout.cache))
    git: GitServer | None = None
    session: KindSession | None = None
    remove_leftovers(builder)
    try:
        clusters: list[KindCluster] = []
        stages.timed(
            "clusters: create (parallel)",
            lambda: clusters.extend(create_clusters(builder, names, workdir)),
        )
        repo_base = workdir / "git"
        repo_base.mkdir()
        git = GitServer(repo_base, kind_gateway(builder))
        git.start(workdir / "git-daemon.log")
        session = KindSession(builder, stages, workdir, clusters[0], clusters[1:], git, repo_base)
        stages.timed("fleet: install on hub", session.install_fleet)
        yield session
    except BaseException:
        if session is not None:
            print(session.diagnostics(), file=sys.stderr)
        raise
    finally:
        if git is not None:
            git.stop()
        if os.environ.get("FLEET_KIND_KEEP") == "1":
            print(
                f"FLEET_KIND_KEEP=1: leaving clusters {' '.join(names)} and {workdir} "
                f"(delete: python -m e2e.kind down {' '.join(names)})",
                file=sys.stderr,
            )
        else:
            delete_clusters(builder, names)
            shutil.rmtree(workdir, ignore_errors=True)


def docker_node(builder: Builder, action: str, cluster: KindCluster) -> None:
    """`docker stop|start <node>` of one cluster's only node."""
    run(["docker", action, cluster.node], env=builder.env, timeout=120)


def node_running(builder: Builder, cluster: KindCluster) -> bool:
    try:
        out = run(["docker", "inspect", "-f", "{{.State.Running}}", cluster.node], env=builder.env)
    except CommandError:
        return False
    return out.strip() == "true"


def published_port_changed(builder: Builder, cluster: KindCluster) -> None:
    """After `docker start`, kind's published API port may differ: rewrite the host kubeconfig."""
    raw = run(["kind", "get", "kubeconfig", "--name", cluster.name], env=builder.env)
    cluster.kubeconfig.write_text(raw)
