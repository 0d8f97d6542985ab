"""The scenario's steps: CRDs, `fleet cluster add`, the ApplicationSet, waiting for convergence.

Every step talks to the hub and the members only through what a user has: kubeconfigs, the
`fleet` command line and the hub's API. Nothing here knows whether the clusters are kind
clusters or bare kube-apiservers.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import structlog

from e2e.scenario.repo import APPS, BRANCH
from fleet.api.crds import install_crds
from fleet.api.resources import API_VERSION, APPLICATION_SET
from fleet.clusters.hub import hub_client
from fleet.kube import request_json

log = structlog.get_logger("fleet.e2e.scenario")

Obj = dict[str, Any]
SELECTOR_LABEL = "fleet.gitops.dev/e2e"
"""Every member the scenario registers carries this label = "true"; the ApplicationSet's
cluster generator selects on it (plus nothing else), so other registered clusters are left out."""
FIELD_MANAGER = "fleet-e2e-scenario"
CLI_TIMEOUT = 120.0
POLL_INTERVAL = 1.0


class ScenarioError(RuntimeError):
    """A step of the scenario failed; the message names the step and what it saw."""


class ScenarioTimeout(ScenarioError):
    """The Applications did not all become Synced and Healthy in time."""


@dataclass(frozen=True)
class MemberSpec:
    """A member cluster: its name on the hub, a kubeconfig whose server the controller reaches
    (and the machine running the scenario, which probes it in `fleet cluster add`), its labels."""

    name: str
    kubeconfig: Path
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ScenarioConfig:
    hub_kubeconfig: Path
    members: Sequence[MemberSpec]
    repo_url: str
    """The example config repository as the controller reaches it."""
    namespace: str = "fleet-system"
    """The hub namespace the controller watches."""
    dest_namespace: str = "fleet-e2e"
    """The namespace every Application deploys into on its member (created by the sync)."""
    revision: str = BRANCH
    expected_revision: str | None = None
    """When set, an Application only counts as converged once it is Synced at this commit."""
    install_crds: bool = False
    appset_name: str = "fleet-e2e"
    timeout: float = 300.0
    fleet_command: Sequence[str] = (sys.executable, "-m", "fleet.cli")
    """How to run the `fleet` command line (the installed `fleet` script works as well)."""


def expected_applications(config: ScenarioConfig) -> set[str]:
    """The Application names the ApplicationSet generates: `<app>-<member>`."""
    return {f"{app}-{member.name}" for app in APPS for member in config.members}


def application_set(config: ScenarioConfig) -> Obj:
    """members (by label) x git directories `apps/*`, automated sync with prune and self-heal."""
    return {
        "apiVersion": API_VERSION,
        "kind": "ApplicationSet",
        "metadata": {"name": config.appset_name, "namespace": config.namespace},
        "spec": {
            "goTemplate": False,
            "generators": [
                {
                    "matrix": {
                        "generators": [
                            {"clusters": {"selector": {"matchLabels": {SELECTOR_LABEL: "true"}}}},
                            {
                                "git": {
                                    "repoURL": config.repo_url,
                                    "revision": config.revision,
                                    "directories": [{"path": "apps/*"}],
                                }
                            },
                        ]
                    }
                }
            ],
            "template": {
                "metadata": {"name": "{{path.basename}}-{{name}}"},
                "spec": {
                    "project": "default",
                    "source": {
                        "repoURL": config.repo_url,
                        "targetRevision": config.revision,
                        "path": "{{path}}",
                    },
                    "destination": {"name": "{{name}}", "namespace": config.dest_namespace},
                    "syncPolicy": {
                        "automated": {"prune": True, "selfHeal": True},
                        "syncOptions": ["CreateNamespace=true"],
                    },
                },
            },
        },
    }


async def _fleet(config: ScenarioConfig, *args: str) -> str:
    """Run the real `fleet` command line; its stdout, or ScenarioError with its stderr."""
    command = [*config.fleet_command, *args]
    try:
        with anyio.fail_after(CLI_TIMEOUT):
            done = await anyio.run_process(command, check=False)
    except TimeoutError:
        raise ScenarioError(
            f"`fleet {' '.join(args)}` did not finish in {CLI_TIMEOUT:g} s"
        ) from None
    if done.returncode != 0:
        raise ScenarioError(
            f"`fleet {' '.join(args)}` exited {done.returncode}: "
            f"{done.stderr.decode(errors='replace').strip()[-2000:]}"
        )
    return done.stdout.decode(errors="replace")


async def register_members(config: ScenarioConfig) -> None:
    """`fleet cluster add NAME --kubeconfig K --label ...` for every member."""
    for member in config.members:
        labels = {SELECTOR_LABEL: "true", **dict(member.labels)}
        flags = [f"--label={key}={value}" for key, value in sorted(labels.items())]
        out = await _fleet(
            config,
            "cluster",
            "add",
            member.name,
            "--kubeconfig",
            str(member.kubeconfig),
            *flags,
            "--hub-kubeconfig",
            str(config.hub_kubeconfig),
            "--namespace",
            config.namespace,
        )
        log.info("scenario.member_registered", member=member.name, output=out.strip())


async def apply_application_set(config: ScenarioConfig) -> None:
    """Server-side apply, as `kubectl apply --server-side` would: no read-modify-write race with
    the controller's status writes, and running the scenario twice is harmless."""
    doc = application_set(config)
    async with hub_client(config.hub_kubeconfig) as hub:
        await request_json(
            hub,
            "PATCH",
            APPLICATION_SET.item(config.namespace, config.appset_name),
            body=doc,
            query={"fieldManager": FIELD_MANAGER, "force": "true"},
            content_type="application/apply-patch+yaml",
            timeout=30.0,
        )
    log.info("scenario.appset_applied", name=config.appset_name, namespace=config.namespace)


