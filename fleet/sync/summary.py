"""`status.summary` as Argo CD fills it: the container images an Application runs and the URLs
it is reached at.

Why: Argo CD's notification templates, its UI and rollout checkers read these
(`{{index .app.status.summary.images 0}}`, `app.status.summary.externalURLs`); an Application
taken over from Argo CD kept the last values Argo CD wrote, forever.

Where Argo CD reads them (controller/cache/info.go, ApplicationTree.GetSummary):
- images: the containers and init containers of the Application's Pods, children included.
  fleet does not watch Pods, so it reads the pod templates of the workloads it manages
  (Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs, CronJobs) and managed Pods: the
  same set once a rollout is done; during one, Argo CD also lists the old Pods' images.
- externalURLs: each Ingress rule's host (or its load balancer's hostname or IP) and path,
  https when the Ingress has TLS, unless the Ingress is annotated
  `argocd.argoproj.io/ignore-default-links: "true"`; the value of every
  `link.argocd.argoproj.io/*` annotation on a managed object and on the Application itself
  (`url` or `title|url`) whose URL is http or https: the UI renders these as links, so a
  `javascript:` or `data:` value from a repository would be script in whoever clicks it.
Both sorted, without repeats. Values come from the cluster and the repository, so each is
bounded in length and number.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

LINK_PREFIX = "link.argocd.argoproj.io/"
IGNORE_DEFAULT_LINKS = "argocd.argoproj.io/ignore-default-links"
_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
"""What Go's strconv.ParseBool reads as true (Argo CD parses the annotation with it)."""
MAX_ENTRIES = 256
"""Images or URLs kept per Application (Argo CD keeps all; this bounds a status write)."""
MAX_LENGTH = 2048
"""Characters of one image or URL; longer ones are left out."""

_POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}


def summarize(lives: Iterable[Mapping[str, Any] | None]) -> dict[str, list[str]]:
    """`{"images": [...], "externalURLs": [...]}` for an Application's live objects; a key is
    left out when it has nothing. (The Application's own links are added when its status is
    written: merge_links.)"""
    images: set[str] = set()
    urls: set[str] = set()
    for live in lives:
        if not isinstance(live, Mapping):
            continue
        images.update(pod_images(live))
        urls.update(links(live))
        if live.get("kind") == "Ingress" and not _ignores_default_links(live):
            urls.update(ingress_urls(live))
    out: dict[str, list[str]] = {}
    if images:
        out["images"] = _bounded(images)
    if urls:
        out["externalURLs"] = _bounded(urls)
    return out


def merge_links(urls: Sequence[str], links: Sequence[str]) -> list[str]:
    """External URLs with an Application's own links added (sorted, without repeats)."""
    if not links:
        return list(urls)
    return _bounded({*urls, *(link for link in links if isinstance(link, str))})


def stored_summary(raw: Any) -> dict[str, list[str]]:
    """A summary read back from a stored status: lists of strings only, bounded."""
    out = {}
    for key in ("images", "externalURLs"):
        values = {v for v in _list(_map(raw).get(key)) if isinstance(v, str)}
        if values:
            out[key] = _bounded(values)
    return out


def pod_images(live: Mapping[str, Any]) -> list[str]:
    """The images of a Pod's, or a workload's pod template's, containers and init
    containers."""
    path = _POD_SPEC_PATHS.get(str(live.get("kind")))
    if path is None:
        return []
    node: Any = live
    for step in path:
        node = node.get(step) if isinstance(node, Mapping) else None
    if not isinstance(node, Mapping):
        return []
    found = []
    for field in ("initContainers", "containers"):
        for container in _list(node.get(field)):
            image = container.get("image") if isinstance(container, Mapping) else None
            if isinstance(image, str) and image:
                found.append(image)
    return found


def links(obj: Mapping[str, Any] | None) -> list[str]:
    """Values of the `link.argocd.argoproj.io/<title>` annotations whose URL is safe to
    render as a link (see safe_link)."""
    return [
        value
        for key, value in _annotations(obj).items()
        if isinstance(key, str)
        and key.startswith(LINK_PREFIX)
        and isinstance(value, str)
        and safe_link(value)
    ]


def safe_link(value: str) -> bool:
    """Whether a link annotation's value (`url`, or `title|url`) may be shown: its URL is
    empty or http(s), as Argo CD checks it (settings.ValidateExternalURL) before the UI makes
    it an href. Control characters fail, as Go's url.Parse refuses them; a URL that does not
    start with its scheme has none, as in Go."""
    url = value.split("|", 1)[1] if "|" in value else value
    if not url:
        return True
    if not url[0].isascii() or not url[0].isalpha():
        return False
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        return False
    try:
        scheme = urlsplit(url).scheme
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        return False
    return scheme.lower() in ("http", "https")


def _ignores_default_links(live: Mapping[str, Any]) -> bool:
    return _annotations(live).get(IGNORE_DEFAULT_LINKS) in _GO_TRUE


def _annotations(obj: Mapping[str, Any] | None) -> Mapping[str, Any]:
    meta = obj.get("metadata") if isinstance(obj, Mapping) else None
    annotations = meta.get("annotations") if isinstance(meta, Mapping) else None
    return annotations if isinstance(annotations, Mapping) else {}


def ingress_urls(live: Mapping[str, Any]) -> list[str]:
    """`scheme://host/path` for each path of each rule; a rule without a host takes the load
    balancer's first hostname or IP. https when a TLS entry has a `secretName` (any, as
    Argo CD reads it) or a `host` equal to the rule's."""
    spec = _map(live.get("spec"))
    tls = [_map(entry) for entry in _list(spec.get("tls"))]
    any_secret = any(entry.get("secretName") is not None for entry in tls)
    fallback = ""
    for ingress in _list(_map(_map(live.get("status")).get("loadBalancer")).get("ingress")):
        fallback = _str(_map(ingress).get("hostname")) or _str(_map(ingress).get("ip"))
        if fallback:
            break
    urls = []
    for rule in _list(spec.get("rules")):
        host = _str(_map(rule).get("host")) or fallback
        if not host:
            continue
        secure = any_secret or any(entry.get("host") == host for entry in tls)
        scheme = "https" if secure else "http"
        for path in _list(_map(_map(rule).get("http")).get("paths")):
            if isinstance(path, Mapping):
                urls.append(f"{scheme}://{host}{_str(path.get('path')).removesuffix('*')}")
    return urls


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _bounded(values: set[str]) -> list[str]:
    return sorted(v for v in values if len(v) <= MAX_LENGTH)[:MAX_ENTRIES]
