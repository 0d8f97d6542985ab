"""Ownership marks: every applied object carries fleet's tracking label and annotation.

Why both: the label makes watches and lists cheap (server-side selector); the annotation carries
the full identity (`<app-ns>/<app>:<group>/<kind>:<ns>/<name>`) so prune can check that an object
really belongs to this Application and was not copied or relabelled by someone else.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass
from typing import Any

LABEL = "fleet.gitops.dev/app"
ANNOTATION = "fleet.gitops.dev/tracking-id"
SYNC_WAVE = "argocd.argoproj.io/sync-wave"
SYNC_OPTIONS = "argocd.argoproj.io/sync-options"
COMPARE_OPTIONS = "argocd.argoproj.io/compare-options"

Obj = dict[str, Any]


@dataclass(frozen=True)
class AppRef:
    """The Application an object belongs to."""

    namespace: str
    name: str

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
    """A copy of `obj` with the tracking label and annotation set."""
    out = copy.deepcopy(obj)
    meta = out.setdefault("metadata", {})
    meta.setdefault("labels", {})
    meta["labels"] = dict(meta["labels"] or {}, **{LABEL: app.label_value})
    meta["annotations"] = dict(meta.get("annotations") or {}, **{ANNOTATION: tracking_id(app, out)})
    return out


def owned_by(app: AppRef, live: Obj) -> bool:
    """True only if the live object's tracking annotation names exactly this object and app."""
    annotations = (live.get("metadata") or {}).get("annotations") or {}
    return bool(annotations.get(ANNOTATION) == tracking_id(app, live))


def options(obj: Obj, annotation: str) -> set[str]:
    """The comma-separated options of an Argo CD annotation (`Prune=false,Replace=true`)."""
    raw = ((obj.get("metadata") or {}).get("annotations") or {}).get(annotation) or ""
    return {part.strip() for part in str(raw).split(",") if part.strip()}
