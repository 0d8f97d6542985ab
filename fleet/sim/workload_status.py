"""The status a workload controller would write once a workload has settled.

There are no kubelets or controller-managers behind the simulator or the real-apiserver e2e
harness, so nothing would ever fill in `status` of a Deployment, StatefulSet, DaemonSet,
ReplicaSet or Job, and every health check would wait forever. This module says what that status
looks like when the controllers have finished: either healthy, or (``failing=True``) stuck in a way
that Argo CD's health rules (gitops-engine ``pkg/health``) report as Degraded where they can:

- Deployment: Available=True and Progressing=True (NewReplicaSetAvailable), every replica
  updated, ready and available. Failing: Progressing=False ProgressDeadlineExceeded and no replica
  available: Degraded.
- ReplicaSet: every replica available. Failing: ReplicaFailure=True FailedCreate: Degraded.
- Job: SuccessCriteriaMet and Complete, `succeeded` = completions. Failing: FailureTarget and
  Failed (BackoffLimitExceeded), `failed` = backoffLimit + 1: Degraded.
- StatefulSet: every replica ready, currentRevision == updateRevision. Failing: no replica ready.
  Argo CD has no Degraded rule for StatefulSets, so it reads Progressing (forever).
- DaemonSet: one node; desired, current, updated, ready and available are 1. Failing: nothing
  available; Progressing forever, as for StatefulSets.
- Pod (only one bound to no node: a Pod with `spec.nodeName` has a kubelet, or is a profile's
  mirror Pod): restartPolicy Never or OnFailure runs to the end, phase Succeeded with every
  container terminated with exit code 0 (failing: phase Failed, exit code 1), as a hook Pod
  does; restartPolicy Always runs, Ready (failing: CrashLoopBackOff, Degraded). A Pod in a
  terminal phase is never written again (the API server refuses leaving one).

The statuses pass the API server's status validation (checked against kube-apiserver 1.36 by
``tests/e2e_harness``): counters never exceed ``replicas``, a finished Job has ``startTime``,
the FailureTarget / SuccessCriteriaMet conditions its terminal condition requires, and keeps the
``startTime`` it already had.

It is pure (no I/O, no imports from the rest of fleet) so the in-process simulator and the
real-apiserver status agent (``e2e/realapi/status_agent.py``) share one definition of "settled".
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

SUPPORTED_KINDS = frozenset(
    {
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "ReplicaSet",
        "Job",
        "Pod",
        "HorizontalPodAutoscaler",
    }
)

# Default spec values the API server fills in; repeated here because `obj` may come from a
# manifest that was never defaulted (the simulator) as well as from the API server.
_DEFAULT_REPLICAS = 1
_DEFAULT_JOB_COMPLETIONS = 1
_DEFAULT_BACKOFF_LIMIT = 6

Obj = Mapping[str, Any]
Status = dict[str, Any]


def settled_status(obj: Obj, *, failing: bool, now: datetime | None = None) -> Status | None:
    """The whole `status` the controller of `obj` would have written once it settled.

    Returns None when there is nothing to write: an unsupported kind, a Pod bound to a node or in a
    terminal phase, or a Job that is suspended or already finished (the API server rejects moving a
    finished Job to another terminal state, and a real Job controller never does). Timestamps are
    `now` (default: the current UTC time); a condition whose status does not change keeps its
    `lastTransitionTime`, as controllers do.
    """
    kind = obj.get("kind")
    when = _timestamp(now)
    if kind == "Deployment":
        return _deployment(obj, failing, when)
    if kind == "ReplicaSet":
        return _replicaset(obj, failing, when)
    if kind == "StatefulSet":
        return _statefulset(obj, failing)
    if kind == "DaemonSet":
        return _daemonset(obj, failing)
    if kind == "Job":
        return _job(obj, failing, when)
    if kind == "Pod":
        return _pod(obj, failing, when)
    if kind == "HorizontalPodAutoscaler":
        return _hpa(obj, failing, when)
    return None


def status_is_settled(obj: Obj, desired: Mapping[str, Any]) -> bool:
    """True when `obj.status` already says what `desired` says (timestamps aside).

    Used to avoid writing the same status again on the MODIFIED event a status write causes.
    """
    current = obj.get("status") or {}
    if not isinstance(current, Mapping):
        return False
    return _strip_times(current) == _strip_times(desired)


def _strip_times(status: Mapping[str, Any]) -> dict[str, Any]:
    # Zero counters are dropped on both sides: the API server omits `omitempty` zeros (a Job's
    # `active: 0`) from what it stores, and a comparison that saw them would write forever.
    out = {
        k: v
        for k, v in status.items()
        if k not in {"startTime", "completionTime"} and v not in (0, None, "", [], {})
    }
    conditions = out.pop("conditions", None) or []
    out["conditions"] = sorted(
        (str(c.get("type")), str(c.get("status")), str(c.get("reason", ""))) for c in conditions
    )
    return out


def _timestamp(now: datetime | None) -> str:
    moment = now if now is not None else datetime.now(UTC)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _spec(obj: Obj) -> Mapping[str, Any]:
    spec = obj.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def _generation(obj: Obj) -> int:
    metadata = obj.get("metadata")
    generation = metadata.get("generation") if isinstance(metadata, Mapping) else None
    return generation if isinstance(generation, int) else 1


def _replicas(obj: Obj) -> int:
    replicas = _spec(obj).get("replicas")
    return replicas if isinstance(replicas, int) and replicas >= 0 else _DEFAULT_REPLICAS


def _conditions(
    obj: Obj, when: str, wanted: list[tuple[str, str, str, str]], *, update_time: bool = False
) -> list[dict[str, Any]]:
    """Conditions (type, status, reason, message); unchanged ones keep lastTransitionTime."""
    old = {
        str(c.get("type")): c
        for c in (_status_of(obj).get("conditions") or [])
        if isinstance(c, Mapping)
    }
    out: list[dict[str, Any]] = []
    for ctype, cstatus, reason, message in wanted:
        previous = old.get(ctype)
        transition = when
        if previous is not None and previous.get("status") == cstatus:
            transition = str(previous.get("lastTransitionTime") or when)
        condition: dict[str, Any] = {
            "type": ctype,
            "status": cstatus,
            "reason": reason,
            "message": message,
            "lastTransitionTime": transition,
        }
        if update_time:
            condition["lastUpdateTime"] = when
        out.append(condition)
    return out


def _status_of(obj: Obj) -> Mapping[str, Any]:
    status = obj.get("status")
    return status if isinstance(status, Mapping) else {}


def _name(obj: Obj) -> str:
    metadata = obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    return str(name) if name else "unnamed"


def _template_hash(obj: Obj) -> str:
    """A stable stand-in for the controller's pod-template hash (changes with the template)."""
    template = _spec(obj).get("template") or {}
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()
    return digest[:10]


