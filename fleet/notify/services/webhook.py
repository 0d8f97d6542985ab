"""A generic webhook (`service.webhook.<name>`): any HTTP API, shaped by the template.

Options: `url`, `headers` (list of {name, value}), `basicAuth` ({username, password}),
`insecureSkipVerify`. Template part `webhook.<name>`: `method` (default GET), `path` (appended
to the URL), `body`.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from fleet.notify.config import ServiceConfig
from fleet.notify.services import Request, ServiceConfigError, option

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})


def build(service: ServiceConfig, notification: Mapping[str, Any], recipient: str) -> Request:
    where = f"service.webhook.{service.name}"
    url = option(service, "url")
    if not url:
        raise ServiceConfigError(f"{where}: url is required")
    hooks = notification.get("webhook")
    part = hooks.get(service.name) if isinstance(hooks, Mapping) else None
    spec: Mapping[str, Any] = part if isinstance(part, Mapping) else {}
    method = str(spec.get("method") or "GET").upper()
    if method not in METHODS:
        raise ServiceConfigError(f"webhook.{service.name}.method: {method!r} is not an HTTP method")
    headers: dict[str, str] = {}
    for index, item in enumerate(service.options.get("headers") or []):
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            raise ServiceConfigError(f"{where}.headers[{index}]: needs a name and a value")
        headers[item["name"]] = str(item.get("value") or "")
    auth = service.options.get("basicAuth")
    if isinstance(auth, Mapping):
        pair = f"{auth.get('username') or ''}:{auth.get('password') or ''}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    path = str(spec.get("path") or "")
    body = str(spec.get("body") or "").encode()
    return Request(method, url.rstrip("/") + path if path else url, headers, body, service.insecure)
