"""`fleet appset diff`: what applying an ApplicationSet file would do to the hub, for a PR review.

The online sibling of `fleet appset render`: the file's ApplicationSet(s) are expanded with the
hub's registered clusters and git (local `--repo` copies, or fetched with the hub's repository
Secrets), compared with the Applications on the hub that carry its label, and the controller's
own plan is printed: creates, updates (field by field), deletes, deletions the budget would hold
back, and deletions frozen because the expansion is incomplete. Read-only: nothing is written.

Exit status: 0 when the plan was computed (changes or not), 2 for bad input (one line naming the
file or field), 1 when the hub cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import anyio
import yaml
from kubernetes_asyncio.client import ApiClient

from fleet.api.cluster import InvalidClusterError, parse_cluster
from fleet.api.group import FLEET, ApiFlavour, flavour
from fleet.api.resources import APPSET_LABEL, DEFAULT_NAMESPACE
from fleet.appset_render import InputError, parse_repo_mappings, read_text
from fleet.clusters.credentials import (
    ARGOCD_SECRET_TYPE_LABEL,
    CredentialsError,
    parse_argocd_secret,
)
from fleet.clusters.generator_input import generator_clusters
from fleet.controllers.appset import (
    BUDGET_ANNOTATION,
    FROZEN_NOTE,
    AppSetSettings,
    ClustersUnavailable,
    Generated,
    generate,
)
from fleet.controllers.appset_plan import Plan, PlanError, deletion_budget, plan
from fleet.controllers.repos import RepoHub
from fleet.kube import KubeError, NotFound, request_json
from fleet.redaction import redact
from generators.base import Cluster
from generators.repos import LocalRepoResolver, RepoResolver
from generators.yamlio import describe_yaml_error, load_all

EXIT_OK = 0
EXIT_HUB = 1
EXIT_INPUT = 2
REPO_SECRET_SELECTOR = "argocd.argoproj.io/secret-type in (repository,repo-creds)"


class HubError(Exception):
    """The hub could not be read (exit status 1)."""


def run_appset_diff(args: argparse.Namespace) -> int:
    from fleet.clusters.credentials import CredentialsError
    from fleet.clusters.hub import hub_client

    async def go() -> int:
        try:
            api = hub_client(args.hub_kubeconfig, args.hub_context)
        except CredentialsError as error:
            print(f"fleet: {error}", file=sys.stderr)
            return EXIT_INPUT
        api_flavour = flavour(str(getattr(args, "api", None) or "fleet"))
        async with api:
            return await appset_diff(
                args.appset,
                hub=api,
                namespace=args.namespace or api_flavour.namespace,
                flavour=api_flavour,
                repo_mappings=args.repo,
                output=args.output,
            )

    return anyio.run(go)


async def appset_diff(
    appset_path: str,
    *,
    hub: ApiClient,
    namespace: str = DEFAULT_NAMESPACE,
    repo_mappings: Sequence[str] = (),
    output: str = "text",
    settings: AppSetSettings | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    flavour: ApiFlavour = FLEET,
) -> int:
    """The whole command on an open hub client; returns the exit status. `flavour`: whose
    ApplicationSets and Applications (fleet's, or Argo CD's as `--api argocd` serves them)."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    settings = settings or AppSetSettings()
    try:
        documents = _documents(appset_path)
        mappings = parse_repo_mappings(repo_mappings)
    except InputError as error:
        print(f"fleet: {redact(str(error))}", file=err)
        return EXIT_INPUT
    try:
        clusters, clusters_error = await _hub_clusters(hub, namespace, flavour)
        results: list[tuple[Generated, Plan, dict[str, Any]]] = []
        with tempfile.TemporaryDirectory(prefix="fleet-appset-diff-") as cache_dir:
            for index, document in enumerate(documents):
                source = appset_path if len(documents) == 1 else f"{appset_path}[{index}]"
                results.append(
                    await _one(
                        document,
                        source,
                        hub,
                        namespace,
                        clusters,
                        clusters_error,
                        mappings,
                        settings,
                        Path(cache_dir),
                        flavour,
                    )
                )
    except InputError as error:
        print(f"fleet: {redact(str(error))}", file=err)
        return EXIT_INPUT
    except HubError as error:
        print(f"fleet: {redact(str(error))}", file=err)
        return EXIT_HUB
    if output == "json":
        text = json.dumps({"applicationSets": [r[2] for r in results]}, indent=2) + "\n"
    else:
        text = "".join(_text(generated, the_plan, info) for generated, the_plan, info in results)
    out.write(redact(text))  # for pull-request review: CI logs must not get a repoURL's password
    return EXIT_OK