def _deployment(obj: Obj, failing: bool, when: str) -> Status:
    replicas = _replicas(obj)
    rs_name = f"{_name(obj)}-{_template_hash(obj)}"
    status: Status = {
        "observedGeneration": _generation(obj),
        "replicas": replicas,
        "updatedReplicas": replicas,
    }
    if failing:
        if replicas:
            status["unavailableReplicas"] = replicas
        status["conditions"] = _conditions(
            obj,
            when,
            [
                (
                    "Available",
                    "False",
                    "MinimumReplicasUnavailable",
                    "Deployment does not have minimum availability.",
                ),
                (
                    "Progressing",
                    "False",
                    "ProgressDeadlineExceeded",
                    f'ReplicaSet "{rs_name}" has timed out progressing.',
                ),
            ],
            update_time=True,
        )
        return status
    if replicas:
        status["readyReplicas"] = replicas
        status["availableReplicas"] = replicas
    status["conditions"] = _conditions(
        obj,
        when,
        [
            (
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
            ),
            (
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{rs_name}" has successfully progressed.',
            ),
        ],
        update_time=True,
    )
    return status


def _replicaset(obj: Obj, failing: bool, when: str) -> Status:
    replicas = _replicas(obj)
    status: Status = {
        "observedGeneration": _generation(obj),
        "replicas": 0 if failing else replicas,
    }
    if failing:
        status["conditions"] = _conditions(
            obj,
            when,
            [("ReplicaFailure", "True", "FailedCreate", "pods are forbidden (simulated failure)")],
        )
        return status
    if replicas:
        status["fullyLabeledReplicas"] = replicas
        status["readyReplicas"] = replicas
        status["availableReplicas"] = replicas
    return status


