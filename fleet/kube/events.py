"""Kubernetes Events (core/v1) on hub objects: what `kubectl describe` and `kubectl get events`
show an operator.

Why: some problems have no status to live in (an Argo CD cluster Secret has none) or are worth
a dated record beside the status (a Cluster's server changed). Best effort: an Event that cannot
be written is logged at debug level and never fails the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from kubernetes_asyncio.client import ApiClient

from fleet.kube.calls import request_json
from fleet.kube.errors import KubeError

log = structlog.get_logger("fleet.kube.events")

COMPONENT = "fleet-controller"
MAX_MESSAGE = 1024
"""The API server refuses longer Event messages."""


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """The object an Event is about."""

    kind: str
    name: str
    namespace: str
    api_version: str = "v1"
    uid: str = ""


async def record_event(
    api: ApiClient,
    ref: ObjectRef,
    reason: str,
    message: str,
    *,
    warning: bool = True,
    timeout: float = 10.0,
) -> None:
    """Create one Event on `ref` (type Warning unless `warning` is False)."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    involved = {
        "kind": ref.kind,
        "name": ref.name,
        "namespace": ref.namespace,
        "apiVersion": ref.api_version,
    }
    if ref.uid:
        involved["uid"] = ref.uid
    body = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{ref.name}.", "namespace": ref.namespace},
        "involvedObject": involved,
        "reason": reason,
        "message": message[:MAX_MESSAGE],
        "type": "Warning" if warning else "Normal",
        "source": {"component": COMPONENT},
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }
    try:
        await request_json(
            api, "POST", f"/api/v1/namespaces/{ref.namespace}/events", body=body, timeout=timeout
        )
    except KubeError as error:
        log.debug("event.write_failed", object=ref.name, reason=reason, error=error.reason)
