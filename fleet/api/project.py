"""The `Project` resource (fleet.gitops.dev/v1alpha1) with Argo CD's AppProject semantics.

A Project bounds what its Applications may deploy: which repositories (`sourceRepos`), which
clusters and namespaces (`destinations`) and which resource kinds (cluster- and
namespace-scoped white/blacklists). The rules follow Argo CD's AppProject methods
(IsSourcePermitted, IsDestinationPermitted, IsGroupKindPermitted) exactly, including their
quirks, so a project migrated from Argo CD permits and denies the same things:

- Globs: repositories and destinations use gobwas-style globs (`*` stops at `/` for
  repositories only, `**` crosses it, `?`, `[a-z]`, `[!a]`, `{a,b}`); groups and kinds use Go's
  `filepath.Match`. A pattern that does not compile matches nothing.
- A leading `!` denies: a value matching a deny pattern is refused whatever else allows it, and
  (as in Argo CD) a deny entry the value does *not* match counts as an allowing entry.
- Repository URLs are compared normalised as Argo CD's NormalizeGitURL does: trimmed, lower
  case, scp-like `git@host:path` read as `git@host/path`, `ssh://` dropped, `.git` and a
  trailing `/` removed.
- Cluster-scoped kinds need a `clusterResourceWhitelist` entry (none listed = none allowed);
  namespaced kinds are all allowed when `namespaceResourceWhitelist` is absent, none when it is
  an explicit empty list (Argo CD's nil-versus-empty rule); blacklists always deny.

When the hub has no Project named "default", `default_project()` stands in for the one Argo CD
creates itself: every repository, destination and kind permitted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from fleet.api.globmatch import Glob, compile_glob
from fleet.api.group import ARGOCD, FLEET

API_VERSION = FLEET.api_version
KIND = "Project"
DEFAULT_PROJECT = "default"

_GROUP_KIND_LISTS = {
    "clusterResourceWhitelist",
    "clusterResourceBlacklist",
    "namespaceResourceWhitelist",
    "namespaceResourceBlacklist",
}
_SPEC_FIELDS = {
    "description",
    "sourceRepos",
    "destinations",
    "sourceNamespaces",
    *_GROUP_KIND_LISTS,
    # Argo CD fields accepted so AppProjects migrate unchanged; fleet does not act on them.
    "roles",
    "syncWindows",
    "orphanedResources",
    "signatureKeys",
    "destinationServiceAccounts",
    "permitOnlyProjectScopedClusters",
}


class InvalidProjectError(ValueError):
    """A Project does not match the schema; `path` is e.g. `spec.destinations[1].namespace`."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


@dataclass(frozen=True, slots=True)
class ProjectDestination:
    server: str = ""
    name: str = ""
    namespace: str = ""


@dataclass(frozen=True, slots=True)
class GroupKind:
    group: str
    kind: str


