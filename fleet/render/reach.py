"""What a render may reach besides its own tree, and the static checks that enforce it.

A kustomization or a chart is repository content: it names files and other repositories, and
kustomize and helm follow those names wherever they point. Without checks, an Application of a
Project restricted to one repository could build `resources: [file:///<fleet cache>/<hash>.git]`
(another team's private repository, mirrored by fleet), a directory base `../../../../var/...`
(kustomize's LoadRestrictionsRootOnly covers files, not directory bases) or an `http://` URL.

`check_kustomization` walks the kustomization graph before kustomize runs (every kustomization
reached through local resources, bases, components, generators, transformers and validators)
and checks every reference a kustomization field can hold: a local one must resolve, symlinks
followed, inside the tree; a remote one must use https or ssh and be permitted by the
Application's Project `sourceRepos` (`RenderReach`). `check_chart` refuses `file://` chart
dependencies outside the tree. Errors are RenderError(INVALID_SOURCE) naming the file, the field
and the entry. This is the first layer; the second is the kernel (sandbox.py), the third the
render's `git` (gitguard.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml

from fleet.api.project import Project

from .errors import INVALID_SOURCE, RenderError
from .gitguard import redact, refusal, transport_refusal
from .paths import inside

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_DEFAULT_PORTS = {"https": 443, "ssh": 22}
_SCP = re.compile(r"^([^/\s:@]+@)?([^/\s:]+):(?!//)")


@dataclass(frozen=True)
class RenderReach:
    """The repositories a render may fetch (remote kustomize bases and files): the patterns of
    the Application's Project `sourceRepos`, matched as Argo CD matches them. Empty (the
    default): nothing remote. Part of the render cache key: two Applications with the same
    source but different Projects must not share a render one of them may not make."""

    source_repos: tuple[str, ...] = ()

    @classmethod
    def of(cls, project: Project) -> RenderReach:
        return cls(tuple(project.source_repos))

    def refusal(self, url: str) -> str | None:
        """Why `url` (a remote reference with any `//subdir` and query removed) is refused."""
        return remote_refusal(url, self.source_repos)


def kustomize_remote(entry: str) -> str | None:
    """The URL kustomize would fetch for a kustomization entry, or None for a local path.

    Covers the forms kustomize accepts: `git::` prefixes, `gh:org/repo`, `github.com/...`
    without a scheme, any `scheme://`, scp-like `user@host:path` and `host:path`.
    """
    text = entry.strip()
    lowered = text.lower()
    if lowered.startswith("git::"):
        text, lowered = text[5:], lowered[5:]
    if lowered.startswith("gh:"):
        return "git@github.com:" + text[3:]
    if lowered.startswith(("github.com/", "github.com:")):
        return "https://github.com/" + text[11:]
    if "://" in text or "::" in text or _SCP.match(text):
        return text
    return None


def _split_remote(url: str) -> tuple[str, str, list[str]]:
    """(scheme-and-host prefix, separator, path segments) of a remote, query and `//subdir`
    dropped: `https://h/org/repo//base?ref=v1` -> (`https://h`, `/`, [org, repo])."""
    url = url.split("?", 1)[0].split("#", 1)[0]
    if "://" in url:
        scheme, rest = url.split("://", 1)
        host, _, path = rest.partition("/")
        prefix = f"{scheme}://{host}"
    else:
        match = _SCP.match(url)
        if match is None:
            return url, "/", []
        prefix = match.group(0)[:-1]
        path = url[match.end() :]
        return prefix, ":", path.split("//", 1)[0].strip("/").split("/")
    return prefix, "/", path.split("//", 1)[0].strip("/").split("/")


def remote_refusal(url: str, source_repos: tuple[str, ...]) -> str | None:
    """Why a remote reference may not be fetched, or None.

    The repository is some leading part of the path (kustomize's `//subdir`, `.git/subdir`,
    GitHub's org/repo, an https file inside a repository's web path): the reference is allowed
    when one of those prefixes is a repository the Project permits. `..` segments are refused
    so a prefix match cannot climb out of the permitted repository.
    """
    prefix, separator, segments = _split_remote(url)
    if any(unquote(s) in ("..", ".") for s in segments):
        return "`..` in a remote path is not allowed"
    why = transport_refusal(url)
    if why is not None:
        return why
    for end in range(1, len(segments) + 1):
        candidate = prefix + separator + "/".join(segments[:end])
        if refusal(candidate, source_repos) is None:
            return None
    return refusal(url.split("?", 1)[0], source_repos)


def remote_port(url: str) -> int:
    """The TCP port a permitted remote is fetched from (for the sandbox's connect rule)."""
    if "://" not in url:
        return _DEFAULT_PORTS["ssh"]
    parts = urlsplit(url.split("?", 1)[0])
    scheme = "ssh" if parts.scheme in ("git+ssh", "ssh+git") else parts.scheme
    try:
        explicit = parts.port
    except ValueError:
        explicit = None
    return explicit or _DEFAULT_PORTS.get(scheme, 443)


# -- kustomize ---------------------------------------------------------------------------------

_BASES = ("resources", "bases", "components")
"""Directories (kustomizations), files or remote bases."""
_PLUGINS = ("generators", "transformers", "validators")
"""Like bases, or inline plugin configuration."""
_FILES = ("crds", "configurations")
_ITEM_PATHS = ("patches", "patchesJson6902", "replacements")
"""Lists of objects whose `path` names a file."""


def _kustomization_file(directory: Path) -> Path | None:
    for name in KUSTOMIZATION_FILES:
        if (directory / name).is_file():
            return directory / name
    return None


def _inline(entry: str) -> bool:
    """An inline patch or plugin configuration rather than a path (kustomize tries both)."""
    if "\n" in entry:
        return True
    try:
        return isinstance(yaml.safe_load(entry), Mapping | list)
    except yaml.YAMLError:
        return False


def _references(doc: Mapping[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(field label, entry, kind) of every reference in a kustomization; kind is `base` (a
    directory or file), `file`, or `dir`. Inline content is not yielded."""

    def strings(value: Any) -> list[str]:
        return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []

    for field in _BASES:
        for entry in strings(doc.get(field)):
            yield field, entry, "base"
    for field in _PLUGINS:
        for entry in strings(doc.get(field)):
            if not _inline(entry):
                yield field, entry, "base"
    for entry in strings(doc.get("patchesStrategicMerge")):
        if not _inline(entry):
            yield "patchesStrategicMerge", entry, "file"
    for field in _FILES:
        for entry in strings(doc.get(field)):
            yield field, entry, "file"
    for field in _ITEM_PATHS:
        items = doc.get(field)
        for index, item in enumerate(items if isinstance(items, list) else []):
            if isinstance(item, Mapping) and isinstance(item.get("path"), str):
                yield f"{field}[{index}].path", item["path"], "file"
    for field in ("configMapGenerator", "secretGenerator"):
        items = doc.get(field)
        for index, item in enumerate(items if isinstance(items, list) else []):
            if not isinstance(item, Mapping):
                continue
            for entry in strings(item.get("files")):
                # `key=path` or `path`
                yield f"{field}[{index}].files", entry.split("=", 1)[-1], "file"
            for entry in strings(item.get("envs")):
                yield f"{field}[{index}].envs", entry, "file"
            if isinstance(item.get("env"), str):
                yield f"{field}[{index}].env", item["env"], "file"
    openapi = doc.get("openapi")
    if isinstance(openapi, Mapping) and isinstance(openapi.get("path"), str):
        yield "openapi.path", openapi["path"], "file"
    globals_ = doc.get("helmGlobals")
    if isinstance(globals_, Mapping) and isinstance(globals_.get("chartHome"), str):
        yield "helmGlobals.chartHome", globals_["chartHome"], "dir"
    charts = doc.get("helmCharts")
    for index, chart in enumerate(charts if isinstance(charts, list) else []):
        if not isinstance(chart, Mapping):
            continue
        if isinstance(chart.get("valuesFile"), str):
            yield f"helmCharts[{index}].valuesFile", chart["valuesFile"], "file"
        for entry in strings(chart.get("additionalValuesFiles")):
            yield f"helmCharts[{index}].additionalValuesFiles", entry, "file"


def check_kustomization(root: Path, app_dir: Path, reach: RenderReach) -> tuple[int, ...]:
    """Refuse any reference a kustomize build of `app_dir` would follow out of `root` or to a
    repository `reach` does not permit; the TCP ports the permitted remote ones need.

    Blocking file I/O: call from a worker thread.
    """
    real_root = root.resolve()
    ports: set[int] = set()
    pending = [app_dir.resolve()]
    seen: set[Path] = set()
    while pending:
        directory = pending.pop()
        if directory in seen:
            continue
        seen.add(directory)
        kfile = _kustomization_file(directory)
        if kfile is None:
            continue
        label = kfile.relative_to(real_root).as_posix()
        try:
            doc = yaml.safe_load(kfile.read_text(errors="replace"))
        except yaml.YAMLError as error:
            raise RenderError(INVALID_SOURCE, f"{label}: not valid YAML ({error})") from None
        if not isinstance(doc, Mapping):
            continue  # kustomize reports what is wrong with it
        for field, entry, kind in _references(doc):
            what = f"{label}: {field} entry {redact(entry)!r}"
            url = kustomize_remote(entry)
            if url is not None:
                why = reach.refusal(url)
                if why is not None:
                    raise RenderError(INVALID_SOURCE, f"{what}: {why}")
                ports.add(remote_port(url))
                continue
            # Not `paths.inside`: a missing file is kustomize's error to report (it names it).
            target = (directory / entry).resolve()
            if target != real_root and real_root not in target.parents:
                raise RenderError(INVALID_SOURCE, f"{what} resolves outside the repository")
            if kind in ("base", "dir") and target.is_dir():
                pending.append(target)
    return tuple(sorted(ports))


# -- helm --------------------------------------------------------------------------------------


def check_chart(root: Path, chart_dir: Path) -> None:
    """Refuse `file://` dependencies (Chart.yaml or requirements.yaml, in the chart and its
    unpacked subcharts) that resolve outside `root`. helm template never fetches: other
    dependencies come from `charts/` or fail. Blocking file I/O: call from a worker thread."""
    real_root = root.resolve()
    pending = [chart_dir.resolve()]
    seen: set[Path] = set()
    while pending:
        directory = pending.pop()
        if directory in seen:
            continue
        seen.add(directory)
        for name in ("Chart.yaml", "requirements.yaml"):
            path = directory / name
            if not path.is_file():
                continue
            label = path.relative_to(real_root).as_posix()
            try:
                doc = yaml.safe_load(path.read_text(errors="replace"))
            except yaml.YAMLError:
                continue  # helm reports it
            deps = doc.get("dependencies") if isinstance(doc, Mapping) else None
            for index, dep in enumerate(deps if isinstance(deps, list) else []):
                repo = dep.get("repository") if isinstance(dep, Mapping) else None
                if isinstance(repo, str) and repo.lower().startswith("file://"):
                    what = f"{label}: dependencies[{index}].repository {repo!r}"
                    target = inside(root, directory / repo[len("file://") :], what)
                    pending.append(target)
        subcharts = directory / "charts"
        if subcharts.is_dir():
            pending.extend(p.resolve() for p in subcharts.iterdir() if p.is_dir())
