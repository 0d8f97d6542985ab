"""`fleet app diff`: what a sync would change, as `argocd app diff` shows it.

The desired manifests come from `fleet.controllers.desired.desired_state` (the controller's own
resolve + render), the comparison from the sync engine (server-side dry-run apply vs live), so the
diff is exactly what the controller would apply: fields the API server defaults or other managers
own never show up as drift. Both sides are normalized with `fleet.sync.diff.normalize`
(managedFields, resourceVersion, uid, creationTimestamp, generation and status removed; the
Application's ignoreDifferences applied) and Secret values are masked, so no credential is
ever printed.
"""

from __future__ import annotations

import difflib
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from kubernetes_asyncio.client import ApiClient

from fleet.api.application import (
    InvalidApplicationError,
    UnknownDestinationError,
    parse_application,
    resolve_destination,
)
from fleet.api.cluster import Cluster, InvalidClusterError, parse_cluster
from fleet.api.project import (
    DEFAULT_PROJECT,
    InvalidProjectError,
    default_project,
    parse_project,
)
from fleet.appcli.errors import EXIT_FAILED, CliError
from fleet.appcli.hub import TIMEOUT, api, get_application, hub_error
from fleet.clusters.credentials import (
    ARGOCD_SECRET_TYPE_LABEL,
    CredentialsError,
    ExecProvider,
    SecretCredentials,
    parse_argocd_secret,
    parse_secret,
    to_credentials,
)
from fleet.controllers.desired import DesiredStateError, desired_state
from fleet.controllers.repos import RepoHub
from fleet.git.cache import RepoCache
from fleet.git.secrets import REPO_CREDS, REPOSITORY, SECRET_TYPE_LABEL
from fleet.kube import (
    Credentials,
    Forbidden,
    KubeError,
    NotFound,
    Unreachable,
    build_api_client,
    request_json,
)
from fleet.render import RenderReach, RenderTools
from fleet.render.tools import DEFAULT_BIN_DIR
from fleet.sync.diff import normalize
from fleet.sync.engine import Comparison, Planned, SyncEngine
from fleet.sync.inventory import Key
from fleet.sync.spec import AppSpec
from fleet.sync.tracking import COMPARE_OPTIONS, options

Obj = dict[str, Any]
RENDER_BIN_ENV = "FLEET_RENDER_BIN_DIR"
MASK = "++++++++"


# -- destination ------------------------------------------------------------------------------


async def _hub_get(
    hub: ApiClient, path: str, what: str, query: Mapping[str, str] | None = None
) -> Any:
    try:
        return await request_json(hub, "GET", path, query=query, timeout=TIMEOUT)
    except KubeError as error:
        raise hub_error(error, what) from None


async def _member_credentials(
    creds: SecretCredentials, server: str, insecure: bool | None
) -> Credentials:
    provider = ExecProvider(creds.exec) if creds.exec else None
    exec_credential = await provider.credential() if provider is not None else None
    return to_credentials(
        creds, server, insecure=insecure, exec_provider=provider, exec_credential=exec_credential
    )


async def _registered(
    hub: ApiClient, namespace: str
) -> dict[str, tuple[str, Mapping[str, Any], Cluster | None]]:
    """name -> (server, Secret-or-Cluster object, parsed Cluster): fleet Clusters first, then
    Argo CD cluster Secrets (as the controller's registry sees them)."""
    found: dict[str, tuple[str, Mapping[str, Any], Cluster | None]] = {}
    cluster_kind = api().cluster
    listing = (
        await _hub_get(hub, cluster_kind.collection(namespace), "list clusters")
        if cluster_kind is not None
        else {}
    )
    for obj in (listing or {}).get("items") or []:
        try:
            cluster = parse_cluster(obj)
        except InvalidClusterError:
            continue
        found[cluster.name] = (cluster.spec.server, obj, cluster)
    secrets = await _hub_get(
        hub,
        f"/api/v1/namespaces/{namespace}/secrets",
        "list cluster secrets",
        {"labelSelector": f"{ARGOCD_SECRET_TYPE_LABEL}=cluster"},
    )
    for secret in (secrets or {}).get("items") or []:
        try:
            creds = parse_argocd_secret(secret)
        except CredentialsError:
            continue
        name = creds.name or creds.server or ""
        if name and name not in found:
            found[name] = (creds.server or "", secret, None)
    return found


