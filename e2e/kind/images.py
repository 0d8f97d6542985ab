"""Every image the kind harness runs, built locally: no image is pulled from any registry.

- `fleet-kind/debian:bookworm`: debootstrap (minbase) from the host's Debian mirror, imported.
- Control-plane images, tagged exactly as `kubeadm config images list` prints them: the static
  kube-apiserver, kube-controller-manager, kube-scheduler, etcd, CoreDNS and pause binaries put
  into otherwise empty images by `docker import`; kube-proxy on the Debian base (it needs
  iptables).
- The node image (images/node/Dockerfile): kind's base-image files on the Debian base with
  Debian's systemd, containerd, runc and CNI plugins, kubelet/kubeadm/kubectl, and the
  control-plane images imported into its containerd.
- fleet's controller image from the project's Dockerfile, its Python and Go stages FROM local
  stand-ins (images/python, images/golang) built on the Debian base.
- A workload image: Debian's static busybox, for Deployments whose Pods really start (httpd) and
  a PreSync Job that really runs.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from e2e.kind.engine import PrivateEngine
from e2e.kind.layout import Layout
from e2e.kind.proc import CommandError, run, say
from e2e.kind.stamps import Stages, digest

BASE_IMAGE = "fleet-kind/debian:bookworm"
PYTHON_BASE_IMAGE = "fleet-kind/debian:trixie"
"""The python stand-in's base: Debian 13's python3 (3.13). Debian 12's 3.11.2 predates tarfile's
extraction filters (3.11.4), which fleet's git materialization uses."""
PYTHON_IMAGE = "fleet-kind/python:3"
GOLANG_IMAGE = "fleet-kind/golang:local"
NODE_IMAGE = "fleet-kind/node:v1.36.3"
FLEET_IMAGE = "fleet:e2e"
"""The tag e2e/kind/overlay deploys (imagePullPolicy IfNotPresent, loaded with kind load)."""
WORKLOAD_IMAGE = "fleet-e2e/busybox:local"
KIND_VERSION = "v0.33.0"
SUITE = "bookworm"
PYTHON_SUITE = "trixie"
BUSYBOX_APPLETS = ("sh", "httpd", "sleep", "echo", "cat", "wget", "true", "ls", "date", "env")


class ImageError(RuntimeError):
    """An image could not be built; the message names it and the failing step."""


@dataclass(frozen=True)
class Builder:
    layout: Layout
    engine: PrivateEngine

    @property
    def env(self) -> dict[str, str]:
        """docker/kind against the private engine; Debian's docker CLI first on PATH (it speaks
        BuildKit to the 20.10 engine without the buildx plugin newer CLIs need)."""
        path = f"{self.layout.bin}:{self.layout.kube_bin}:{os.environ.get('PATH', '')}"
        return {**self.engine.env, "PATH": path}

    def docker(
        self, *args: str, heavy: bool = False, timeout: float = 900.0, input: bytes | None = None
    ) -> str:
        """docker against the private engine; `heavy` steps log to images.log (and run niced)."""
        log = self.layout.logs / "images.log" if heavy else None
        return run(
            ["docker", *args], env=self.env, heavy=heavy, timeout=timeout, log=log, input=input
        )

    def image_id(self, name: str) -> str | None:
        try:
            return self.docker("image", "inspect", "--format", "{{.Id}}", name).strip()
        except CommandError:
            return None

    def import_tar(
        self, name: str, members: Mapping[str, tuple[bytes | Path, int]], changes: list[str]
    ) -> None:
        """`docker import` of an image holding exactly `members` (path -> content, mode)."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            dirs = sorted({str(Path(p).parent) for p in members} - {"."} | {"tmp"})
            for directory in dirs:
                for parent in reversed([directory, *map(str, Path(directory).parents)]):
                    if parent == "." or parent in tar.getnames():
                        continue
                    info = tarfile.TarInfo(parent)
                    info.type = tarfile.DIRTYPE
                    info.mode = 0o1777 if parent == "tmp" else 0o755
                    tar.addfile(info)
            for path, (content, mode) in sorted(members.items()):
                data = content.read_bytes() if isinstance(content, Path) else content
                info = tarfile.TarInfo(path)
                info.size = len(data)
                info.mode = mode
                tar.addfile(info, io.BytesIO(data))
        args = ["import"]
        for change in changes:
            args += ["--change", change]
        self.docker(*args, "-", name, input=buffer.getvalue(), timeout=600)


def debian_mirror() -> str:
    """The Debian mirror apt uses here (deb822 .sources or one-line sources.list)."""
    candidates = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for path in candidates:
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            words = line.split()
            if words[:1] == ["URIs:"] and words[1:] and words[1].rstrip("/").endswith("/debian"):
                return words[1]
            if words[:1] == ["deb"] and SUITE in words:
                url = next((w for w in words[1:] if "://" in w), "")
                if url.rstrip("/").endswith("/debian"):
                    return url
    return "http://deb.debian.org/debian"


def kubeadm_images(layout: Layout) -> dict[str, str]:
    """Component -> image name, exactly as kubeadm will look them up."""
    version = kube_version(layout)
    out = run(
        [layout.kube_bin / "kubeadm", "config", "images", "list", "--kubernetes-version", version]
    )
    images: dict[str, str] = {}
    for name in out.split():
        component = name.rsplit("/", 1)[-1].split(":", 1)[0]
        images[component] = name
    expected = {
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kube-proxy",
        "etcd",
        "coredns",
        "pause",
    }
    if set(images) != expected:
        raise ImageError(f"kubeadm {version} lists unexpected images: {sorted(images)}")
    return images


def kube_version(layout: Layout) -> str:
    return run([layout.kube_bin / "kubeadm", "version", "-o", "short"]).strip()


def kind_module_dir(layout: Layout) -> Path:
    """sigs.k8s.io/kind's source in the Go module cache (its images/base/files)."""
    out = run(
        ["go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/kind"],
        cwd=layout.kind_dir / "go" / "kind",
    )
    return Path(out.strip())


