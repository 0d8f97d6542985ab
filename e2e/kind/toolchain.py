"""The binaries the harness builds before any image: the Kubernetes binaries (through
e2e/apiserver/build.sh, shared with the real-apiserver harness), kind, CoreDNS and pause.

All from pinned sources reached through the Go module proxy: go.mod/go.sum beside this file pin
kind (go/kind) and CoreDNS (go/coredns, the version kubeadm names); pause is C, compiled from
build/pause/linux/pause.c of the same k8s.io/kubernetes module the other binaries come from.
One Go build runs at a time, at the lowest CPU and I/O priority (the machine is shared).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from e2e.kind.layout import Layout
from e2e.kind.proc import run
from e2e.kind.stamps import Stages, digest

GO_ENV = {"CGO_ENABLED": "0", "GOFLAGS": "-mod=readonly"}


def _go_build(layout: Layout, module: str, package: str, output: Path) -> None:
    tmp = output.with_name(f".{output.name}.new")
    run(
        ["go", "build", "-trimpath", "-ldflags", "-s -w", "-o", tmp, package],
        cwd=layout.kind_dir / "go" / module,
        env=GO_ENV,
        heavy=True,
        timeout=3600,
        log=layout.logs / "go-build.log",
    )
    tmp.replace(output)


def _module_dir(module_path: str, pinned_in: Path) -> Path:
    out = run(
        ["go", "list", "-m", "-f", "{{.Dir}}", module_path], cwd=pinned_in, env=GO_ENV, timeout=600
    )
    return Path(out.strip())


def build_toolchain(layout: Layout, stages: Stages) -> None:
    layout.bin.mkdir(parents=True, exist_ok=True)
    build_sh = layout.root / "e2e" / "apiserver" / "build.sh"
    # build.sh keeps its own stamp (and lock); this stage only times it.
    stages.timed(
        "go: kubernetes binaries",
        lambda: run(
            [build_sh, layout.kube_bin],
            heavy=True,
            timeout=3600,
            log=layout.logs / "kube-binaries.log",
        ),
    )
    go_dir = layout.kind_dir / "go"
    for name, module, package in (
        ("kind", "kind", "sigs.k8s.io/kind"),
        ("coredns", "coredns", "github.com/coredns/coredns"),
    ):
        output = layout.bin / name
        stages.run(
            f"go: {name}",
            digest(go_dir / module / "go.mod", go_dir / module / "go.sum", package),
            partial(_go_build, layout, module, package, output),
            outputs_exist=output.exists,
        )

    kube_module = _module_dir("k8s.io/kubernetes", layout.root / "e2e" / "apiserver" / "kube")
    source = kube_module / "build" / "pause" / "linux" / "pause.c"
    pause = layout.bin / "pause"
    stages.run(
        "cc: pause",
        digest(source),
        lambda: run(
            [
                "gcc",
                "-Os",
                "-Wall",
                "-Werror",
                "-static",
                "-DVERSION=v3.10.2-fleet",
                "-o",
                pause,
                source,
            ],
            heavy=True,
            timeout=600,
        ),
        outputs_exist=pause.exists,
    )
    docker = layout.bin / "docker"
    if not docker.exists() and Path("/usr/bin/docker").exists():
        # Debian's docker CLI first on the harness's PATH: it speaks BuildKit to Debian's
        # dockerd without the buildx plugin a newer CLI elsewhere on PATH may need.
        docker.symlink_to("/usr/bin/docker")