async def destination(
    hub: ApiClient, namespace: str, app: Mapping[str, Any]
) -> tuple[str, Credentials]:
    """The registered cluster `spec.destination` means (`resolve_destination`, the
    controller's rule) and how to reach it: a fleet Cluster and its Secret, or an Argo CD
    cluster Secret."""
    app_name = str((app.get("metadata") or {}).get("name", ""))
    try:
        parsed = parse_application(app)
    except InvalidApplicationError as error:
        raise CliError(f"application {app_name!r}: {error}") from None
    registered = await _registered(hub, namespace)
    try:
        name = resolve_destination(parsed, [(n, s) for n, (s, _, _) in registered.items()])
    except UnknownDestinationError as error:
        raise CliError(
            f"application {app_name!r}: {error} in namespace {namespace} (`fleet cluster list`)"
        ) from None
    server, source, cluster = registered[name]
    if cluster is None:  # an Argo CD cluster Secret
        try:
            return name, await _member_credentials(parse_argocd_secret(source), server, None)
        except CredentialsError as error:
            raise CliError(f"cluster {name!r}: {error}") from None
    ref = cluster.spec.secret_ref
    secret_path = f"/api/v1/namespaces/{namespace}/secrets/{ref.name}"
    try:
        secret = await request_json(hub, "GET", secret_path, timeout=TIMEOUT)
    except NotFound:
        raise CliError(f"cluster {name!r}: secret {namespace}/{ref.name} not found") from None
    except KubeError as error:
        raise hub_error(error, f"cluster {name!r} secret") from None
    try:
        creds = parse_secret(secret, ref.key)
        return name, await _member_credentials(creds, server, cluster.spec.insecure)
    except CredentialsError as error:
        raise CliError(f"cluster {name!r} secret {ref.name}: {error}") from None


async def _repository_secrets(hub: ApiClient, namespace: str) -> list[Mapping[str, Any]]:
    """Argo CD repository/repo-creds Secrets; none if the user may not list Secrets (public
    repositories still work)."""
    selector = f"{SECRET_TYPE_LABEL} in ({REPOSITORY},{REPO_CREDS})"
    try:
        listing = await request_json(
            hub,
            "GET",
            f"/api/v1/namespaces/{namespace}/secrets",
            query={"labelSelector": selector},
            timeout=TIMEOUT,
        )
    except Forbidden:
        return []
    except KubeError as error:
        raise hub_error(error, "list repository secrets") from None
    return list((listing or {}).get("items") or [])


# -- rendering the diff ----------------------------------------------------------------------


def _mask_secret(live: Obj | None, desired: Obj | None) -> None:
    """Replace Secret values by `+` runs (Argo CD's masking): equal values get the same mask,
    changed ones different lengths, so the diff still shows *which* keys change."""
    objs = [o for o in (live, desired) if o is not None]
    if not objs or objs[0].get("kind") != "Secret" or "/" in str(objs[0].get("apiVersion", "v1")):
        return
    for field in ("data", "stringData"):
        before = dict((live or {}).get(field) or {})
        after = dict((desired or {}).get(field) or {})
        if live is not None and before:
            live[field] = {key: MASK for key in before}
        if desired is not None and after:
            desired[field] = {
                key: MASK if before.get(key) == value else MASK + "+"
                for key, value in after.items()
            }
    for obj in objs:  # kubectl's last-applied copy would carry the values too
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None)


def _yaml(obj: Obj | None) -> list[str]:
    if obj is None:
        return []
    text = yaml.safe_dump(obj, sort_keys=True, default_flow_style=False)
    return [line + "\n" for line in text.splitlines()]


def object_diff(key: Key, live: Obj | None, desired: Obj | None) -> str:
    """`===== group/Kind namespace/name ======` and a unified diff of live -> desired YAML."""
    group, kind, namespace, name = key
    lines = list(
        difflib.unified_diff(_yaml(live), _yaml(desired), fromfile="live", tofile="desired")
    )
    if not lines:
        return ""
    return f"===== {group}/{kind} {namespace}/{name} ======\n" + "".join(lines)


