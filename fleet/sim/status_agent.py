"""Writes the settled status of workloads, standing in for the controller-manager.

Nothing runs pods in the simulator, so without this every Deployment would stay unavailable
forever (and every hook Job or Pod would run forever). A short while (`delay`) after a
workload is created or changed its status becomes the one
`fleet.sim.workload_status.settled_status` gives, or the failing one when the workload is
annotated `fleet.gitops.dev/sim-fail: "true"`. The status is written through the status
subresource as manager `kube-controller-manager`, so watches and managedFields see it as they
would on a real cluster.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable, Mapping
from typing import Any

import structlog

from fleet.sim.api import ClusterAPI, WriteOptions
from fleet.sim.errors import ApiError
from fleet.sim.store import Event, ObjKey, meta

JSON = dict[str, Any]
StatusFn = Callable[[Mapping[str, Any], bool], "JSON | None"]
SettledFn = Callable[[Mapping[str, Any], Mapping[str, Any]], bool]

FAIL_ANNOTATION = "fleet.gitops.dev/sim-fail"
WORKLOADS = frozenset(
    {
        "deployments.apps",
        "statefulsets.apps",
        "daemonsets.apps",
        "replicasets.apps",
        "jobs.batch",
        "pods.",
        "horizontalpodautoscalers.autoscaling",
    }
)
MANAGER = "kube-controller-manager"

log = structlog.get_logger(__name__)
_loaded: tuple[StatusFn, SettledFn] | None = None
_missing = False


def _equal_status(obj: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    return obj.get("status") == desired


def default_functions() -> tuple[StatusFn, SettledFn] | None:
    """`workload_status.settled_status` and its comparison, imported on first use.

    Imported lazily so the simulator works (without a status agent) where the module is absent.
    """
    global _loaded, _missing
    if _loaded is None and not _missing:
        try:
            module = importlib.import_module("fleet.sim.workload_status")
        except ImportError:
            _missing = True
            log.warning("sim.status_agent.disabled", reason="fleet.sim.workload_status missing")
            return None
        settled = module.settled_status

        def status_fn(obj: Mapping[str, Any], failing: bool) -> JSON | None:
            result: JSON | None = settled(obj, failing=failing)
            return result

        _loaded = (status_fn, getattr(module, "status_is_settled", _equal_status))
    return _loaded


def is_failing(obj: Mapping[str, Any]) -> bool:
    annotations = meta(dict(obj)).get("annotations") or {}
    return str(annotations.get(FAIL_ANNOTATION, "")).lower() == "true"


class StatusAgent:
    def __init__(
        self,
        api: ClusterAPI,
        delay: float,
        functions: tuple[StatusFn, SettledFn] | None = None,
    ) -> None:
        self.api = api
        self.delay = delay
        self._functions = functions
        self._timers: dict[ObjKey, asyncio.TimerHandle] = {}
        api.store.listeners.append(self._on_event)

    def _on_event(self, event: Event) -> None:
        if event.gr not in WORKLOADS:
            return
        key = (event.gr, event.namespace, meta(event.obj).get("name", ""))
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        if event.type == "DELETED" or meta(event.obj).get("deletionTimestamp"):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._timers[key] = loop.call_later(self.delay, self.settle, key)

    def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    def settle(self, key: ObjKey) -> None:
        self._timers.pop(key, None)
        functions = self._functions or default_functions()
        obj = self.api.store.get(*key)
        if functions is None or obj is None:
            return
        status_fn, settled_fn = functions
        desired = status_fn(obj, is_failing(obj))
        if desired is None or settled_fn(obj, desired):
            return
        gr, namespace, name = key
        rt = next((t for t in self.api.registry.all_types() if t.gr == gr), None)
        if rt is None:
            return
        body = {**obj, "status": desired}
        try:
            self.api.update(
                rt, namespace, name, body, WriteOptions(manager=MANAGER, subresource="status")
            )
        except ApiError as exc:  # raced with a delete: nothing to settle any more
            log.debug("sim.status_agent.skip", key=key, error=exc.message)
