"""Resource health, assessed as Argo CD does (gitops-engine ``pkg/health``), pure and without I/O.

Why a port and not an approximation: users read fleet's ``status.health`` with Argo CD's meaning,
and a wave or a sync waits on it, so a Deployment must be Progressing and Degraded under exactly
the conditions Argo CD uses. Messages follow gitops-engine's wording.

Statuses, from healthiest to worst (gitops-engine ``healthOrder``, used by ``IsWorse``)::

    Healthy < Suspended < Progressing < Missing < Degraded < Unknown

``assess(obj)`` returns ``None`` for kinds without a rule, as Argo CD does; those objects do not
take part in an Application's health. ``worst(statuses)`` aggregates (an empty set is Healthy).
An object with ``metadata.deletionTimestamp`` is Progressing ("Pending deletion") before any rule.

Built-in rules: apps (and extensions) Deployment, StatefulSet, ReplicaSet, DaemonSet; core Pod,
Service (type LoadBalancer waits for ``status.loadBalancer.ingress``), PersistentVolumeClaim;
batch Job and CronJob (Argo CD ships CronJob as a Lua customization; ported here); networking.k8s.io
and extensions Ingress; apiextensions.k8s.io CustomResourceDefinition; autoscaling
HorizontalPodAutoscaler; apiregistration.k8s.io APIService; argoproj.io Workflow.

Custom rules (``CustomHealthRules.from_yaml``) give a custom resource kind a health rule without
code, the role Argo CD's ``resource.customizations.health.<group>_<kind>`` Lua scripts play. A rule
overrides the built-in one for its kind. The document is a list (or ``{rules: [...]}``)::

    - group: db.example.com          # "" for the core group
      kind: Database
      degraded:                       # checked first, then healthy, suspended, progressing
        - status.conditions[type=Ready].reason == "Failed"
      healthy:
        - path: status.phase
          equals: Ready
        - all:                        # every matcher inside `all` must match
            - status.observedGeneration exists
            - status.replicas != "0"
      suspended:
        - path: spec.paused
          equals: true
      progressing: []
      default: Progressing            # when nothing matches (the default)
      message: status.message         # path of the message shown with any status

Within one status the entries are alternatives (any one matching is enough). A matcher is a mapping
``{path, equals | notEquals | in | exists}`` or a string ``PATH == VALUE``, ``PATH != VALUE`` or
``PATH exists`` (VALUE is YAML: ``"True"`` is the string, ``true`` the boolean). Paths are dotted;
``[N]`` indexes a list and ``[field=value]`` picks the first list element whose ``field`` equals
``value`` (conditions). A missing path never equals anything, so ``!=`` matches it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from generators.yamlio import load

HEALTHY = "Healthy"
SUSPENDED = "Suspended"
PROGRESSING = "Progressing"
MISSING = "Missing"
DEGRADED = "Degraded"
UNKNOWN = "Unknown"

# gitops-engine healthOrder: most healthy first.
HEALTH_ORDER: tuple[str, ...] = (HEALTHY, SUSPENDED, PROGRESSING, MISSING, DEGRADED, UNKNOWN)
STATUSES = frozenset(HEALTH_ORDER)


@dataclass(frozen=True)
class Health:
    """One object's health, as shown in an Application's ``status.resources[].health``."""

    status: str
    message: str = ""


def _rank(status: str) -> int:
    # Go's IsWorse leaves an unrecognised code at index 0 (as healthy as Healthy); so do we.
    return HEALTH_ORDER.index(status) if status in STATUSES else 0


def is_worse(current: str, new: str) -> bool:
    """gitops-engine ``IsWorse``: whether ``new`` is a worse condition than ``current``."""
    return _rank(new) > _rank(current)


def worst(statuses: Iterable[str]) -> str:
    """The aggregate health of a set of objects (an Application): Healthy when there are none."""
    result = HEALTHY
    for status in statuses:
        if is_worse(result, status):
            result = status
    return result


# ---------------------------------------------------------------------------------------------
# Field access on unstructured objects (absent or mistyped fields read as Go's zero values).


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _get(obj: Mapping[str, Any], *keys: str) -> Any:
    current: Any = obj
    for key in keys:
        if not isinstance(current, Mapping):
            return None
        current = current.get(key)
    return current


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _opt_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def _conditions(obj: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [c for c in _list(_get(obj, "status", "conditions")) if isinstance(c, Mapping)]


def _condition(obj: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for condition in _conditions(obj):
        if condition.get("type") == kind:
            return condition
    return None


def _generation(obj: Mapping[str, Any]) -> int:
    return _int(_get(obj, "metadata", "generation"))


def _observed(obj: Mapping[str, Any]) -> int:
    return _int(_get(obj, "status", "observedGeneration"))


def _name(obj: Mapping[str, Any]) -> str:
    return _str(_get(obj, "metadata", "name"))


# ---------------------------------------------------------------------------------------------
# Built-in rules (one function per gitops-engine health_*.go file).


def _deployment(obj: Mapping[str, Any]) -> Health:
    spec, status = _map(obj.get("spec")), _map(obj.get("status"))
    if spec.get("paused") is True:
        return Health(SUSPENDED, "Deployment is paused")
    if _generation(obj) > _observed(obj):
        return Health(
            PROGRESSING,
            "Waiting for rollout to finish: observed deployment generation less than desired "
            "generation",
        )
    progressing = _condition(obj, "Progressing")
    replicas = _opt_int(spec.get("replicas"))
    updated = _int(status.get("updatedReplicas"))
    if progressing is not None and progressing.get("reason") == "ProgressDeadlineExceeded":
        return Health(DEGRADED, f'Deployment "{_name(obj)}" exceeded its progress deadline')
    if replicas is not None and updated < replicas:
        return Health(
            PROGRESSING,
            f"Waiting for rollout to finish: {updated} out of {replicas} new replicas have been "
            "updated...",
        )
    total = _int(status.get("replicas"))
    if total > updated:
        return Health(
            PROGRESSING,
            f"Waiting for rollout to finish: {total - updated} old replicas are pending "
            "termination...",
        )
    available = _int(status.get("availableReplicas"))
    if available < updated:
        return Health(
            PROGRESSING,
            f"Waiting for rollout to finish: {available} of {updated} updated replicas are "
            "available...",
        )
    return Health(HEALTHY)


def _statefulset(obj: Mapping[str, Any]) -> Health:
    spec, status = _map(obj.get("spec")), _map(obj.get("status"))
    observed = _observed(obj)
    if observed == 0 or _generation(obj) > observed:
        return Health(PROGRESSING, "Waiting for statefulset spec update to be observed...")
    replicas = _opt_int(spec.get("replicas"))
    ready = _int(status.get("readyReplicas"))
    if replicas is not None and ready < replicas:
        return Health(PROGRESSING, f"Waiting for {replicas - ready} pods to be ready...")
    strategy = _map(spec.get("updateStrategy"))
    updated = _int(status.get("updatedReplicas"))
    rolling = strategy.get("rollingUpdate")
    if strategy.get("type") == "RollingUpdate" and isinstance(rolling, Mapping):
        partition = _opt_int(rolling.get("partition"))
        if replicas is not None and partition is not None and updated < replicas - partition:
            return Health(
                PROGRESSING,
                f"Waiting for partitioned roll out to finish: {updated} out of "
                f"{replicas - partition} new pods have been updated...",
            )
        return Health(
            HEALTHY, f"partitioned roll out complete: {updated} new pods have been updated..."
        )
    if strategy.get("type") == "OnDelete":
        return Health(HEALTHY, f"statefulset has {ready} ready pods")
    update_revision = _str(status.get("updateRevision"))
    current_revision = _str(status.get("currentRevision"))
    if update_revision != current_revision:
        return Health(
            PROGRESSING,
            f"waiting for statefulset rolling update to complete {updated} pods at revision "
            f"{update_revision}...",
        )
    current = _int(status.get("currentReplicas"))
    return Health(
        HEALTHY,
        f"statefulset rolling update complete {current} pods at revision {current_revision}...",
    )


def _replicaset(obj: Mapping[str, Any]) -> Health:
    spec, status = _map(obj.get("spec")), _map(obj.get("status"))
    if _generation(obj) > _observed(obj):
        return Health(
            PROGRESSING,
            "Waiting for rollout to finish: observed replica set generation less then desired "
            "generation",
        )
    failure = _condition(obj, "ReplicaFailure")
    if failure is not None and failure.get("status") == "True":
        return Health(DEGRADED, _str(failure.get("message")))
    replicas = _opt_int(spec.get("replicas"))
    available = _int(status.get("availableReplicas"))
    if replicas is not None and available < replicas:
        return Health(
            PROGRESSING,
            f"Waiting for rollout to finish: {available} out of {replicas} new replicas are "
            "available...",
        )
    return Health(HEALTHY)


def _daemonset(obj: Mapping[str, Any]) -> Health:
    spec, status = _map(obj.get("spec")), _map(obj.get("status"))
    if _generation(obj) > _observed(obj):
        return Health(
            PROGRESSING,
            "Waiting for rollout to finish: observed daemon set generation less then desired "
            "generation",
        )
    updated = _int(status.get("updatedNumberScheduled"))
    desired = _int(status.get("desiredNumberScheduled"))
    if _get(spec, "updateStrategy", "type") == "OnDelete":
        return Health(HEALTHY, f"daemon set {updated} out of {desired} new pods have been updated")
    name = _name(obj)
    if updated < desired:
        return Health(
            PROGRESSING,
            f'Waiting for daemon set "{name}" rollout to finish: {updated} out of {desired} new '
            "pods have been updated...",
        )
    available = _int(status.get("numberAvailable"))
    if available < desired:
        return Health(
            PROGRESSING,
            f'Waiting for daemon set "{name}" rollout to finish: {available} of {desired} '
            "updated pods are available...",
        )
    return Health(HEALTHY)


_WAITING_ERROR_PREFIXES = ("Err",)
_WAITING_ERROR_SUFFIXES = ("Error", "BackOff")


def _pod_fail_message(container: Mapping[str, Any]) -> str:
    terminated = _get(container, "state", "terminated")
    if not isinstance(terminated, Mapping):
        return ""
    if _str(terminated.get("message")):
        return _str(terminated.get("message"))
    if terminated.get("reason") == "OOMKilled":
        return "OOMKilled"
    code = _int(terminated.get("exitCode"))
    if code != 0:
        return f'container "{_str(container.get("name"))}" failed with exit code {code}'
    return ""


def _pod(obj: Mapping[str, Any]) -> Health:
    status = _map(obj.get("status"))
    # The API server defaults restartPolicy to Always; a manifest may leave it out.
    restart = _str(_get(obj, "spec", "restartPolicy")) or "Always"
    containers = [c for c in _list(status.get("containerStatuses")) if isinstance(c, Mapping)]
    message = _str(status.get("message"))
    if restart == "Always":
        # Only for long-running pods: a hook pod (Never/OnFailure) in ImagePullBackOff may recover.
        messages = []
        for container in containers:
            reason = _str(_get(container, "state", "waiting", "reason"))
            if isinstance(_get(container, "state", "waiting"), Mapping) and (
                reason.startswith(_WAITING_ERROR_PREFIXES)
                or reason.endswith(_WAITING_ERROR_SUFFIXES)
            ):
                messages.append(_str(_get(container, "state", "waiting", "message")))
        if messages:
            return Health(DEGRADED, ", ".join(messages))
    phase = status.get("phase")
    if phase == "Pending":
        return Health(PROGRESSING, message)
    if phase == "Succeeded":
        return Health(HEALTHY, message)
    if phase == "Failed":
        if message:
            return Health(DEGRADED, message)
        init = [c for c in _list(status.get("initContainerStatuses")) if isinstance(c, Mapping)]
        for container in init + containers:
            failure = _pod_fail_message(container)
            if failure:
                return Health(DEGRADED, failure)
        return Health(DEGRADED, "")
    if phase == "Running":
        if restart == "Always":
            ready = _condition(obj, "Ready")
            if ready is not None and ready.get("status") == "True":
                return Health(HEALTHY, message)
            for container in containers:
                if isinstance(_get(container, "lastState", "terminated"), Mapping):
                    return Health(DEGRADED, message)
            return Health(PROGRESSING, message)
        if restart in ("OnFailure", "Never"):
            return Health(PROGRESSING, message)
    return Health(UNKNOWN, message)


def _service(obj: Mapping[str, Any]) -> Health:
    if _get(obj, "spec", "type") == "LoadBalancer":
        if _list(_get(obj, "status", "loadBalancer", "ingress")):
            return Health(HEALTHY)
        return Health(PROGRESSING)
    return Health(HEALTHY)


def _ingress(obj: Mapping[str, Any]) -> Health:
    if _list(_get(obj, "status", "loadBalancer", "ingress")):
        return Health(HEALTHY)
    return Health(PROGRESSING)


def _pvc(obj: Mapping[str, Any]) -> Health:
    phase = _get(obj, "status", "phase")
    if phase == "Lost":
        return Health(DEGRADED)
    if phase == "Pending":
        return Health(PROGRESSING)
    if phase == "Bound":
        return Health(HEALTHY)
    return Health(UNKNOWN)


def _job(obj: Mapping[str, Any]) -> Health:
    failed = complete = suspended = False
    fail_message = message = ""
    for condition in _conditions(obj):
        kind = condition.get("type")
        if kind == "Failed":
            failed = complete = True
            fail_message = _str(condition.get("message"))
        elif kind == "Complete":
            complete = True
            message = _str(condition.get("message"))
        elif kind == "Suspended" and condition.get("status") == "True":
            suspended = True
            message = _str(condition.get("message"))
    if not complete:
        if suspended:
            return Health(SUSPENDED, message)
        return Health(PROGRESSING, message)
    if failed:
        return Health(DEGRADED, fail_message)
    return Health(HEALTHY, message)


def _cronjob(obj: Mapping[str, Any]) -> Health:
    # Argo CD's resource_customizations/batch/CronJob/health.lua.
    if _get(obj, "spec", "suspend") is True:
        return Health(SUSPENDED, "CronJob is Suspended")
    status = _map(obj.get("status"))
    last_schedule = _str(status.get("lastScheduleTime"))
    last_success = _str(status.get("lastSuccessfulTime"))
    if last_schedule:
        if _list(status.get("active")):
            return Health(PROGRESSING, "The job is running")
        if not last_success or last_success < last_schedule:
            return Health(DEGRADED, "CronJob has not completed its last execution successfully")
        return Health(HEALTHY, "The last job was successful")
    return Health(HEALTHY, "The CronJob has not been scheduled yet")


def _crd(obj: Mapping[str, Any]) -> Health:
    conditions = _conditions(obj)
    if not conditions:
        return Health(PROGRESSING, "Status conditions not found")
    established = terminating = names_rejected = violations = False
    message = ""
    for condition in conditions:
        kind, value = condition.get("type"), condition.get("status")
        if kind == "Terminating" and value == "True":
            terminating, message = True, _str(condition.get("message"))
        elif kind == "NamesAccepted" and value == "False":
            names_rejected, message = True, _str(condition.get("message"))
        elif kind == "Established":
            if value == "True":
                established = True
            else:
                message = _str(condition.get("message"))
        elif kind == "NonStructuralSchema" and value == "True":
            violations, message = True, _str(condition.get("message"))
    if terminating:
        return Health(PROGRESSING, f"CRD is being terminated: {message}")
    if names_rejected:
        return Health(DEGRADED, f"CRD names have not been accepted: {message}")
    if not established:
        return Health(DEGRADED, f"CRD is not established: {message}")
    if violations:
        return Health(DEGRADED, f"Schema violations found: {message}")
    return Health(HEALTHY, "CRD is healthy")


_HPA_DEGRADED = frozenset(
    {
        ("AbleToScale", "FailedGetScale"),
        ("AbleToScale", "FailedUpdateScale"),
        ("ScalingActive", "FailedGetResourceMetric"),
        ("ScalingActive", "InvalidSelector"),
    }
)
_HPA_HEALTHY = frozenset(
    {
        ("AbleToScale", "SucceededRescale"),
        ("ScalingLimited", "DesiredWithinRange"),
        ("ScalingLimited", "TooFewReplicas"),
        ("ScalingLimited", "TooManyReplicas"),
    }
)


def _hpa(obj: Mapping[str, Any]) -> Health:
    waiting = Health(PROGRESSING, "Waiting to Autoscale")
    conditions: list[Mapping[str, Any]]
    if _str(obj.get("apiVersion")) == "autoscaling/v1":
        # v1 keeps its conditions in an annotation (JSON); YAML parses JSON.
        raw = _get(obj, "metadata", "annotations", "autoscaling.alpha.kubernetes.io/conditions")
        if not isinstance(raw, str):
            return waiting
        try:
            parsed = load(raw)  # bounded: the annotation is whatever the cluster holds
        except yaml.YAMLError as error:
            return Health(UNKNOWN, f"failed to convert conditions annotation to typed: {error}")
        conditions = [c for c in _list(parsed) if isinstance(c, Mapping)]
    else:
        conditions = _conditions(obj)
    for condition in conditions:
        key = (_str(condition.get("type")), _str(condition.get("reason")))
        if key in _HPA_DEGRADED:
            return Health(DEGRADED, _str(condition.get("message")))
        if key in _HPA_HEALTHY:
            return Health(HEALTHY, _str(condition.get("message")))
    return waiting


def _apiservice(obj: Mapping[str, Any]) -> Health:
    for condition in _conditions(obj):
        if condition.get("type") == "Available":
            text = f"{_str(condition.get('reason'))}: {_str(condition.get('message'))}"
            return Health(HEALTHY if condition.get("status") == "True" else PROGRESSING, text)
    return Health(PROGRESSING, "Waiting to be processed")


def _workflow(obj: Mapping[str, Any]) -> Health:
    phase = _get(obj, "status", "phase")
    message = _str(_get(obj, "status", "message"))
    if phase in (None, "", "Pending", "Running"):
        return Health(PROGRESSING, message)
    if phase == "Succeeded":
        return Health(HEALTHY, message)
    if phase in ("Failed", "Error"):
        return Health(DEGRADED, message)
    return Health(UNKNOWN, message)


Rule = Callable[[Mapping[str, Any]], Health]

_BUILTIN: dict[tuple[str, str], Rule] = {
    ("apps", "Deployment"): _deployment,
    ("apps", "StatefulSet"): _statefulset,
    ("apps", "ReplicaSet"): _replicaset,
    ("apps", "DaemonSet"): _daemonset,
    ("extensions", "Deployment"): _deployment,
    ("extensions", "ReplicaSet"): _replicaset,
    ("extensions", "DaemonSet"): _daemonset,
    ("extensions", "Ingress"): _ingress,
    ("networking.k8s.io", "Ingress"): _ingress,
    ("", "Pod"): _pod,
    ("", "Service"): _service,
    ("", "PersistentVolumeClaim"): _pvc,
    ("batch", "Job"): _job,
    ("batch", "CronJob"): _cronjob,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): _crd,
    ("autoscaling", "HorizontalPodAutoscaler"): _hpa,
    ("apiregistration.k8s.io", "APIService"): _apiservice,
    ("argoproj.io", "Workflow"): _workflow,
}


def group_of(obj: Mapping[str, Any]) -> str:
    """The API group of an object ("" for the core group)."""
    api_version = _str(obj.get("apiVersion"))
    return api_version.rpartition("/")[0] if "/" in api_version else ""


# ---------------------------------------------------------------------------------------------
# Declarative custom rules.


class HealthRuleError(ValueError):
    """A custom health rule document is malformed (the message names the entry and field)."""


_MISSING: Any = object()


def _parse_path(path: str) -> list[str | int | tuple[str, str]]:
    """``a.b[type=Ready].c`` -> ["a", "b", ("type", "Ready"), "c"]; ``[N]`` -> N."""
    steps: list[str | int | tuple[str, str]] = []
    for part in path.split("."):
        name, _, rest = part.partition("[")
        if name:
            steps.append(name)
        while rest:
            selector, sep, rest = rest.partition("]")
            if not sep:
                raise HealthRuleError(f"path {path!r}: unclosed '['")
            if "=" in selector:
                key, _, value = selector.partition("=")
                steps.append((key.strip(), value.strip().strip("\"'")))
            elif selector.strip().isdigit():
                steps.append(int(selector))
            else:
                raise HealthRuleError(f"path {path!r}: bad selector [{selector}]")
            if rest.startswith("["):
                rest = rest[1:]
            elif rest:
                raise HealthRuleError(f"path {path!r}: unexpected {rest!r}")
    if not steps:
        raise HealthRuleError(f"empty path {path!r}")
    return steps


def _lookup(obj: Any, steps: Sequence[str | int | tuple[str, str]]) -> Any:
    current = obj
    for step in steps:
        if isinstance(step, str):
            if not isinstance(current, Mapping) or step not in current:
                return _MISSING
            current = current[step]
        elif isinstance(step, int):
            if not isinstance(current, list) or step >= len(current):
                return _MISSING
            current = current[step]
        else:
            key, value = step
            if not isinstance(current, list):
                return _MISSING
            current = next(
                (
                    item
                    for item in current
                    if isinstance(item, Mapping) and str(item.get(key)) == value
                ),
                _MISSING,
            )
            if current is _MISSING:
                return _MISSING
    return current


@dataclass(frozen=True)
class Matcher:
    """One test on one field: equals, not-equals, membership or existence."""

    path: tuple[str | int | tuple[str, str], ...]
    op: str  # "equals" | "notEquals" | "in" | "exists"
    value: Any = None

    def matches(self, obj: Mapping[str, Any]) -> bool:
        found = _lookup(obj, self.path)
        if self.op == "exists":
            return (found is not _MISSING) == bool(self.value)
        if self.op == "equals":
            return found is not _MISSING and found == self.value
        if self.op == "notEquals":
            return found is _MISSING or found != self.value
        return found is not _MISSING and found in self.value


@dataclass(frozen=True)
class AllOf:
    """Every matcher must match."""

    matchers: tuple[Matcher | AllOf, ...]

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return all(m.matches(obj) for m in self.matchers)


def _parse_matcher(entry: Any, where: str) -> Matcher | AllOf:
    if isinstance(entry, str):
        text = entry.strip()
        if text.endswith(" exists"):
            return Matcher(tuple(_parse_path(text[: -len(" exists")].strip())), "exists", True)
        for token, op in (("==", "equals"), ("!=", "notEquals")):
            if token in text:
                left, _, right = text.partition(token)
                try:
                    value = yaml.safe_load(right.strip())
                except yaml.YAMLError as error:
                    raise HealthRuleError(f"{where}: bad value in {entry!r}: {error}") from None
                return Matcher(tuple(_parse_path(left.strip())), op, value)
        raise HealthRuleError(
            f"{where}: expected 'PATH == VALUE', 'PATH != VALUE' or 'PATH exists'"
        )
    if not isinstance(entry, Mapping):
        raise HealthRuleError(f"{where}: a matcher is a string or a mapping")
    if "all" in entry:
        items = entry["all"]
        if not isinstance(items, list) or set(entry) != {"all"}:
            raise HealthRuleError(f"{where}.all: expected a list (and no other keys)")
        return AllOf(
            tuple(_parse_matcher(item, f"{where}.all[{i}]") for i, item in enumerate(items))
        )
    path = entry.get("path")
    if not isinstance(path, str):
        raise HealthRuleError(f"{where}.path: required string")
    ops = [op for op in ("equals", "notEquals", "in", "exists") if op in entry]
    if len(ops) != 1 or set(entry) - {"path", *ops}:
        raise HealthRuleError(f"{where}: needs exactly one of equals, notEquals, in, exists")
    op = ops[0]
    if op == "in" and not isinstance(entry["in"], list):
        raise HealthRuleError(f"{where}.in: expected a list")
    return Matcher(tuple(_parse_path(path)), op, entry[op])


_RULE_STATUSES = (
    ("degraded", DEGRADED),
    ("healthy", HEALTHY),
    ("suspended", SUSPENDED),
    ("progressing", PROGRESSING),
)
_RULE_KEYS = frozenset({"group", "kind", "message", "default"} | {k for k, _ in _RULE_STATUSES})


@dataclass(frozen=True)
class CustomRule:
    """The health rule of one group/kind (see the module docstring for the format)."""

    group: str
    kind: str
    checks: tuple[tuple[str, tuple[Matcher | AllOf, ...]], ...]
    default: str = PROGRESSING
    message: tuple[str | int | tuple[str, str], ...] | None = None

    def assess(self, obj: Mapping[str, Any]) -> Health:
        text = ""
        if self.message is not None:
            found = _lookup(obj, self.message)
            text = "" if found is _MISSING or found is None else str(found)
        for status, matchers in self.checks:
            if any(m.matches(obj) for m in matchers):
                return Health(status, text)
        return Health(self.default, text)


@dataclass(frozen=True)
class CustomHealthRules:
    """Declarative health rules for custom resource kinds, keyed by (group, kind)."""

    rules: Mapping[tuple[str, str], CustomRule] = field(default_factory=dict)

    @classmethod
    def from_yaml(cls, text: str) -> CustomHealthRules:
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise HealthRuleError(f"custom health rules are not valid YAML: {error}") from None
        if isinstance(document, Mapping) and set(document) == {"rules"}:
            document = document["rules"]
        if document is None:
            return cls({})
        if not isinstance(document, list):
            raise HealthRuleError("custom health rules: expected a list of rules")
        return cls.from_entries(document)

    @classmethod
    def from_entries(cls, entries: Sequence[Any]) -> CustomHealthRules:
        rules: dict[tuple[str, str], CustomRule] = {}
        for index, entry in enumerate(entries):
            rule = _parse_rule(entry, f"rules[{index}]")
            key = (rule.group, rule.kind)
            if key in rules:
                raise HealthRuleError(f"rules[{index}]: a second rule for {rule.group}/{rule.kind}")
            rules[key] = rule
        return cls(rules)

    def rule_for(self, group: str, kind: str) -> CustomRule | None:
        return self.rules.get((group, kind))


def _parse_rule(entry: Any, where: str) -> CustomRule:
    if not isinstance(entry, Mapping):
        raise HealthRuleError(f"{where}: expected a mapping")
    unknown = set(entry) - _RULE_KEYS
    if unknown:
        raise HealthRuleError(f"{where}: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
    group, kind = entry.get("group", ""), entry.get("kind")
    if not isinstance(group, str):
        raise HealthRuleError(f"{where}.group: expected a string")
    if not isinstance(kind, str) or not kind:
        raise HealthRuleError(f"{where}.kind: required string")
    checks: list[tuple[str, tuple[Matcher | AllOf, ...]]] = []
    for key, status in _RULE_STATUSES:
        items = entry.get(key) or []
        if not isinstance(items, list):
            raise HealthRuleError(f"{where}.{key}: expected a list")
        matchers = tuple(
            _parse_matcher(item, f"{where}.{key}[{i}]") for i, item in enumerate(items)
        )
        if matchers:
            checks.append((status, matchers))
    default = entry.get("default", PROGRESSING)
    if default not in STATUSES:
        raise HealthRuleError(f"{where}.default: one of {', '.join(HEALTH_ORDER)}")
    message = entry.get("message")
    if message is not None and not isinstance(message, str):
        raise HealthRuleError(f"{where}.message: expected a path string")
    return CustomRule(
        group=group,
        kind=kind,
        checks=tuple(checks),
        default=default,
        message=tuple(_parse_path(message)) if message else None,
    )


def assess(obj: Mapping[str, Any], rules: CustomHealthRules | None = None) -> Health | None:
    """The health of one live object, or None when its kind has no health (Argo CD's nil)."""
    if _get(obj, "metadata", "deletionTimestamp"):
        return Health(PROGRESSING, "Pending deletion")
    group, kind = group_of(obj), _str(obj.get("kind"))
    if rules is not None:
        custom = rules.rule_for(group, kind)
        if custom is not None:
            return custom.assess(obj)
    builtin = _BUILTIN.get((group, kind))
    return builtin(obj) if builtin is not None else None