async def _predicted(engine: SyncEngine, plan: Planned) -> Obj:
    """The object after fleet's apply (dry run); the stamped manifest when the dry run cannot
    tell (unknown kind, missing namespace, rejected object)."""
    if plan.resource is None:
        return plan.obj
    try:
        return await engine.predict(plan)
    except KubeError as error:
        if isinstance(error, Unreachable):
            raise
        return plan.obj


async def comparison_diff(engine: SyncEngine, comparison: Comparison) -> str:
    rules = engine.spec.ignore
    parts: list[tuple[Key, str]] = []
    for key, plan in comparison.plans.items():
        if not plan.out_of_sync:
            continue
        predicted = await _predicted(engine, plan)
        live = normalize(plan.live, rules, plan.live) if plan.live is not None else None
        desired = normalize(predicted, rules, plan.live)
        _mask_secret(live, desired)
        parts.append((key, object_diff(key, live, desired)))
    for key, (_res, obj) in comparison.extraneous.items():
        if "IgnoreExtraneous" in options(obj, COMPARE_OPTIONS):
            continue
        live = normalize(obj)
        _mask_secret(live, None)
        parts.append((key, object_diff(key, live, None)))
    return "".join(text for _, text in sorted(parts) if text)


async def project_reach(hub: ApiClient, namespace: str, app: Mapping[str, Any]) -> RenderReach:
    """What the controller lets this Application's render fetch: its Project's sourceRepos
    (Argo CD's implicit `default` Project when none is stored), so the diff renders exactly
    what the controller would, remote bases refused alike."""
    name = str((app.get("spec") or {}).get("project") or DEFAULT_PROJECT)
    try:
        raw = await request_json(hub, "GET", api().project.item(namespace, name), timeout=TIMEOUT)
    except NotFound:
        if name == DEFAULT_PROJECT:
            return RenderReach.of(default_project())
        raise CliError(f"project {name!r} of the application does not exist") from None
    except KubeError as error:
        raise hub_error(error, f"project {name!r}") from None
    try:
        return RenderReach.of(parse_project(raw))
    except InvalidProjectError as error:
        raise CliError(f"project {name!r}: {error}") from None


def render_tools(bin_dir: Path | None) -> RenderTools:
    configured = bin_dir or os.environ.get(RENDER_BIN_ENV) or DEFAULT_BIN_DIR
    return RenderTools.discover(configured)


async def live_diff(
    hub: ApiClient, namespace: str, name: str, *, render_bin_dir: Path | None = None
) -> str:
    """The whole diff text of Application `name` ("" when in sync)."""
    app = await get_application(hub, namespace, name)
    cluster, credentials = await destination(hub, namespace, app)
    repo_secrets = await _repository_secrets(hub, namespace)
    reach = await project_reach(hub, namespace, app)
    with tempfile.TemporaryDirectory(prefix="fleet-diff-") as workdir:
        async with RepoCache(Path(workdir) / "git") as cache:
            repos = RepoHub(cache, lambda: repo_secrets)
            try:
                desired = await desired_state(app, repos, render_tools(render_bin_dir), reach=reach)
            except DesiredStateError as error:
                raise CliError(f"application {name!r}: {error.reason}: {error}") from None
    try:
        async with build_api_client(credentials) as api:
            engine = SyncEngine(
                api, AppSpec.from_application(app), cluster=cluster, status=app.get("status")
            )
            comparison = await engine.compare(desired.manifests)
            return await comparison_diff(engine, comparison)
    except KubeError as error:
        raise _cluster_error(cluster, error) from None
    except BaseExceptionGroup as group:  # failures of the engine's concurrent per-object work
        matched, _rest = group.split(KubeError)
        if matched is None:
            raise
        raise _cluster_error(cluster, _first(matched)) from None


def _first(group: BaseExceptionGroup[KubeError]) -> KubeError:
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    assert isinstance(error, KubeError)
    return error


def _cluster_error(cluster: str, error: KubeError) -> CliError:
    if isinstance(error, Unreachable):
        return CliError(f"cluster {cluster!r} unreachable: {error.message}", EXIT_FAILED)
    return CliError(f"cluster {cluster!r}: {error.reason}: {error.message}", EXIT_FAILED)


__all__: Sequence[str] = ["comparison_diff", "destination", "live_diff", "object_diff"]