def build_all(builder: Builder, stages: Stages) -> None:
    layout = builder.layout
    images = kubeadm_images(layout)
    version = kube_version(layout)
    kube_stamp = (layout.kube_bin / ".kube-binaries.stamp").read_text()

    # -- the Debian base ------------------------------------------------------------------
    mirror = debian_mirror()
    stages.run(
        "image: debian base",
        digest("debootstrap minbase", SUITE, mirror),
        lambda: _debian_base(builder, mirror, SUITE, BASE_IMAGE),
        outputs_exist=lambda: builder.image_id(BASE_IMAGE) is not None,
    )
    stages.run(
        "image: debian trixie base",
        digest("debootstrap minbase", PYTHON_SUITE, mirror),
        lambda: _debian_base(builder, mirror, PYTHON_SUITE, PYTHON_BASE_IMAGE),
        outputs_exist=lambda: builder.image_id(PYTHON_BASE_IMAGE) is not None,
    )
    base_id = builder.image_id(BASE_IMAGE) or ""

    # -- control-plane images ---------------------------------------------------------------
    statics = {
        "kube-apiserver": layout.kube_bin / "kube-apiserver",
        "kube-controller-manager": layout.kube_bin / "kube-controller-manager",
        "kube-scheduler": layout.kube_bin / "kube-scheduler",
        "etcd": layout.kube_bin / "etcd",
    }

    def control_plane() -> None:
        for component, binary in statics.items():
            builder.import_tar(
                images[component],
                {f"usr/local/bin/{component}": (binary, 0o755)},
                ["ENV PATH=/usr/local/bin:/usr/bin:/bin"],
            )
        builder.import_tar(
            images["coredns"],
            {"coredns": (layout.bin / "coredns", 0o755)},
            ['ENTRYPOINT ["/coredns"]'],
        )
        builder.import_tar(
            images["pause"], {"pause": (layout.bin / "pause", 0o755)}, ['ENTRYPOINT ["/pause"]']
        )
        context = _context(layout, "kube-proxy", {"kube-proxy": layout.kube_bin / "kube-proxy"})
        builder.docker(
            "build",
            "--force-rm",
            "--network",
            "host",
            "--build-arg",
            f"BASE={BASE_IMAGE}",
            "-t",
            images["kube-proxy"],
            str(context),
            heavy=True,
        )

    stages.run(
        "images: control plane",
        digest(
            kube_stamp,
            base_id,
            *images.values(),
            layout.bin / "coredns",
            layout.bin / "pause",
            layout.kind_dir / "images" / "kube-proxy",
        ),
        control_plane,
        outputs_exist=lambda: all(builder.image_id(n) for n in images.values()),
    )
    component_ids = "".join(builder.image_id(n) or "" for n in images.values())

    # -- the node image -------------------------------------------------------------------------
    kind_files = kind_module_dir(layout) / "images" / "base" / "files"
    stages.run(
        "image: kind node",
        digest(
            kube_stamp,
            base_id,
            component_ids,
            layout.kind_dir / "images" / "node",
            kind_files,
            KIND_VERSION,
        ),
        lambda: _node_image(builder, kind_files, images, version),
        outputs_exist=lambda: builder.image_id(NODE_IMAGE) is not None,
    )

    # -- fleet's controller image -------------------------------------------------------------
    root = layout.root
    fleet_inputs = [
        root / "Dockerfile",
        root / "pyproject.toml",
        root / "README.md",
        root / "fleet",
        root / "generators",
        root / "crds",
        root / "tools" / "render-binaries" / "build.sh",
    ]

    def fleet_image() -> None:
        _stand_ins(builder)
        _fleet_build(builder)
        # Each rebuild under the same tag leaves the previous image dangling (about 1 GB);
        # only dangling images go, the build cache stays for the next rebuild.
        builder.docker("image", "prune", "--force")

    stages.run(
        "image: fleet controller",
        digest(
            base_id,
            builder.image_id(PYTHON_BASE_IMAGE) or "",
            *[p for p in fleet_inputs if p.exists()],
            *_extra_cas().values(),
        ),
        fleet_image,
        outputs_exist=lambda: builder.image_id(FLEET_IMAGE) is not None,
    )

    # -- the workload image --------------------------------------------------------------------
    def workload() -> None:
        busybox = Path("/bin/busybox")
        members: dict[str, tuple[bytes | Path, int]] = {"bin/busybox": (busybox, 0o755)}
        for applet in BUSYBOX_APPLETS:
            members[f"bin/{applet}"] = (busybox, 0o755)
        members["www/index.html"] = (b"fleet e2e workload\n", 0o644)
        builder.import_tar(
            WORKLOAD_IMAGE,
            members,
            ["ENV PATH=/bin", 'CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]'],
        )

    stages.run(
        "image: workload (busybox)",
        digest(Path("/bin/busybox"), *BUSYBOX_APPLETS),
        workload,
        outputs_exist=lambda: builder.image_id(WORKLOAD_IMAGE) is not None,
    )


