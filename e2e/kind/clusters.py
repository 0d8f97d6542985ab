"""kind clusters on the private engine: created in parallel, named uniquely per run, deleted only
by the names this run created, with kubeconfigs kept in the run's directory (the user's
~/.kube/config is never written)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from e2e.kind.images import NODE_IMAGE, Builder
from e2e.kind.proc import CommandError, run, say

CREATE_TIMEOUT = 600.0


class ClusterError(RuntimeError):
    """A kind cluster could not be created; the message holds kind's output."""


@dataclass(frozen=True)
class KindCluster:
    name: str
    kubeconfig: Path
    """External: the API server's published port on 127.0.0.1, for the host."""
    internal_kubeconfig: Path
    """`kind get kubeconfig --internal`: https://<name>-control-plane:6443, for the kind network
    (containers on it and Pods in any of the clusters)."""

    @property
    def node(self) -> str:
        return f"{self.name}-control-plane"


def kind(builder: Builder, *args: str, timeout: float = 300.0) -> str:
    return run(["kind", *args], env=builder.env, timeout=timeout)


def create_clusters(builder: Builder, names: Sequence[str], workdir: Path) -> list[KindCluster]:
    """`kind create cluster` for every name at once (each waits for its node to be Ready)."""
    config = builder.layout.kind_dir / "cluster.yaml"
    env = {**os.environ, **builder.env}
    procs: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
    for name in names:
        log = workdir / f"kind-create-{name}.log"
        kubeconfig = workdir / f"{name}.kubeconfig"
        say(f"creating kind cluster {name}")
        with log.open("wb") as sink:
            procs[name] = (
                subprocess.Popen(
                    [
                        "kind",
                        "create",
                        "cluster",
                        "--name",
                        name,
                        "--config",
                        str(config),
                        "--image",
                        NODE_IMAGE,
                        "--kubeconfig",
                        str(kubeconfig),
                        "--wait",
                        "300s",
                        "--retain",
                    ],
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                    env=env,
                ),
                log,
            )
    failures = []
    deadline = time.monotonic() + CREATE_TIMEOUT
    for name, (proc, log) in procs.items():
        try:
            code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            code = -1
        if code != 0:
            failures.append(f"{name} (exit {code}):\n{log.read_text()[-3000:]}")
    if failures:
        raise ClusterError("kind create cluster failed for " + "\n".join(failures))
    clusters = []
    for name in names:
        internal = workdir / f"{name}.internal.kubeconfig"
        internal.write_text(kind(builder, "get", "kubeconfig", "--internal", "--name", name))
        clusters.append(KindCluster(name, workdir / f"{name}.kubeconfig", internal))
    return clusters


def delete_clusters(builder: Builder, names: Sequence[str]) -> None:
    """Delete exactly these clusters (the ones this run created); errors are reported, not
    raised, so one failure does not leave the others behind."""
    existing = set(kind(builder, "get", "clusters").split())
    for name in names:
        if name not in existing:
            continue
        say(f"deleting kind cluster {name}")
        try:
            kind(builder, "delete", "cluster", "--name", name, timeout=180)
        except CommandError as error:
            say(f"could not delete kind cluster {name}: {error}")


def load_image(builder: Builder, image: str, cluster: KindCluster) -> None:
    kind(builder, "load", "docker-image", image, "--name", cluster.name, timeout=600)
