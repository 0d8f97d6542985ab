"""The `Application` resource (fleet.gitops.dev/v1alpha1): Argo CD's Application, one source.

`parse_application` checks what the controller relies on before it touches a cluster (one
source with a repoURL, a destination naming exactly one of server or name, and the type and
range of every syncPolicy and ignoreDifferences field the sync engine reads) and reports the
field path when something is wrong, so the reason lands in the Application's InvalidSpecError
condition instead of surfacing later as an exception only the log sees. The rest of the spec
stays in `raw` for the components that read it (render, sync). No string field may hold a NUL
byte (no path, URL or name legitimately does; the OS refuses them).

`resolve_destination` turns the destination into the registered cluster it means, with Argo
CD's error wording, and `to_fleet` relabels an Application the generators produced in Argo CD's
group as fleet's.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fleet.api.group import ARGOCD, FLEET
from fleet.sync import syncoptions
from fleet.sync.retry import MAX_DURATION_TEXT, parse_duration
from generators.base import IN_CLUSTER_NAME, IN_CLUSTER_SERVER
from generators.yamlio import MAX_DEPTH, DocumentShapeError, check_shape

GROUP = FLEET.group
API_VERSION = FLEET.api_version
ARGO_API_VERSION = ARGOCD.api_version
KIND = "Application"
DEFAULT_PROJECT = "default"
DEFAULT_REVISION = "HEAD"


class InvalidApplicationError(ValueError):
    """An Application does not match the schema; `path` is e.g. `spec.source.repoURL`."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


class UnknownDestinationError(LookupError):
    """The destination names no registered cluster (Argo CD's wording in the message)."""


@dataclass(frozen=True, slots=True)
class Source:
    repo_url: str
    path: str = ""
    target_revision: str = DEFAULT_REVISION
    chart: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """The whole `spec.source` (helm, kustomize, directory options) for the renderers."""


@dataclass(frozen=True, slots=True)
class Destination:
    server: str = ""
    name: str = ""
    namespace: str = ""


@dataclass(frozen=True, slots=True)
class Application:
    name: str
    namespace: str
    project: str
    source: Source
    destination: Destination
    automated: bool = False
    prune: bool = False
    self_heal: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)


def _object(value: Any, path: str, *, required: bool = False) -> Mapping[str, Any]:
    if value is None and not required:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidApplicationError(
            path, "required object" if value is None else "expected an object"
        )
    return value


def _string(value: Any, path: str, *, required: bool = False) -> str:
    if value is None or value == "":
        if required:
            raise InvalidApplicationError(path, "required")
        return ""
    if not isinstance(value, str):
        raise InvalidApplicationError(path, "expected a string")
    if "\x00" in value:
        raise InvalidApplicationError(path, "must not contain a NUL byte")
    return value