def _documents(path: str) -> list[dict[str, Any]]:
    try:
        documents = load_all(read_text(path))
    except yaml.YAMLError as error:
        raise InputError(f"{path}: {describe_yaml_error(error)}") from error
    if not documents:
        raise InputError(f"{path}: no ApplicationSet in the file")
    for index, document in enumerate(documents):
        if not isinstance(document, Mapping):
            raise InputError(f"{path}[{index}]: expected an ApplicationSet mapping")
    return [dict(d) for d in documents]


async def _get(hub: ApiClient, path: str, query: Mapping[str, str] | None = None) -> Any:
    try:
        return await request_json(hub, "GET", path, query=query, timeout=15.0)
    except KubeError as error:
        raise HubError(f"hub: GET {path}: {error.message or error.reason}") from error


async def _hub_clusters(
    hub: ApiClient, namespace: str, flavour: ApiFlavour = FLEET
) -> tuple[list[Cluster], str | None]:
    if flavour.cluster is None:
        return await _argocd_clusters(hub, namespace)
    listing = await _get(hub, flavour.cluster.collection(namespace))
    parsed = []
    for item in listing.get("items") or []:
        try:
            parsed.append(parse_cluster(item))
        except InvalidClusterError as error:
            name = (item.get("metadata") or {}).get("name", "?")
            # A skipped cluster would read as "its Application goes away": freeze instead.
            return [], f"Cluster {name} on the hub is invalid: {error}"
    return generator_clusters(parsed), None


async def _argocd_clusters(hub: ApiClient, namespace: str) -> tuple[list[Cluster], str | None]:
    """Argo CD mode: the clusters of the cluster Secrets (there is no Cluster kind)."""
    query = {"labelSelector": f"{ARGOCD_SECRET_TYPE_LABEL}=cluster"}
    listing = await _get(hub, f"/api/v1/namespaces/{namespace}/secrets", query)
    out: list[Cluster] = []
    for item in listing.get("items") or []:
        secret_name = (item.get("metadata") or {}).get("name", "?")
        try:
            creds = parse_argocd_secret(item, require_auth=False)
        except CredentialsError as error:
            # A skipped cluster would read as "its Application goes away": freeze instead.
            return [], f"cluster Secret {secret_name} on the hub is invalid: {error}"
        out.append(
            Cluster(
                name=creds.name or secret_name,
                server=creds.server or "",
                labels=dict(creds.labels),
                annotations=dict(creds.annotations),
                project=creds.project,
            )
        )
    return sorted(out, key=lambda c: c.name), None


async def _one(
    document: dict[str, Any],
    source: str,
    hub: ApiClient,
    namespace: str,
    clusters: list[Cluster],
    clusters_error: str | None,
    mappings: Mapping[str, str],
    settings: AppSetSettings,
    cache_dir: Path,
    flavour: ApiFlavour = FLEET,
) -> tuple[Generated, Plan, dict[str, Any]]:
    name = str((document.get("metadata") or {}).get("name") or "")
    live_appset: dict[str, Any] | None = None
    if name:
        try:
            live_appset = await request_json(
                hub, "GET", flavour.application_set.item(namespace, name), timeout=15.0
            )
        except NotFound:
            live_appset = None
        except KubeError as error:
            raise HubError(
                f"hub: ApplicationSet {name}: {error.message or error.reason}"
            ) from error
    document = {**document, "metadata": dict(document.get("metadata") or {})}
    if live_appset is not None:
        document["metadata"]["uid"] = live_appset["metadata"].get("uid")

    def cluster_list() -> list[Cluster]:
        if clusters_error is not None:
            raise ClustersUnavailable(clusters_error)
        return clusters

    async def resolve(urls: Sequence[str]) -> tuple[RepoResolver, dict[str, str]]:
        if mappings:
            return LocalRepoResolver(mappings), {}
        from fleet.controllers.appset import fetch_repositories
        from fleet.git.cache import RepoCache

        secrets = (
            await _get(
                hub,
                f"/api/v1/namespaces/{namespace}/secrets",
                {"labelSelector": REPO_SECRET_SELECTOR},
            )
        ).get("items") or []
        async with RepoCache(cache_dir / "repos") as cache:
            return await fetch_repositories(RepoHub(cache, lambda: secrets), urls)

    generated = await generate(
        document,
        namespace=namespace,
        clusters=cluster_list,
        resolve=resolve,
        settings=settings,
        source=source,
        flavour=flavour,
    )
    if generated.invalid is not None:
        raise InputError(generated.invalid)
    listing = await _get(
        hub,
        flavour.application.collection(namespace),
        {"labelSelector": f"{APPSET_LABEL}={name}"},
    )
    existing = list(listing.get("items") or [])
    annotations = (document.get("metadata") or {}).get("annotations") or {}
    budget_spec = annotations.get(BUDGET_ANNOTATION)
    problems = list(generated.problems)
    try:
        budget = deletion_budget(budget_spec, len(existing), settings.deletion_budget)
    except PlanError as error:
        raise InputError(
            f"{source}: metadata.annotations[{BUDGET_ANNOTATION!r}]: {error}"
        ) from None
    the_plan = plan(
        generated.desired,
        existing,
        policy=generated.policy,
        complete=not problems,
        budget=budget,
        preserved_annotations=generated.preserved_annotations,
        preserved_labels=generated.preserved_labels,
        ignore=generated.ignore,
    )
    info = _info(
        name,
        namespace,
        generated,
        the_plan,
        budget,
        budget_spec or settings.deletion_budget,
        len(existing),
    )
    return generated, the_plan, info


