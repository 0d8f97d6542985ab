"""fleet's CustomResourceDefinitions: read them from crds/ and install them on a hub.

Two sets: fleet's own (crds/*.yaml, group fleet.gitops.dev) and Argo CD's (crds/argocd/*.yaml,
argoproj.io, for `--api argocd`), chosen by the `ApiFlavour`; both can be installed on one hub.

Why one place: `fleet demo`, the tests and the docs all need "the hub serves fleet's kinds now",
and a CRD that was created but is not yet served answers 404 for a moment, so callers that
create objects right after installing would fail intermittently. `install_crds` only returns
once every resource is served.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import anyio
import structlog
import yaml
from kubernetes_asyncio.client import ApiClient

import fleet
from fleet.api.group import FLEET, ApiFlavour
from fleet.kube import NotFound, request_json

log = structlog.get_logger("fleet.api.crds")

CRDS_DIR_ENV = "FLEET_CRDS_DIR"
CRD_COLLECTION = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
FIELD_MANAGER = "fleet"
PROBE_NAMESPACE = "default"
"""Any namespace works for the served check: listing a namespaced collection in a namespace
that does not exist is an empty list, not 404; only an unserved resource is 404."""


class CrdError(Exception):
    """The CRD folder or a file in it is missing or malformed; the message names which."""


class CrdsNotServedError(TimeoutError):
    """Installed CRDs were not served by the API server within the timeout."""

    def __init__(self, pending: list[str], timeout: float) -> None:
        super().__init__(
            f"CRDs not served after {timeout:g}s: {', '.join(pending)}"
            " (check the API server log and `kubectl get crd` conditions)"
        )
        self.pending = pending


def crds_dir() -> Path:
    """The folder of CRD YAML: $FLEET_CRDS_DIR, else the repository's crds/ beside `fleet/`."""
    configured = os.environ.get(CRDS_DIR_ENV)
    folder = Path(configured) if configured else Path(fleet.__file__).resolve().parents[1] / "crds"
    if not folder.is_dir():
        how = f"${CRDS_DIR_ENV}" if configured else "the repository"
        raise CrdError(
            f"{folder}: CRD folder not found (from {how}); set {CRDS_DIR_ENV} to the folder"
            " holding fleet's crds/*.yaml"
        )
    return folder


def _load(path: Path) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise CrdError(f"{path}: cannot read CRD: {exc}") from None
    if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
        raise CrdError(f"{path}: expected one CustomResourceDefinition document")
    name = (doc.get("metadata") or {}).get("name")
    if not isinstance(name, str) or not name:
        raise CrdError(f"{path}: metadata.name: required")
    return doc


def crd_documents(
    names: Iterable[str] | None = None, *, flavour: ApiFlavour = FLEET
) -> list[dict[str, Any]]:
    """Every CRD in the folder (sorted by file name), or only those `names` selects.

    A name matches a file stem (`application`), a plural (`applications`), a kind
    (`Application`) or the CRD's full name (`applications.fleet.gitops.dev`). An unknown name
    is an error, so a typo never installs nothing silently.
    """
    folder = crds_dir() / flavour.crd_folder
    paths = sorted(folder.glob("*.yaml"))
    if not paths:
        raise CrdError(f"{folder}: no CRD files for the {flavour.name} API")
    docs = [_load(path) for path in paths]
    if names is None:
        return docs
    chosen: list[dict[str, Any]] = []
    for name in names:
        found = [doc for path, doc in zip(paths, docs, strict=True) if name in _aliases(path, doc)]
        if not found:
            raise CrdError(f"no CRD named {name!r} in {folder}")
        chosen.extend(doc for doc in found if doc not in chosen)
    return chosen


def _aliases(path: Path, doc: dict[str, Any]) -> set[str]:
    spec_names = (doc.get("spec") or {}).get("names") or {}
    return {
        path.stem,
        doc["metadata"]["name"],
        str(spec_names.get("plural", "")),
        str(spec_names.get("kind", "")),
    }


def _served_path(doc: dict[str, Any]) -> str:
    spec = doc["spec"]
    version = next(
        (v["name"] for v in spec["versions"] if v.get("storage")), spec["versions"][0]["name"]
    )
    plural = spec["names"]["plural"]
    if spec.get("scope") == "Cluster":
        return f"/apis/{spec['group']}/{version}/{plural}"
    return f"/apis/{spec['group']}/{version}/namespaces/{PROBE_NAMESPACE}/{plural}"


async def install_crds(
    api: ApiClient,
    *,
    timeout: float = 30.0,
    names: Iterable[str] | None = None,
    flavour: ApiFlavour = FLEET,
) -> None:
    """Create or update fleet's CRDs (or, with `flavour=ARGOCD`, Argo CD's) on the hub, then
    wait until every resource is served.

    Server-side apply (field manager `fleet`, force) makes this idempotent and lets it upgrade
    CRDs installed by an older fleet or by kubectl. Raises `CrdsNotServedError` when the
    resources are not served within `timeout` seconds (the whole operation's bound).
    """
    docs = crd_documents(names, flavour=flavour)
    pending = {doc["metadata"]["name"]: _served_path(doc) for doc in docs}
    try:
        with anyio.fail_after(timeout):
            for doc in docs:
                name = doc["metadata"]["name"]
                await request_json(
                    api,
                    "PATCH",
                    f"{CRD_COLLECTION}/{name}",
                    body=doc,
                    query={"fieldManager": FIELD_MANAGER, "force": "true"},
                    content_type="application/apply-patch+yaml",
                    timeout=min(timeout, 10.0),
                )
                log.debug("crd.applied", crd=name)
            delay = 0.05
            while pending:
                for name, path in list(pending.items()):
                    try:
                        await request_json(
                            api, "GET", path, query={"limit": "1"}, timeout=min(timeout, 10.0)
                        )
                    except NotFound:
                        continue
                    del pending[name]
                if pending:
                    await anyio.sleep(delay)
                    delay = min(delay * 2, 1.0)
    except TimeoutError:
        raise CrdsNotServedError(sorted(pending), timeout) from None
    log.info("crds.installed", count=len(docs), api=flavour.name)


def served_paths(
    names: Iterable[str] | None = None, *, flavour: ApiFlavour = FLEET
) -> dict[str, str]:
    """CRD name -> the collection path `install_crds` polls (for diagnostics and tests)."""
    docs = crd_documents(names, flavour=flavour)
    return {doc["metadata"]["name"]: _served_path(doc) for doc in docs}


__all__ = [
    "CRDS_DIR_ENV",
    "CrdError",
    "CrdsNotServedError",
    "crd_documents",
    "crds_dir",
    "install_crds",
    "served_paths",
]
