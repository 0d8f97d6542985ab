"""Kubeconfig files for the simulated clusters (server URL, CA data, admin token).

Rendered from a template rather than with yaml.safe_dump: the CLI writes a file per cluster,
and for 1,000 clusters PyYAML's pure-Python emitter alone took seconds. Every value
is a cluster name, URL, base64 or hex token, so it is quoted as a JSON string (valid YAML).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

_TEMPLATE = """\
apiVersion: v1
kind: Config
clusters:
- name: {name}
  cluster:
    server: {server}
    certificate-authority-data: {ca_data}
users:
- name: {admin}
  user:
    token: {token}
- name: {readonly}
  user:
    token: {readonly_token}
contexts:
- name: {name}
  context:
    cluster: {name}
    user: {admin}
    namespace: default
- name: {readonly}
  context:
    cluster: {name}
    user: {readonly}
    namespace: default
current-context: {current}
preferences: {{}}
"""


def render(
    name: str, server: str, ca_data: str, token: str, readonly_token: str, *, readonly: bool = False
) -> str:
    """Context `<name>` uses the admin token, context `<name>-readonly` the read-only one."""
    q = json.dumps
    return _TEMPLATE.format(
        name=q(name),
        server=q(server),
        ca_data=q(ca_data),
        admin=q(f"{name}-admin"),
        token=q(token),
        readonly=q(f"{name}-readonly"),
        readonly_token=q(readonly_token),
        current=q(f"{name}-readonly" if readonly else name),
    )


def write(path: Path, text: str) -> Path:
    """Write with owner-only permissions (the file holds bearer tokens), in one open call."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return path