def _statefulset(obj: Obj, failing: bool) -> Status:
    replicas = _replicas(obj)
    revision = f"{_name(obj)}-{_template_hash(obj)}"
    status: Status = {
        "observedGeneration": _generation(obj),
        "replicas": replicas,
        "currentReplicas": replicas,
        "updatedReplicas": replicas,
        "currentRevision": revision,
        "updateRevision": revision,
        "collisionCount": 0,
    }
    if not failing and replicas:
        status["readyReplicas"] = replicas
        status["availableReplicas"] = replicas
    return status


def _daemonset(obj: Obj, failing: bool) -> Status:
    status: Status = {
        "observedGeneration": _generation(obj),
        "desiredNumberScheduled": 1,
        "currentNumberScheduled": 1,
        "updatedNumberScheduled": 1,
        "numberMisscheduled": 0,
        "numberReady": 0 if failing else 1,
    }
    if failing:
        status["numberUnavailable"] = 1
    else:
        status["numberAvailable"] = 1
    return status


def _job(obj: Obj, failing: bool, when: str) -> Status | None:
    spec = _spec(obj)
    if spec.get("suspend") is True:
        return None
    current = _status_of(obj)
    for condition in current.get("conditions") or []:
        if (
            isinstance(condition, Mapping)
            and condition.get("type") in {"Complete", "Failed"}
            and condition.get("status") == "True"
        ):
            return None
    start = str(current.get("startTime") or when)
    status: Status = {"startTime": start, "active": 0, "ready": 0, "terminating": 0}
    if failing:
        backoff = spec.get("backoffLimit")
        limit = backoff if isinstance(backoff, int) and backoff >= 0 else _DEFAULT_BACKOFF_LIMIT
        status["failed"] = limit + 1
        message = "Job has reached the specified backoff limit"
        status["conditions"] = _conditions(
            obj,
            when,
            [
                ("FailureTarget", "True", "BackoffLimitExceeded", message),
                ("Failed", "True", "BackoffLimitExceeded", message),
            ],
        )
        return status
    completions = spec.get("completions")
    succeeded = completions if isinstance(completions, int) else _DEFAULT_JOB_COMPLETIONS
    status["succeeded"] = succeeded
    # completionTime must not be before startTime; both are whole seconds in RFC 3339 UTC, so
    # comparing the strings orders them.
    status["completionTime"] = max(start, when)
    message = "Reached expected number of succeeded pods"
    status["conditions"] = _conditions(
        obj,
        when,
        [
            ("SuccessCriteriaMet", "True", "CompletionsReached", message),
            ("Complete", "True", "CompletionsReached", message),
        ],
    )
    return status


_TERMINAL_POD_PHASES = frozenset({"Succeeded", "Failed"})