@dataclass(frozen=True)
class Project:
    name: str
    namespace: str = ""
    description: str = ""
    source_repos: tuple[str, ...] = ()
    destinations: tuple[ProjectDestination, ...] = ()
    cluster_resource_whitelist: tuple[GroupKind, ...] = ()
    cluster_resource_blacklist: tuple[GroupKind, ...] = ()
    namespace_resource_whitelist: tuple[GroupKind, ...] | None = None
    """None (absent): every namespaced kind; an empty tuple (explicit `[]`): none."""
    namespace_resource_blacklist: tuple[GroupKind, ...] = ()
    source_namespaces: tuple[str, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def permits_source(self, repo_url: str) -> bool:
        """Argo CD's IsSourcePermitted: some entry allows the repository and no deny entry hits."""
        wanted = normalize_repo_url(repo_url)
        allowed = False
        for entry in self.source_repos:
            deny = entry.startswith("!")
            pattern = normalize_repo_url(entry[1:] if deny else entry)
            matched = _glob_match(pattern, wanted, negate=deny, separators="/")
            if matched:
                allowed = True
            elif deny:
                return False
        return allowed

    def permits_destination(self, server: str, name: str, namespace: str) -> bool:
        """Argo CD's IsDestinationPermitted for a cluster known by both server URL and name.

        An entry matches when its server glob matches the server or its name glob matches the
        name, and its namespace glob matches the namespace; an entry whose `!` pattern hits
        denies the destination outright.
        """
        any_matched = False
        denied = False
        for item in self.destinations:
            name_matched = bool(name) and _glob_match_neg(item.name, name)
            server_matched = bool(server) and _glob_match_neg(item.server, server)
            namespace_matched = _glob_match_neg(item.namespace, namespace)
            if (server_matched or name_matched) and namespace_matched:
                any_matched = True
            elif (
                (not name_matched and item.name.startswith("!"))
                or (not server_matched and item.server.startswith("!"))
                or (not namespace_matched and item.namespace.startswith("!"))
            ):
                denied = True
        return any_matched and not denied

    def permits_kind(self, group: str, kind: str, namespaced: bool) -> bool:
        """Argo CD's IsGroupKindPermitted (see the module docstring for the list rules)."""
        if namespaced:
            whitelist = self.namespace_resource_whitelist
            white = whitelist is None or _in_list(group, kind, whitelist)
            return white and not _in_list(group, kind, self.namespace_resource_blacklist)
        white = _in_list(group, kind, self.cluster_resource_whitelist)
        return white and not _in_list(group, kind, self.cluster_resource_blacklist)

    def permits_application_namespace(self, namespace: str, *, control_namespace: str) -> bool:
        """Argo CD's IsAppNamespacePermitted: Applications outside the controller's namespace
        need a `sourceNamespaces` glob naming their namespace."""
        if not namespace or namespace == control_namespace:
            return True
        return any(_glob_match(p, namespace) for p in self.source_namespaces)

    def violations(
        self, application: Mapping[str, Any], *, cluster_name: str, cluster_server: str
    ) -> list[str]:
        """Why this project refuses `application` (an Application document), in Argo CD's
        words; empty when it is permitted. The destination is the resolved cluster (both its
        registered name and server URL), as Argo CD checks it after resolving the name."""
        # Imported here: this module must import only the standard library, because the render
        # git guard (fleet/render/gitguard.py) imports it inside the sandbox, without packages.
        from fleet.git.urls import redact_url

        spec = application.get("spec")
        spec = spec if isinstance(spec, Mapping) else {}
        source = spec.get("source")
        source = source if isinstance(source, Mapping) else {}
        destination = spec.get("destination")
        destination = destination if isinstance(destination, Mapping) else {}
        out: list[str] = []
        repo = str(source.get("repoURL") or "")
        if not self.permits_source(repo):
            out.append(
                f"application repo {redact_url(repo)} is not permitted in project '{self.name}'"
            )
        namespace = str(destination.get("namespace") or "")
        if not self.permits_destination(cluster_server, cluster_name, namespace):
            out.append(
                f"application destination server '{cluster_server}' and namespace '{namespace}'"
                f" do not match any of the allowed destinations in project '{self.name}'"
            )
        return out

    def resource_violations(
        self,
        manifests: Iterable[Mapping[str, Any]],
        namespaced_of: Callable[[str, str], bool | None],
        *,
        cluster_server: str | None = None,
        cluster_name: str = "",
        default_namespace: str = "",
    ) -> list[str]:
        """Why this project refuses rendered objects, one message per refused object.

        `namespaced_of(group, kind)` tells the kind's scope on the target cluster; None (kind
        not known yet, e.g. its CRD comes in the same sync) falls back to the manifest: with a
        namespace it is judged as namespaced, without one as cluster-scoped (the stricter list).
        When `cluster_server` is given, namespaced objects must also land in a namespace the
        project's destinations permit (Argo CD: "namespace N is not permitted in project 'p'").
        """
        out: list[str] = []
        for obj in manifests:
            group = _group_of(obj)
            kind = str(obj.get("kind") or "")
            meta = obj.get("metadata")
            meta = meta if isinstance(meta, Mapping) else {}
            namespace = str(meta.get("namespace") or "")
            namespaced = namespaced_of(group, kind)
            if namespaced is None:
                namespaced = bool(namespace)
            if not self.permits_kind(group, kind, namespaced):
                out.append(f"resource {group}:{kind} is not permitted in project {self.name}")
                continue
            if namespaced and cluster_server is not None:
                target = namespace or default_namespace
                if not self.permits_destination(cluster_server, cluster_name, target):
                    out.append(f"namespace {target} is not permitted in project '{self.name}'")
        return out


def default_project(namespace: str = "") -> Project:
    """Argo CD's auto-created `default` project: every source, destination and kind."""
    return Project(
        name=DEFAULT_PROJECT,
        namespace=namespace,
        source_repos=("*",),
        destinations=(ProjectDestination(server="*", name="*", namespace="*"),),
        cluster_resource_whitelist=(GroupKind("*", "*"),),
    )


# --- parsing ------------------------------------------------------------------------------


def _string(value: Any, path: str, *, required: bool = False) -> str:
    if value is None:
        if required:
            raise InvalidProjectError(path, "required")
        return ""
    if not isinstance(value, str):
        raise InvalidProjectError(path, "expected a string")
    return value


def _list(value: Any, path: str) -> list[Any] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise InvalidProjectError(path, "expected a list")
    return value


def _strings(value: Any, path: str) -> tuple[str, ...]:
    items = _list(value, path) or []
    return tuple(_string(item, f"{path}[{i}]", required=True) for i, item in enumerate(items))


def _object(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidProjectError(path, "expected an object")
    return value


def _group_kinds(value: Any, path: str) -> tuple[GroupKind, ...] | None:
    items = _list(value, path)
    if items is None:
        return None
    out = []
    for i, item in enumerate(items):
        entry = _object(item, f"{path}[{i}]")
        for key in sorted(set(entry) - {"group", "kind"}):
            raise InvalidProjectError(f"{path}[{i}].{key}", "unknown field")
        out.append(
            GroupKind(
                _string(entry.get("group"), f"{path}[{i}].group", required=True),
                _string(entry.get("kind"), f"{path}[{i}].kind", required=True),
            )
        )
    return tuple(out)


def _destinations(value: Any, path: str) -> tuple[ProjectDestination, ...]:
    out = []
    for i, item in enumerate(_list(value, path) or []):
        entry = _object(item, f"{path}[{i}]")
        for key in sorted(set(entry) - {"server", "name", "namespace"}):
            raise InvalidProjectError(f"{path}[{i}].{key}", "unknown field")
        out.append(
            ProjectDestination(
                server=_string(entry.get("server"), f"{path}[{i}].server"),
                name=_string(entry.get("name"), f"{path}[{i}].name"),
                namespace=_string(entry.get("namespace"), f"{path}[{i}].namespace"),
            )
        )
    return tuple(out)


def parse_project(obj: Mapping[str, Any]) -> Project:
    """A Project from its JSON form; errors name the field (`spec.sourceRepos[2]: ...`).

    Argo CD's `argoproj.io/v1alpha1` AppProject is accepted too (same spec), so projects can
    be read from an Argo CD export during a migration.
    """
    if not isinstance(obj, Mapping):
        raise InvalidProjectError("(root)", "expected an object")
    if obj.get("apiVersion") not in (None, API_VERSION, ARGOCD.api_version):
        raise InvalidProjectError("apiVersion", f"expected {API_VERSION}")
    if obj.get("kind") not in (None, KIND, ARGOCD.project.kind):
        raise InvalidProjectError("kind", f"expected {KIND}")
    meta = _object(obj.get("metadata"), "metadata")
    name = _string(meta.get("name"), "metadata.name", required=True)
    if not name:
        raise InvalidProjectError("metadata.name", "must not be empty")
    spec_value = obj.get("spec")
    spec = {} if spec_value is None else _object(spec_value, "spec")
    for key in sorted(set(spec) - _SPEC_FIELDS):
        raise InvalidProjectError(f"spec.{key}", "unknown field")
    kinds = {key: _group_kinds(spec.get(key), f"spec.{key}") for key in _GROUP_KIND_LISTS}
    return Project(
        name=name,
        namespace=_string(meta.get("namespace"), "metadata.namespace"),
        description=_string(spec.get("description"), "spec.description"),
        source_repos=_strings(spec.get("sourceRepos"), "spec.sourceRepos"),
        destinations=_destinations(spec.get("destinations"), "spec.destinations"),
        cluster_resource_whitelist=kinds["clusterResourceWhitelist"] or (),
        cluster_resource_blacklist=kinds["clusterResourceBlacklist"] or (),
        namespace_resource_whitelist=kinds["namespaceResourceWhitelist"],
        namespace_resource_blacklist=kinds["namespaceResourceBlacklist"] or (),
        source_namespaces=_strings(spec.get("sourceNamespaces"), "spec.sourceNamespaces"),
        raw=obj,
    )


# --- matching -----------------------------------------------------------------------------


def normalize_repo_url(url: str) -> str:
    """Argo CD's NormalizeGitURL, plus a trailing `/` dropped: the form sourceRepos compare."""
    url = url.strip().lower()
    if "://" not in url and re.match(r"^[^/@:]+@[^/:]+:", url):
        url = url.replace(":", "/", 1)  # git@host:org/repo -> git@host/org/repo
    url = url.removeprefix("ssh://").rstrip("/")
    return url.removesuffix(".git").rstrip("/")


def _group_of(obj: Mapping[str, Any]) -> str:
    api_version = str(obj.get("apiVersion") or "")
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def _in_list(group: str, kind: str, items: Iterable[GroupKind]) -> bool:
    return any(_path_match(item.kind, kind) and _path_match(item.group, group) for item in items)


def _glob_match_neg(pattern: str, value: str) -> bool:
    """Argo CD's globMatch with negation and no separators (destinations)."""
    deny = pattern.startswith("!")
    return _glob_match(pattern[1:] if deny else pattern, value, negate=deny)


def _glob_match(pattern: str, value: str, *, negate: bool = False, separators: str = "") -> bool:
    """gobwas/glob's Match (as Argo CD's util/glob calls it); `negate` inverts the result."""
    if not negate and pattern == "*":
        return True
    compiled = _compile_glob(pattern, separators)
    matched = compiled is not None and compiled.fullmatch(value)
    return not matched if negate else matched


def _path_match(pattern: str, value: str) -> bool:
    """Go's filepath.Match on `/`-free names (groups, kinds)."""
    compiled = _compile_glob(pattern, "/", go_path=True)
    return compiled is not None and compiled.fullmatch(value)


@lru_cache(maxsize=1024)
def _compile_glob(pattern: str, separators: str, go_path: bool = False) -> Glob | None:
    """A gobwas glob (with `go_path`: a Go path.Match pattern); None if malformed. Matched as
    an NFA (fleet.api.globmatch), never by a backtracking regex: patterns come from the hub."""
    return compile_glob(pattern, separators, go_path=go_path)