def _bool(value: Any, path: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidApplicationError(path, "expected a boolean")
    return value


def _strings(value: Any, path: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidApplicationError(path, "expected a list of strings")
    return [_string(item, f"{path}[{index}]") for index, item in enumerate(value)]


def _number(value: Any, path: str, *, minimum: float) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidApplicationError(path, "expected a number")
    if value < minimum:
        raise InvalidApplicationError(path, f"must be at least {minimum:g}, got {value}")


def _duration(value: Any, path: str) -> None:
    """Argo CD's durations ("5s", "3m", "1m30s") or seconds; never negative."""
    if value is None or value == "":
        return
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidApplicationError(path, 'expected a duration such as "30s" or "2m"')
    try:
        seconds = parse_duration(value, 0.0)
    except ValueError:
        quoted = repr(value) if len(str(value)) <= MAX_DURATION_TEXT else "the value"
        raise InvalidApplicationError(
            path, f'{quoted} is not a duration such as "30s", "2m" or "1m30s"'
        ) from None
    if seconds < 0:
        raise InvalidApplicationError(path, f"must not be negative, got {value!r}")


def _check_sync_policy(policy: Mapping[str, Any], automated: Mapping[str, Any]) -> None:
    """Everything of syncPolicy the sync engine reads (fleet.sync.spec.AppSpec)."""
    for flag in ("prune", "selfHeal", "allowEmpty"):
        _bool(automated.get(flag), f"spec.syncPolicy.automated.{flag}")
    refused = syncoptions.problems(
        _strings(policy.get("syncOptions"), "spec.syncPolicy.syncOptions"),
        "spec.syncPolicy.syncOptions",
    )
    if refused:  # "spec.syncPolicy.syncOptions[1]: Prune=confirm is not supported: ..."
        path, _, message = refused[0].partition(": ")
        raise InvalidApplicationError(path, message)
    namespace_meta = _object(
        policy.get("managedNamespaceMetadata"), "spec.syncPolicy.managedNamespaceMetadata"
    )
    for key in ("labels", "annotations"):
        where = f"spec.syncPolicy.managedNamespaceMetadata.{key}"
        for item_key, item in _object(namespace_meta.get(key), where).items():
            _string(item, f"{where}.{item_key}")
    retry = _object(policy.get("retry"), "spec.syncPolicy.retry")
    limit = retry.get("limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
        raise InvalidApplicationError("spec.syncPolicy.retry.limit", "expected an integer")
    backoff = _object(retry.get("backoff"), "spec.syncPolicy.retry.backoff")
    _duration(backoff.get("duration"), "spec.syncPolicy.retry.backoff.duration")
    _duration(backoff.get("maxDuration"), "spec.syncPolicy.retry.backoff.maxDuration")
    _number(backoff.get("factor"), "spec.syncPolicy.retry.backoff.factor", minimum=1)


def _check_ignore_differences(value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, list):
        raise InvalidApplicationError("spec.ignoreDifferences", "expected a list")
    for index, entry in enumerate(value):
        path = f"spec.ignoreDifferences[{index}]"
        rule = _object(entry, path, required=True)
        for key in ("group", "kind", "name", "namespace"):
            _string(rule.get(key), f"{path}.{key}")
        for key in ("jsonPointers", "jqPathExpressions", "managedFieldsManagers"):
            _strings(rule.get(key), f"{path}.{key}")


def _source(value: Any) -> Source:
    source = _object(value, "spec.source", required=True)
    return Source(
        repo_url=_string(source.get("repoURL"), "spec.source.repoURL", required=True),
        path=_string(source.get("path"), "spec.source.path"),
        target_revision=_string(source.get("targetRevision"), "spec.source.targetRevision")
        or DEFAULT_REVISION,
        chart=_string(source.get("chart"), "spec.source.chart"),
        raw=source,
    )


def _destination(value: Any) -> Destination:
    dest = _object(value, "spec.destination", required=True)
    server = _string(dest.get("server"), "spec.destination.server")
    name = _string(dest.get("name"), "spec.destination.name")
    if server and name:
        raise InvalidApplicationError(
            "spec.destination",
            f"server {server!r} and name {name!r} are both set; set exactly one of server or"
            " name (as Argo CD requires)",
        )
    if not server and not name:
        raise InvalidApplicationError(
            "spec.destination", "exactly one of server or name is required (as Argo CD requires)"
        )
    return Destination(
        server=server,
        name=name,
        namespace=_string(dest.get("namespace"), "spec.destination.namespace"),
    )


def parse_application(obj: Mapping[str, Any]) -> Application:
    """An Application from its JSON form (fleet's or Argo CD's apiVersion).

    Errors name the field path (`spec.source.repoURL: required`).
    """
    if not isinstance(obj, Mapping):
        raise InvalidApplicationError("(root)", "expected an object")
    if obj.get("apiVersion") not in (None, API_VERSION, ARGO_API_VERSION):
        raise InvalidApplicationError("apiVersion", f"expected {API_VERSION}")
    if obj.get("kind") not in (None, KIND):
        raise InvalidApplicationError("kind", f"expected {KIND}")
    meta = _object(obj.get("metadata"), "metadata", required=True)
    name = _string(meta.get("name"), "metadata.name", required=True)
    spec = _object(obj.get("spec"), "spec", required=True)
    try:  # the renderers and the sync engine walk it recursively
        check_shape(spec, max_nodes=None, shared=False)
    except DocumentShapeError as error:
        raise InvalidApplicationError(
            "spec", f"{error} (at most {MAX_DEPTH} levels of nested maps and lists)"
        ) from None
    if spec.get("sources") is not None:
        raise InvalidApplicationError(
            "spec.sources", "multiple sources are not supported by fleet; use spec.source"
        )
    policy = _object(spec.get("syncPolicy"), "spec.syncPolicy")
    automated_value = policy.get("automated")
    automated = _object(automated_value, "spec.syncPolicy.automated")
    enabled = automated.get("enabled")
    is_automated = automated_value is not None and enabled is not False
    if enabled is not None:
        _bool(enabled, "spec.syncPolicy.automated.enabled")
    _check_sync_policy(policy, automated)
    _check_ignore_differences(spec.get("ignoreDifferences"))
    return Application(
        name=name,
        namespace=_string(meta.get("namespace"), "metadata.namespace"),
        project=_string(spec.get("project"), "spec.project") or DEFAULT_PROJECT,
        source=_source(spec.get("source")),
        destination=_destination(spec.get("destination")),
        automated=is_automated,
        prune=_bool(automated.get("prune"), "spec.syncPolicy.automated.prune"),
        self_heal=_bool(automated.get("selfHeal"), "spec.syncPolicy.automated.selfHeal"),
        raw=obj,
    )


def generated_refusal(app_doc: Mapping[str, Any]) -> str | None:
    """Why the hub would refuse an Application an ApplicationSet generated, or None.

    One wording for both places that decide it: the ApplicationSet controller (which then
    creates no such Application and reports the message) and `fleet appset render` (which then
    prints nothing and exits 2), so a render that passes is one the hub accepts. The checks are
    the Application CRD's required fields, in Argo CD's CRD as in fleet's: a project, a source
    (one `source` with a repoURL, or Argo CD's `sources`), a destination naming exactly one of
    server or name. Anything else wrong is the Application controller's to report on the
    Application (InvalidSpecError), as in Argo CD."""
    raw_meta = app_doc.get("metadata")
    name = str((raw_meta if isinstance(raw_meta, Mapping) else {}).get("name") or "")
    spec = app_doc.get("spec")
    if not isinstance(spec, Mapping):
        return f"Application {name}: spec: required object"
    if not spec.get("project"):
        return f"Application {name}: spec.project: required (name the Project, e.g. default)"
    try:
        if spec.get("sources") is None:
            _source(spec.get("source"))
        _destination(spec.get("destination"))
    except InvalidApplicationError as error:
        return f"Application {name}: {error}"
    return None


def _server_key(server: str) -> str:
    return server.strip().rstrip("/")


def resolve_destination(
    app: Application, clusters: Iterable[tuple[str, str]], *, in_cluster_enabled: bool = True
) -> str:
    """The registered cluster's name the destination means; `clusters` are (name, server).

    By name when the destination has one, else by server URL (a trailing `/` ignored on both
    sides). Raises UnknownDestinationError when no cluster (or more than one by name) fits.
    The hub itself (`in-cluster`, https://kubernetes.default.svc) is among `clusters` when the
    registry serves it; with `in_cluster_enabled` False it is refused with Argo CD's message
    for a disabled in-cluster, even when a Secret registers that URL (as Argo CD does).
    """
    known = list(clusters)
    dest = app.destination
    if not in_cluster_enabled:
        known = [(n, s) for n, s in known if _server_key(s) != IN_CLUSTER_SERVER]
        if dest.server and _server_key(dest.server) == IN_CLUSTER_SERVER:
            raise UnknownDestinationError(
                f'cluster "{IN_CLUSTER_SERVER}" is disabled (the controller runs with'
                " --no-in-cluster)"
            )
    if dest.name:
        named = [name for name, _ in known if name == dest.name]
        if not named:
            hint = ""
            if dest.name == IN_CLUSTER_NAME and not in_cluster_enabled:
                hint = " (in-cluster is disabled: the controller runs with --no-in-cluster)"
            raise UnknownDestinationError(f"cluster '{dest.name}' has not been configured{hint}")
        if len(named) > 1:
            raise UnknownDestinationError(
                f"there are {len(named)} clusters with the same name: {dest.name}"
            )
        return named[0]
    wanted = _server_key(dest.server)
    for name, server in known:
        if _server_key(server) == wanted:
            return name
    raise UnknownDestinationError(f"there are no clusters with this URL: {dest.server}")


def to_fleet(app_doc: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of `app_doc`, moved from Argo CD's group to fleet's if it was in Argo CD's.

    The generators produce Argo CD Applications from Argo CD ApplicationSets; the controller
    stores them as fleet Applications. Nothing but `apiVersion` changes.
    """
    out: dict[str, Any] = copy.deepcopy(dict(app_doc))
    if out.get("apiVersion") == ARGO_API_VERSION:
        out["apiVersion"] = API_VERSION
    return out