def _pod(obj: Obj, failing: bool, when: str) -> Status | None:
    spec = _spec(obj)
    current = _status_of(obj)
    if spec.get("nodeName") or current.get("phase") in _TERMINAL_POD_PHASES:
        return None
    start = str(current.get("startTime") or when)
    restart = str(spec.get("restartPolicy") or "Always")
    containers = [
        c for c in spec.get("containers") or [] if isinstance(c, Mapping) and c.get("name")
    ]
    status: Status = {"startTime": start}
    if current.get("qosClass"):
        status["qosClass"] = current["qosClass"]  # set by the API server at creation
    if restart == "Always":
        ready = "False" if failing else "True"
        statuses = []
        for container in containers:
            entry: dict[str, Any] = {
                "name": container["name"],
                "image": str(container.get("image", "")),
                "imageID": "",
                "ready": not failing,
                "started": not failing,
                "restartCount": 5 if failing else 0,
            }
            if failing:
                entry["state"] = {
                    "waiting": {
                        "reason": "CrashLoopBackOff",
                        "message": f"back-off restarting failed container {container['name']}",
                    }
                }
                entry["lastState"] = {
                    "terminated": {
                        "exitCode": 1, "reason": "Error", "startedAt": start, "finishedAt": start,
                    }
                }  # fmt: skip
            else:
                entry["state"] = {"running": {"startedAt": start}}
            statuses.append(entry)
        status["phase"] = "Running"
        status["containerStatuses"] = statuses
        status["conditions"] = _conditions(
            obj,
            when,
            [
                ("Initialized", "True", "", ""),
                ("Ready", ready, "", ""),
                ("ContainersReady", ready, "", ""),
                ("PodScheduled", "True", "", ""),
            ],
        )
        return status
    code = 1 if failing else 0
    reason = "Error" if failing else "Completed"
    finished = max(start, when)
    status["phase"] = "Failed" if failing else "Succeeded"
    status["containerStatuses"] = [
        {
            "name": container["name"],
            "image": str(container.get("image", "")),
            "imageID": "",
            "ready": False,
            "started": False,
            "restartCount": 0,
            "state": {
                "terminated": {
                    "exitCode": code,
                    "reason": reason,
                    "startedAt": start,
                    "finishedAt": finished,
                }
            },
        }
        for container in containers
    ]
    status["conditions"] = _conditions(
        obj,
        when,
        [
            ("Initialized", "True", "PodCompleted", ""),
            ("Ready", "False", "PodCompleted", ""),
            ("ContainersReady", "False", "PodCompleted", ""),
            ("PodScheduled", "True", "", ""),
        ],
    )
    return status


def _hpa(obj: Obj, failing: bool, when: str) -> Status | None:
    """What the HPA controller writes with a working metrics API (or, failing, without one):
    Argo CD's health check judges the HPA by these conditions. The replica counts are the
    spec's minimum: the simulator has no load to scale on."""
    if _str_version(obj) != "autoscaling/v2":
        return None  # v1 keeps its conditions in an annotation the agent does not write
    spec = _spec(obj)
    low = spec.get("minReplicas")
    replicas = low if isinstance(low, int) and low > 0 else 1
    if failing:
        message = (
            "the HPA was unable to compute the replica count: unable to get metrics for "
            "resource cpu: no metrics returned from resource metrics API"
        )
        wanted = [
            (
                "AbleToScale",
                "True",
                "SucceededGetScale",
                "the HPA controller was able to get the target's current scale",
            ),
            ("ScalingActive", "False", "FailedGetResourceMetric", message),
        ]
    else:
        wanted = [
            ("AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size"),
            (
                "ScalingActive",
                "True",
                "ValidMetricFound",
                "the HPA was able to successfully calculate a replica count from cpu resource "
                "utilization (percentage of request)",
            ),
            (
                "ScalingLimited",
                "False",
                "DesiredWithinRange",
                "the desired count is within the acceptable range",
            ),
        ]
    return {
        "currentReplicas": replicas,
        "desiredReplicas": replicas,
        "conditions": _conditions(obj, when, wanted),
    }


def _str_version(obj: Obj) -> str:
    return str(obj.get("apiVersion") or "")
