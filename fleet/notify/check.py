"""`fleet notifications check`: a notifications ConfigMap checked offline, and what it would
send for given Applications (the dry run Argo CD offers as `argocd admin notifications
trigger run` / `template notify`), for review before the ConfigMap is applied.

Output (stdout, YAML): per Application, each subscribed trigger with whether it fires and, for
those that do, the rendered notification per destination. Problems go to stderr, one a line,
naming the key; the exit code is 2 when there is any. Service options (which hold secrets)
are never printed: only the rendered templates are.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from fleet.notify.config import NotifyConfig, parse_config
from fleet.notify.decide import decide
from fleet.notify.templates import TemplateRenderError, render_notification
from generators import yamlio

EXIT_PROBLEMS = 2


class CheckInputError(ValueError):
    """A file cannot be read as the object it should hold (names the file)."""


def _object(path: str, kind: str) -> Mapping[str, Any]:
    try:
        docs = yamlio.load_all(Path(path).read_text())
    except OSError as error:
        raise CheckInputError(f"{path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise CheckInputError(f"{path}: {yamlio.describe_yaml_error(error)}") from None
    for doc in docs:
        if isinstance(doc, Mapping) and doc.get("kind") == kind:
            return doc
    raise CheckInputError(f"{path}: no {kind} in the file")


def _report(app: Mapping[str, Any], config: NotifyConfig) -> tuple[dict[str, Any], list[str]]:
    name = str((app.get("metadata") or {}).get("name") or "")
    decision = decide(app, config, {})
    problems = [f"Application {name}: {message}" for _what, _t, message in decision.problems]
    fired: dict[str, Any] = {}
    for due in decision.due:
        service = config.services.get(due.destination.service)
        entry: dict[str, Any] = {"destination": str(due.destination), "send": list(due.send)}
        if service is None:
            entry["problem"] = f"no service {due.destination.service!r}"
            problems.append(f"Application {name}: {entry['problem']} ({due.trigger})")
        else:
            data = {
                "app": app,
                "context": dict(config.context),
                "serviceType": service.kind,
                "notificationType": service.kind,
                "recipient": due.destination.recipient,
            }
            try:
                entry["notification"] = render_notification(config.templates, due.send, data)
            except TemplateRenderError as error:
                entry["problem"] = str(error)
                problems.append(f"Application {name}: {error}")
        fired.setdefault(due.trigger, []).append(entry)
    return {"application": name, "fires": fired}, problems


def run_check(configmap: str, secret: str | None, apps: list[str]) -> int:
    try:
        data = _object(configmap, "ConfigMap").get("data") or {}
        secret_obj = _object(secret, "Secret") if secret else None
        documents = [_object(path, "Application") for path in apps]
    except CheckInputError as error:
        print(f"fleet: {error}", file=sys.stderr)
        return EXIT_PROBLEMS
    config = parse_config(data if isinstance(data, Mapping) else {}, secret_obj)
    problems = list(config.problems)
    reports = []
    for app in documents:
        report, found = _report(app, config)
        reports.append(report)
        problems.extend(found)
    if reports:
        sys.stdout.write(yaml.safe_dump_all(reports, sort_keys=False))
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    return EXIT_PROBLEMS if problems else 0