def _fleet_build(builder: Builder) -> None:
    root = builder.layout.root
    run(
        [
            "docker",
            "build",
            "--force-rm",
            "--network",
            "host",
            "--build-arg",
            f"PYTHON_IMAGE={PYTHON_IMAGE}",
            "--build-arg",
            f"GO_IMAGE={GOLANG_IMAGE}",
            "-t",
            FLEET_IMAGE,
            str(root),
        ],
        env={**builder.env, "DOCKER_BUILDKIT": "1"},
        heavy=True,
        timeout=1800,
        log=builder.layout.logs / "images.log",
    )


def _stand_ins(builder: Builder) -> None:
    """The local python and golang images fleet's Dockerfile builds FROM (see their files)."""
    layout = builder.layout
    context = _context(layout, "python", _extra_cas())
    builder.docker(
        "build",
        "--force-rm",
        "--network",
        "host",
        "--build-arg",
        f"BASE={PYTHON_BASE_IMAGE}",
        "-t",
        PYTHON_IMAGE,
        str(context),
        heavy=True,
    )
    goroot = Path(run(["go", "env", "GOROOT"]).strip())
    context = _context(layout, "golang", _extra_cas())
    shutil.copytree(goroot, context / "go", symlinks=True)
    builder.docker(
        "build",
        "--force-rm",
        "--network",
        "host",
        "--build-arg",
        f"BASE={BASE_IMAGE}",
        "-t",
        GOLANG_IMAGE,
        str(context),
        heavy=True,
    )
    shutil.rmtree(context / "go")


EXTRA_CA_DIR = Path("/usr/local/share/ca-certificates")


def _extra_cas() -> dict[str, Path]:
    """The host's locally added CA certificates, for the stand-in images' build contexts."""
    found = sorted(EXTRA_CA_DIR.rglob("*.crt")) if EXTRA_CA_DIR.is_dir() else []
    return {f"extra-ca/{path.name}": path for path in found}


def _context(layout: Layout, name: str, binaries: Mapping[str, Path]) -> Path:
    """A fresh build context: images/<name>/ plus hard links (or copies) of `binaries`."""
    context = layout.work / name
    shutil.rmtree(context, ignore_errors=True)
    shutil.copytree(layout.kind_dir / "images" / name, context)
    (context / "extra-ca").mkdir(exist_ok=True)
    for target, source in binaries.items():
        dest = context / target
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, dest)
        except OSError:
            shutil.copy2(source, dest)
    return context