def _app_name(app: Mapping[str, Any]) -> str:
    return str((app.get("metadata") or {}).get("name") or "")


def _destination(app: Mapping[str, Any]) -> str:
    destination = (app.get("spec") or {}).get("destination") or {}
    where = destination.get("name") or destination.get("server") or "?"
    namespace = destination.get("namespace")
    return f"{where}/{namespace}" if namespace else str(where)


def _info(
    name: str,
    namespace: str,
    generated: Generated,
    the_plan: Plan,
    budget: int,
    budget_spec: str,
    existing: int,
) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": namespace,
        "policy": generated.policy,
        "complete": not generated.problems,
        "problems": list(generated.problems),
        "create": [{"name": _app_name(a), "destination": _destination(a)} for a in the_plan.create],
        "update": [
            {
                "name": _app_name(a),
                "changes": [{"path": c.path, "old": c.old, "new": c.new} for c in changes],
            }
            for a, changes in the_plan.update
        ],
        "delete": [_app_name(a) for a in the_plan.delete],
        "held": [_app_name(a) for a in the_plan.held],
        "frozen": [_app_name(a) for a in the_plan.frozen],
        "skipped": [{"name": _app_name(a), "reason": why} for a, why in the_plan.skipped],
        "unchanged": [_app_name(a) for a in the_plan.unchanged],
        "budget": {"spec": budget_spec, "allowed": budget, "of": existing},
        "warnings": list(generated.warnings),
    }


def _value(value: Any) -> str:
    return "<none>" if value is None else json.dumps(value, sort_keys=True)


def _text(generated: Generated, the_plan: Plan, info: Mapping[str, Any]) -> str:
    lines = [
        f"ApplicationSet {info['name']} (namespace {info['namespace']}, policy {info['policy']}): "
        f"{len(the_plan.create)} to create, {len(the_plan.update)} to update, "
        f"{len(the_plan.delete)} to delete, {len(the_plan.held)} held back, "
        f"{len(the_plan.frozen)} kept, {len(the_plan.unchanged)} unchanged"
    ]
    for problem in generated.problems:
        lines.append(f"! error: {problem}")
    for app in the_plan.create:
        lines.append(f"+ {_app_name(app)} ({_destination(app)})")
    for app, changes in the_plan.update:
        lines.append(f"~ {_app_name(app)}")
        for change in changes:
            lines.append(f"    {change.path}: {_value(change.old)} -> {_value(change.new)}")
    for app in the_plan.delete:
        lines.append(f"- {_app_name(app)}")
    budget = info["budget"]
    for app in the_plan.held:
        lines.append(
            f"= {_app_name(app)} would be held back by the deletion budget ({budget['spec']}: "
            f"{budget['allowed']} of {budget['of']} per window) and deleted in a later window"
        )
    for app in the_plan.frozen:
        lines.append(
            f"= {_app_name(app)} would be kept because the expansion is incomplete: {FROZEN_NOTE}"
        )
    for app, why in the_plan.skipped:
        lines.append(f"= {_app_name(app)} left alone: {why}")
    return "\n".join(lines) + "\n"
