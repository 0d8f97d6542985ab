"""Text output of `fleet app`: kubectl-like tables and `argocd app get`-like summaries.

Pure functions of the Application documents (and the current time, passed in), so the tests
check them exactly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import yaml

SHORT_SHA = 7
NONE = "<none>"


def table(rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to the widest cell, three spaces apart (kubectl's layout)."""
    if not rows:
        return ""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "".join(
        "   ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() + "\n"
        for row in rows
    )


def dump(data: Any, output: str) -> str:
    if output == "json":
        return json.dumps(data, indent=2) + "\n"
    return str(yaml.safe_dump(data, sort_keys=False))


def parse_time(text: Any) -> datetime | None:
    """An RFC 3339 timestamp as written by Kubernetes (None when absent or malformed)."""
    if not isinstance(text, str) or not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def human_duration(seconds: float) -> str:
    """kubectl's HumanDuration: 45s, 3m20s, 45m, 3h20m, 20h, 3d4h, 300d, 2y45d."""
    s = int(seconds)
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 192:
        rest = hours % 24
        return f"{days}d{rest}h" if rest else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    years, rest_days = divmod(days, 365)
    return f"{years}y{rest_days}d" if years < 8 and rest_days else f"{years}y"


def age(obj: Mapping[str, Any], now: datetime) -> str:
    created = parse_time((obj.get("metadata") or {}).get("creationTimestamp"))
    return human_duration((now - created).total_seconds()) if created else "<unknown>"


def short(revision: Any) -> str:
    """A 40-hex SHA shortened to 7 characters; anything else (a Helm version) as is."""
    text = str(revision or "")
    if len(text) == 40 and all(c in "0123456789abcdef" for c in text.lower()):
        return text[:SHORT_SHA]
    return text


def _spec(app: Mapping[str, Any]) -> Mapping[str, Any]:
    return app.get("spec") or {}


def _status(app: Mapping[str, Any]) -> Mapping[str, Any]:
    return app.get("status") or {}


def destination_cluster(app: Mapping[str, Any]) -> str:
    dest = _spec(app).get("destination") or {}
    return str(dest.get("name") or dest.get("server") or "")


def sync_status(app: Mapping[str, Any]) -> str:
    return str((_status(app).get("sync") or {}).get("status") or "Unknown")


def health_status(app: Mapping[str, Any]) -> str:
    return str((_status(app).get("health") or {}).get("status") or "Unknown")


def list_table(apps: Sequence[Mapping[str, Any]], now: datetime) -> str:
    rows = [["NAME", "CLUSTER", "NAMESPACE", "PROJECT", "SYNC", "HEALTH", "REVISION", "AGE"]]
    for app in apps:
        spec = _spec(app)
        rows.append(
            [
                str((app.get("metadata") or {}).get("name", "")),
                destination_cluster(app) or NONE,
                str((spec.get("destination") or {}).get("namespace") or NONE),
                str(spec.get("project") or "default"),
                sync_status(app),
                health_status(app),
                short((_status(app).get("sync") or {}).get("revision")) or NONE,
                age(app, now),
            ]
        )
    return table(rows)


def automated(spec: Mapping[str, Any]) -> bool:
    """Automated sync is on: `syncPolicy.automated` set and not `enabled: false` (Argo CD)."""
    value = (spec.get("syncPolicy") or {}).get("automated")
    return value is not None and (value or {}).get("enabled") is not False


def _sync_policy(spec: Mapping[str, Any]) -> str:
    if not automated(spec):
        return NONE
    automated_policy = (spec.get("syncPolicy") or {}).get("automated") or {}
    flags = [f for f in ("prune", "selfHeal", "allowEmpty") if automated_policy.get(f)]
    return "Automated" + (f" ({', '.join(flags)})" if flags else "")


def fields(pairs: Sequence[tuple[str, str]]) -> str:
    return "".join(f"{f'{key}:':<20}{value}".rstrip() + "\n" for key, value in pairs)