def _debian_base(builder: Builder, mirror: str, suite: str, image: str) -> None:
    layout = builder.layout
    rootfs = layout.work / f"debian-{suite}-rootfs"
    shutil.rmtree(rootfs, ignore_errors=True)
    rootfs.parent.mkdir(parents=True, exist_ok=True)
    say(f"debootstrap {suite} (minbase) from {mirror}")
    run(
        ["debootstrap", "--variant=minbase", suite, rootfs, mirror],
        heavy=True,
        timeout=1800,
        log=layout.logs / "debootstrap.log",
    )
    # No apt caches, no host-specific files in the image.
    shutil.rmtree(rootfs / "var" / "cache" / "apt" / "archives", ignore_errors=True)
    (rootfs / "var" / "cache" / "apt" / "archives" / "partial").mkdir(parents=True)
    _pipe(
        ["tar", "-C", str(rootfs), "-c", "."],
        ["docker", "import", "--change", 'CMD ["bash"]', "-", image],
        env={**os.environ, **builder.env},
        timeout=900,
        what=f"importing {rootfs} as {image}",
    )
    shutil.rmtree(rootfs)


CTR_IMPORT = ("ctr", "-n", "k8s.io", "images", "import", "--no-unpack", "-")


def _pipe(
    producer: list[str], consumer: list[str], env: Mapping[str, str], timeout: float, what: str
) -> None:
    """`producer | consumer` without a shell, failing with `what` if either side fails (a
    producer that dies mid-stream would otherwise leave a truncated image behind silently)."""
    source = subprocess.Popen(producer, stdout=subprocess.PIPE, env=env)
    try:
        sink = subprocess.run(
            consumer, stdin=source.stdout, env=env, capture_output=True, timeout=timeout
        )
    finally:
        if source.stdout:
            source.stdout.close()
        source.wait(timeout=60)
    if sink.returncode != 0 or source.returncode != 0:
        raise ImageError(f"{what} failed: {sink.stderr.decode(errors='replace')[-2000:]}")


def _node_image(
    builder: Builder, kind_files: Path, images: Mapping[str, str], version: str
) -> None:
    """Build images/node, then import the control-plane images into its containerd (a running
    container: containerd must serve the import) and commit the result as NODE_IMAGE."""
    layout = builder.layout
    context = _context(
        layout,
        "node",
        {f"bin/{tool}": layout.kube_bin / tool for tool in ("kubelet", "kubeadm", "kubectl")},
    )
    shutil.copytree(kind_files, context / "files", dirs_exist_ok=True)
    stage_image = f"{NODE_IMAGE}-build"
    builder.docker(
        "build",
        "--force-rm",
        "--network",
        "host",
        "--build-arg",
        f"BASE={BASE_IMAGE}",
        "--build-arg",
        f"PAUSE_IMAGE={images['pause']}",
        "--build-arg",
        f"KUBE_VERSION={version}",
        "-t",
        stage_image,
        str(context),
        heavy=True,
        timeout=1800,
    )
    name = f"fleet-kind-node-build-{os.getpid()}"
    builder.docker(
        "run",
        "-d",
        "--name",
        name,
        "--privileged",
        "--network",
        "none",
        "--entrypoint",
        "sleep",
        stage_image,
        "infinity",
    )
    try:
        builder.docker(
            "exec", "-d", name, "sh", "-c", "containerd >/var/log/containerd-build.log 2>&1"
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                builder.docker("exec", name, "ctr", "version")
                break
            except CommandError:
                if time.monotonic() > deadline:
                    log = builder.docker("exec", name, "cat", "/var/log/containerd-build.log")
                    raise ImageError(
                        f"containerd did not start in the node build: {log[-2000:]}"
                    ) from None
                time.sleep(0.5)
        _import_into_node(builder, name, list(images.values()))
        builder.docker(
            "exec",
            name,
            "sh",
            "-c",
            "pkill containerd; while pgrep containerd >/dev/null; do sleep 0.2; done; "
            "rm -rf /run/containerd /var/log/containerd-build.log /tmp/*",
        )
        builder.docker("stop", "-t", "1", name)
        builder.docker(
            "commit",
            "--change",
            'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]',
            "--change",
            "CMD []",
            name,
            NODE_IMAGE,
        )
    finally:
        builder.docker("rm", "-f", name)
    builder.docker("image", "rm", stage_image)


def _import_into_node(builder: Builder, container: str, images: list[str]) -> None:
    """`docker image save` piped into the node's `ctr images import --no-unpack` (unpacking in
    the build container fails on overlay whiteouts; the kubelet's containerd unpacks on use)."""
    env = {**os.environ, **builder.env}
    for image in images:
        say(f"node image: importing {image} into containerd")
        _pipe(
            ["docker", "image", "save", image],
            ["docker", "exec", "-i", container, *CTR_IMPORT],
            env=env,
            timeout=600,
            what=f"importing {image} into the node image",
        )