def laggard(app: Mapping[str, Any] | None, expected_revision: str | None) -> str | None:
    """Why an Application is not yet converged, or None when it is Synced and Healthy."""
    if app is None:
        return "not generated yet"
    status = app.get("status") or {}
    sync = status.get("sync") or {}
    health = (status.get("health") or {}).get("status")
    revision_ok = expected_revision is None or sync.get("revision") == expected_revision
    if sync.get("status") == "Synced" and health == "Healthy" and revision_ok:
        return None
    conditions = [
        f"{c.get('type')}: {c.get('message', '')}".strip() for c in status.get("conditions") or []
    ]
    operation = (status.get("operationState") or {}).get("message")
    parts = [
        f"sync={sync.get('status') or '-'}",
        f"revision={str(sync.get('revision') or '-')[:12]}",
        f"health={health or '-'}",
    ]
    if conditions:
        parts.append(f"conditions=[{'; '.join(conditions)}]")
    if operation:
        parts.append(f"operation={operation}")
    return " ".join(parts)


async def list_applications(config: ScenarioConfig) -> dict[str, Obj]:
    """The hub's Applications, read the way a user does: `fleet app list -o json`."""
    out = await _fleet(
        config,
        "app",
        "list",
        "-o",
        "json",
        "--hub-kubeconfig",
        str(config.hub_kubeconfig),
        "--namespace",
        config.namespace,
    )
    try:
        items = json.loads(out).get("items") or []
    except (ValueError, AttributeError) as error:
        raise ScenarioError(f"`fleet app list -o json` printed no JSON object: {error}") from None
    return {item["metadata"]["name"]: item for item in items}


async def wait_converged(config: ScenarioConfig) -> dict[str, Obj]:
    """Poll until every expected Application is Synced and Healthy; ScenarioTimeout names each
    laggard with its sync, health, conditions and last operation message."""
    expected = expected_applications(config)
    apps: dict[str, Obj] = {}
    try:
        with anyio.fail_after(config.timeout):
            while True:
                apps = await list_applications(config)
                waiting = [n for n in expected if laggard(apps.get(n), config.expected_revision)]
                if not waiting:
                    return {name: apps[name] for name in sorted(expected)}
                await anyio.sleep(POLL_INTERVAL)
    except TimeoutError:
        lines = [
            f"  {name}: {reason}"
            for name in sorted(expected)
            if (reason := laggard(apps.get(name), config.expected_revision))
        ]
        raise ScenarioTimeout(
            f"{len(lines)} of {len(expected)} Applications in {config.namespace} not Synced "
            f"and Healthy after {config.timeout:g} s:\n" + "\n".join(lines)
        ) from None


async def run_scenario(config: ScenarioConfig) -> dict[str, Obj]:
    """The whole scenario; returns the converged Applications by name."""
    if not config.members:
        raise ScenarioError("the scenario needs at least one member cluster")
    if config.install_crds:
        async with hub_client(config.hub_kubeconfig) as hub:
            await install_crds(hub, timeout=60.0)
        log.info("scenario.crds_installed")
    await register_members(config)
    await apply_application_set(config)
    apps = await wait_converged(config)
    log.info("scenario.converged", applications=sorted(apps))
    return apps
