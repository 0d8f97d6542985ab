"""The install manifests as the tests see them: `kustomize build deploy/`, parsed.

kustomize comes from FLEET_RENDER_BIN_DIR (default .cache/bin, built by
tools/render-binaries/build.sh) then PATH, as for tests/render. Without it the tests that need a
render skip, unless FLEET_REQUIRE_RENDER_TOOLS=1 makes that a failure.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleet.render import RenderTools

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DIR = REPO_ROOT / "deploy"
CRDS_DIR = REPO_ROOT / "crds"
RENDER_BIN_DIR = Path(os.environ.get("FLEET_RENDER_BIN_DIR") or REPO_ROOT / ".cache" / "bin")
NAMESPACE = "fleet-system"
SERVICE_ACCOUNT = "fleet-controller"
CONTROLLER_USER = f"system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}"
KUSTOMIZE_TIMEOUT = 60.0

Obj = dict[str, Any]


def kustomize_binary() -> Path:
    """The kustomize binary, or a skip (a failure under FLEET_REQUIRE_RENDER_TOOLS=1)."""
    found = RenderTools.discover(RENDER_BIN_DIR).kustomize
    if found is None:
        message = (
            f"kustomize not found in {RENDER_BIN_DIR} or PATH "
            "(run tools/render-binaries/build.sh .cache/bin)"
        )
        if os.environ.get("FLEET_REQUIRE_RENDER_TOOLS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return found


def render_base() -> list[Obj]:
    """Every object `kustomize build deploy/` prints, in its order."""
    done = subprocess.run(
        [str(kustomize_binary()), "build", str(DEPLOY_DIR)],
        capture_output=True,
        text=True,
        timeout=KUSTOMIZE_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, f"kustomize build deploy/ failed:\n{done.stderr}"
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def crd_documents() -> list[Obj]:
    """Every CustomResourceDefinition in crds/*.yaml (files may hold several documents)."""
    docs: list[Obj] = []
    for path in sorted(CRDS_DIR.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def one(objects: Iterable[Obj], kind: str, name: str | None = None) -> Obj:
    """The single object of `kind` (and `name`), failing with what was there instead."""
    objects = list(objects)
    found = [
        o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)
    ]
    assert len(found) == 1, (
        f"expected one {kind} {name or ''}, rendered: "
        f"{[(o['kind'], o['metadata']['name']) for o in objects]}"
    )
    return found[0]


# What the controller does on the hub, in its own namespace: (API group, resource, subresource,
# verb). The Role must allow each; tests/deploy checks it on paper and with a real apiserver.
FLEET_GROUP = "fleet.gitops.dev"
FLEET_RESOURCES = ("applications", "applicationsets", "projects", "clusters")
NEEDED: tuple[tuple[str, str, str, str], ...] = (
    *(
        (FLEET_GROUP, resource, "", verb)
        for resource in FLEET_RESOURCES
        for verb in ("get", "list", "watch", "create", "update", "patch", "delete")
    ),
    *(
        (FLEET_GROUP, resource, sub, verb)
        for resource in FLEET_RESOURCES
        for sub in ("status", "finalizers")
        for verb in ("update", "patch")
    ),
    *(("", "secrets", "", verb) for verb in ("get", "list", "watch")),
    *(("", "configmaps", "", verb) for verb in ("get", "list", "watch")),
    *(
        ("coordination.k8s.io", "leases", "", v)
        for v in ("get", "list", "watch", "create", "update")
    ),
    *(("", "events", "", verb) for verb in ("create", "patch")),
)


def grants(role: Obj, group: str, resource: str, subresource: str, verb: str) -> bool:
    """Whether a rule of `role` allows the request (no wildcards expected: they fail elsewhere)."""
    full = f"{resource}/{subresource}" if subresource else resource
    return any(
        group in rule.get("apiGroups", [])
        and full in rule.get("resources", [])
        and verb in rule.get("verbs", [])
        for rule in role.get("rules", [])
    )