def operation_lines(state: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The operation block of `get` and of `sync --wait` (as `argocd app get` prints it)."""
    operation = state.get("operation") or {}
    sync = operation.get("sync") or {}
    result = state.get("syncResult") or {}
    revision = result.get("revision") or sync.get("revision")
    pairs = [("Operation", "Sync" if sync or result else "Unknown")]
    if revision:
        pairs.append(("Sync Revision", str(revision)))
    pairs.append(("Phase", str(state.get("phase") or "Unknown")))
    started, finished = parse_time(state.get("startedAt")), parse_time(state.get("finishedAt"))
    if started:
        pairs.append(("Start", str(state.get("startedAt"))))
    if finished:
        pairs.append(("Finished", str(state.get("finishedAt"))))
    if started and finished:
        pairs.append(("Duration", human_duration((finished - started).total_seconds())))
    if state.get("message"):
        pairs.append(("Message", str(state.get("message"))))
    return pairs


def _source(spec: Mapping[str, Any]) -> Mapping[str, Any]:
    source = spec.get("source")
    if not source and spec.get("sources"):
        source = (spec.get("sources") or [{}])[0]
    return source or {}


def summary(app: Mapping[str, Any]) -> str:
    """`fleet app get`: fields, the last operation, conditions, then the resources."""
    meta, spec, status = app.get("metadata") or {}, _spec(app), _status(app)
    source, dest = _source(spec), spec.get("destination") or {}
    sync = status.get("sync") or {}
    target = str(source.get("targetRevision") or "HEAD")
    sync_line = sync_status(app)
    if sync.get("revision"):
        sync_line += f" to {target} ({short(sync.get('revision'))})"
    health = status.get("health") or {}
    health_line = health_status(app)
    if health.get("message"):
        health_line += f" ({health['message']})"
    pairs = [
        ("Name", f"{meta.get('namespace', '')}/{meta.get('name', '')}"),
        ("Project", str(spec.get("project") or "default")),
        ("Cluster", destination_cluster(app) or NONE),
        ("Namespace", str(dest.get("namespace") or NONE)),
        ("Repo", str(source.get("repoURL") or source.get("chart") or NONE)),
        ("Target", target),
        ("Path", str(source.get("path") or NONE)),
        ("Sync Policy", _sync_policy(spec)),
        ("Sync Status", sync_line),
        ("Health Status", health_line),
    ]
    if app.get("operation"):
        pairs.append(("Requested", "a sync operation is pending (the controller runs it)"))
    out = fields(pairs)
    state = status.get("operationState")
    if state:
        out += "\n" + fields(operation_lines(state))
    conditions = status.get("conditions") or []
    if conditions:
        rows = [["CONDITION", "MESSAGE", "LAST TRANSITION"]]
        for cond in conditions:
            rows.append(
                [
                    str(cond.get("type", "")),
                    " ".join(str(cond.get("message", "")).split()),
                    str(cond.get("lastTransitionTime") or ""),
                ]
            )
        out += "\n" + table(rows)
    out += "\n" + resources_table(status.get("resources") or [])
    return out


def resources_table(resources: Sequence[Mapping[str, Any]]) -> str:
    rows = [["GROUP", "KIND", "NAMESPACE", "NAME", "STATUS", "HEALTH"]]
    for res in resources:
        health = res.get("health") or {}
        rows.append(
            [
                str(res.get("group") or ""),
                str(res.get("kind") or ""),
                str(res.get("namespace") or ""),
                str(res.get("name") or ""),
                str(res.get("status") or "") + (" (prune)" if res.get("requiresPruning") else ""),
                str(health.get("status") or ""),
            ]
        )
    return table(rows)


def result_table(results: Sequence[Mapping[str, Any]]) -> str:
    """The per-resource results of a finished operation (`operationState.syncResult`)."""
    rows = [["GROUP", "KIND", "NAMESPACE", "NAME", "STATUS", "MESSAGE"]]
    for res in results:
        rows.append(
            [
                str(res.get("group") or ""),
                str(res.get("kind") or ""),
                str(res.get("namespace") or ""),
                str(res.get("name") or ""),
                str(res.get("status") or ""),
                " ".join(str(res.get("message") or "").split()),
            ]
        )
    return table(rows)


def history_table(entries: Sequence[Mapping[str, Any]]) -> str:
    """ID DATE REVISION, plus a STARTED column when the entries carry it."""
    started = any(e.get("deployStartedAt") for e in entries)
    rows = [["ID", "DATE", "REVISION"] + (["STARTED"] if started else [])]
    for entry in entries:
        target = ((entry.get("source") or {}).get("targetRevision")) or ""
        revision = short(entry.get("revision")) or NONE
        if target and target != entry.get("revision"):
            revision = f"{target} ({revision})"
        row = [str(entry.get("id", "")), str(entry.get("deployedAt") or ""), revision]
        row += [str(entry.get("deployStartedAt") or "")] if started else []
        rows.append(row)
    return table(rows)
