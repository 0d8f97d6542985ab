"""Ownership marks: every applied object carries fleet's tracking label and annotation.

Why both: the label makes watches and lists cheap (server-side selector); the annotation carries
the full identity (`<app-ns>/<app>:<group>/<kind>:<ns>/<name>`) so prune can check that an object
really belongs to this Application and was not copied or relabelled by someone else.

Taking over from Argo CD (`--api argocd`): objects Argo CD applied carry its marks instead, the
annotation `argocd.argoproj.io/tracking-id: <app>:<group>/<kind>:<ns>/<name>` (Argo CD's default
`annotation` tracking) or, in its older `label` tracking, only `app.kubernetes.io/instance: <app>`.
An `AppRef` with `argocd_instance` set accepts those marks as ownership too, so the Application
adopts what Argo CD deployed for it (and prunes it when it leaves Git); fleet's own marks are
added at the next apply. The label is trusted only when asked for (`argocd_label_tracking`):
Helm charts set `app.kubernetes.io/instance` to their release name, so on its own it is a weak
claim (Argo CD's documentation warns about the same).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

LABEL = "fleet.gitops.dev/app"
ANNOTATION = "fleet.gitops.dev/tracking-id"
ARGOCD_ANNOTATION = "argocd.argoproj.io/tracking-id"
ARGOCD_LABEL = "app.kubernetes.io/instance"
SYNC_WAVE = "argocd.argoproj.io/sync-wave"
SYNC_OPTIONS = "argocd.argoproj.io/sync-options"
COMPARE_OPTIONS = "argocd.argoproj.io/compare-options"

Obj = dict[str, Any]


@dataclass(frozen=True)
class AppRef:
    """The Application an object belongs to."""

    namespace: str
    name: str
    argocd_instance: str = ""
    """The Application's name in Argo CD's tracking marks (`argocd_instance_name`); "" (the
    default, fleet's own API): Argo CD's marks are not ownership."""
    argocd_label_tracking: bool = False
    """Also accept Argo CD's `label` tracking (`app.kubernetes.io/instance` alone)."""

    @property
    def label_value(self) -> str:
        """A valid label value (<= 63 chars); the annotation carries the exact identity."""
        value = self.name
        if len(value) <= 63:
            return value
        return value[:50] + "-" + hashlib.sha256(value.encode()).hexdigest()[:12]


def group_of(api_version: str) -> str:
    return api_version.split("/", 1)[0] if "/" in api_version else ""


def tracking_id(app: AppRef, obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    group = group_of(str(obj.get("apiVersion", "")))
    return (
        f"{app.namespace}/{app.name}:{group}/{obj.get('kind', '')}:"
        f"{meta.get('namespace') or ''}/{meta.get('name', '')}"
    )


def stamp(app: AppRef, obj: Obj) -> Obj:
    """`obj` with the tracking label and annotation set, as a new top level, metadata, labels
    and annotations; every other part (spec, data) is `obj`'s own, not a copy.

    Why not a deep copy: the sync engine keeps the stamped object of every desired object
    for its Application's life, and the manifests it stamps are the render cache's, shared
    by every Application of the same source (fleet.controllers.desired), so sharing their
    bodies is what keeps 1,000 clusters of the same chart from holding 1,000 copies. Desired
    objects are never changed in place: whoever edits one (ignoreDifferences, a Replace
    body, a hook's name, a diff's masking) edits a copy."""
    out = dict(obj)
    meta = out["metadata"] = dict(obj.get("metadata") or {})
    meta["labels"] = dict(meta.get("labels") or {}, **{LABEL: app.label_value})
    meta["annotations"] = dict(meta.get("annotations") or {}, **{ANNOTATION: tracking_id(app, out)})
    return out


def argocd_instance_name(app_namespace: str, app_name: str, controller_namespace: str) -> str:
    """The Application's name as Argo CD writes it in tracking marks: the bare name for an
    Application in Argo CD's own namespace, `<namespace>_<name>` for one elsewhere."""
    if not app_namespace or app_namespace == controller_namespace:
        return app_name
    return f"{app_namespace}_{app_name}"


def owned_by(app: AppRef, live: Obj) -> bool:
    """True only if the live object's tracking annotation names exactly this object and app
    (fleet's, or in Argo CD mode Argo CD's; see the module docstring)."""
    annotations = (live.get("metadata") or {}).get("annotations") or {}
    if annotations.get(ANNOTATION) == tracking_id(app, live):
        return True
    return bool(app.argocd_instance) and argocd_owned(app, live)


def argocd_owned(app: AppRef, live: Obj) -> bool:
    """Argo CD's marks on `live` name this Application (`app.argocd_instance`) and object."""
    meta = live.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    mark = annotations.get(ARGOCD_ANNOTATION)
    if isinstance(mark, str) and mark:
        return _argocd_id_matches(mark, app.argocd_instance, live)
    if app.argocd_label_tracking:
        labels = meta.get("labels") or {}
        return bool(labels.get(ARGOCD_LABEL) == argocd_instance_label(app))
    return False


def argocd_instance_label(app: AppRef) -> str:
    """The value of Argo CD's instance label for `app`: cut to 63 characters, as Argo CD does."""
    return app.argocd_instance[:63]


def _argocd_id_matches(mark: str, instance: str, live: Obj) -> bool:
    """`<app>:<group>/<kind>:<namespace>/<name>`; the namespace is not compared for an object
    that has none (cluster-scoped), which Argo CD writes either empty or as the destination's."""
    app_part, sep, rest = mark.partition(":")
    group_kind, sep2, ns_name = rest.partition(":")
    if not sep or not sep2 or app_part != instance:
        return False
    group, _, kind = group_kind.partition("/")
    namespace, _, name = ns_name.partition("/")
    meta = live.get("metadata") or {}
    live_ns = str(meta.get("namespace") or "")
    return (
        group == group_of(str(live.get("apiVersion", "")))
        and kind == live.get("kind")
        and name == meta.get("name")
        and (not live_ns or namespace == live_ns)
    )


def options(obj: Obj, annotation: str) -> set[str]:
    """The comma-separated options of an Argo CD annotation (`Prune=false,Replace=true`)."""
    raw = ((obj.get("metadata") or {}).get("annotations") or {}).get(annotation) or ""
    return {part.strip() for part in str(raw).split(",") if part.strip()}
