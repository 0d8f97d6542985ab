"""Capture the realistic profile's data from a real kube-apiserver.

`python -m fleet.sim.profile capture [--out DIR]` starts the repository's real harness
(`e2e.realapi`: etcd, kube-apiserver and kube-controller-manager v1.36.3 built by
`make kube-binaries`), waits until the controllers have published their objects, and reads what
a client of a fresh cluster reads:

- `/version` and the legacy discovery documents of every group-version;
- `/openapi/v2` (JSON and protobuf) and every `/openapi/v3` document;
- every object of every listable, watchable resource, stripped of what belongs to one instance
  (uids, resourceVersions, timestamps, managedFields, certificates, the harness's own
  credentials), with per-instance values replaced by `{{sim:...}}` placeholders the simulator
  fills in per server;
- the OpenAPI documents of two template CRDs (one namespaced, one cluster-scoped), from which
  the simulator builds the documents of every CRD a cluster installs.

Everything is written gzip-compressed into `fleet/sim/data/kube-<major>.<minor>/`; the
hand-made kubeadm/kind additions (`kubeadm.yaml`) and the notes (`README.md`) there are not
touched. The real harness lives outside the `fleet` package, so it is imported only here, when
a capture runs.
"""

from __future__ import annotations

import gzip
import json
import re
import ssl
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

JSON = dict[str, Any]

DATA_ROOT = Path(__file__).resolve().parent / "data"
V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"

#: Per-instance values become these placeholders (see `fleet.sim.profile`).
CA_PLACEHOLDER = "{{sim:ca.crt}}"
NOW_PLACEHOLDER = "{{sim:now}}"
NOW_MICRO_PLACEHOLDER = "{{sim:now.micro}}"
TODAY_PLACEHOLDER = "{{sim:today}}"
UUID_PLACEHOLDER = "{{sim:uuid}}"

#: The addresses the capture's loopback apiserver had become those of a kind control plane, so
#: the profile describes one plausible cluster rather than a test harness.
NODE_NAME = "kind-control-plane"
NODE_IP = "172.18.0.2"
SECURE_PORT = 6443

#: Template CRDs: distinctive tokens that `fleet.sim.openapi` replaces by a real CRD's names.
TEMPLATE_GROUP = "zqxgroup.example.com"
TEMPLATE_VERSION = "v9zqx"
TEMPLATE_KINDS = {"Namespaced": "Zqxnamespaced", "Cluster": "Zqxcluster"}

_PEM = re.compile(r"-----BEGIN [A-Z ]+-----\n[A-Za-z0-9+/=\n]+-----END [A-Z ]+-----\n?")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_PER_INSTANCE_META = (
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "managedFields",
    "generation",
    "selfLink",
)
_WAIT = 60.0


class CaptureError(RuntimeError):
    """The real server did not reach the state worth capturing; the message says what lacked."""


class _Client:
    """Plain urllib against the hub (the harness is synchronous, so is this)."""

    def __init__(self, server: str, ca_file: Path, token: str) -> None:
        self.server = server
        self.token = token
        self.context = ssl.create_default_context(cafile=str(ca_file))

    def raw(self, path: str, accept: str = "application/json") -> bytes:
        request = urllib.request.Request(
            self.server + path,
            headers={"Authorization": f"Bearer {self.token}", "Accept": accept},
        )
        with urllib.request.urlopen(request, context=self.context, timeout=60) as response:
            body: bytes = response.read()
            return body

    def get(self, path: str) -> JSON:
        data = json.loads(self.raw(path))
        if not isinstance(data, dict):
            raise CaptureError(f"GET {path}: expected a JSON object")
        return data

    def send(self, method: str, path: str, body: JSON) -> JSON:
        request = urllib.request.Request(
            self.server + path,
            method=method,
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, context=self.context, timeout=60) as response:
            reply: JSON = json.loads(response.read())
            return reply


def _wait_for(what: str, ready: Callable[[], bool]) -> None:
    deadline = time.monotonic() + _WAIT
    while not ready():
        if time.monotonic() > deadline:
            raise CaptureError(f"timed out after {_WAIT:.0f} s waiting for {what}")
        time.sleep(0.5)


def _gv_base(group_version: str) -> str:
    return "/api/v1" if group_version == "v1" else f"/apis/{group_version}"


def discovery(client: _Client) -> JSON:
    """/version, /apis and every group-version's resource list, as served."""
    groups = client.get("/apis")
    resources = {"v1": client.get("/api/v1")}
    for group in groups["groups"]:
        for version in group["versions"]:
            gv = version["groupVersion"]
            resources[gv] = client.get(_gv_base(gv))
    return {"version": client.get("/version"), "groups": groups, "resources": resources}


def _listable(found: JSON) -> list[tuple[str, JSON]]:
    """(group-version, resource) for every top-level resource that can be listed and watched,
    each group-resource once (at its group's preferred version)."""
    preferred = {
        g["name"]: g["preferredVersion"]["groupVersion"] for g in found["groups"]["groups"]
    }
    out = []
    for gv, listing in found["resources"].items():
        group = gv.rpartition("/")[0]
        if group and preferred.get(group) != gv:
            continue
        for resource in listing["resources"]:
            if "/" not in resource["name"] and {"list", "watch"} <= set(resource["verbs"]):
                out.append((gv, resource))
    return out


def _scrub(value: Any, port: int, hostname: str) -> Any:
    """Per-instance values inside an object replaced by placeholders or kind's addresses."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in ("port", "targetPort") and item == port:
                out[key] = SECURE_PORT
            else:
                out[key] = _scrub(item, port, hostname)
        return out
    if isinstance(value, list):
        return [_scrub(item, port, hostname) for item in value]
    if not isinstance(value, str):
        return value
    text = _PEM.sub(CA_PLACEHOLDER, value)
    stamp = _TIMESTAMP.fullmatch(text)
    if stamp:
        return NOW_MICRO_PLACEHOLDER if stamp.group(1) else NOW_PLACEHOLDER
    if _DATE.fullmatch(text):
        return TODAY_PLACEHOLDER
    text = _UUID.sub(UUID_PLACEHOLDER, text)
    text = text.replace(f"127.0.0.1:{port}", f"{NODE_IP}:{SECURE_PORT}")
    return NODE_NAME if text == hostname else text


def normalize(obj: JSON, *, port: int, hostname: str) -> JSON:
    """An object as stored in the profile: no per-instance metadata, placeholders for the rest."""
    meta = {k: v for k, v in obj["metadata"].items() if k not in _PER_INSTANCE_META}
    scrubbed: JSON = _scrub({**obj, "metadata": meta}, port, hostname)
    return scrubbed


def _managers(obj: JSON) -> dict[str, str]:
    """Who wrote the object and its status (managedFields without their timestamps and field
    sets: the simulator recomputes those), keyed by subresource ("" for the object)."""
    out: dict[str, str] = {}
    for entry in obj["metadata"].get("managedFields") or ():
        out.setdefault(str(entry.get("subresource", "")), str(entry["manager"]))
    return out


def objects(
    client: _Client, found: JSON, *, port: int, hostname: str, skip: set[str]
) -> list[JSON]:
    """Every object of every listable kind, normalized, sorted by group-resource and key."""
    out: list[JSON] = []
    for gv, resource in _listable(found):
        listing = client.get(f"{_gv_base(gv)}/{resource['name']}")
        for item in listing["items"]:
            meta = item["metadata"]
            key = f"{resource['name']}/{meta.get('namespace', '')}/{meta['name']}"
            if key in skip:
                continue
            full = {"apiVersion": gv, "kind": resource["kind"], **item}
            out.append(
                {
                    "managers": _managers(full),
                    "object": normalize(full, port=port, hostname=hostname),
                }
            )
    return out


def _template_crd(scope: str) -> JSON:
    kind = TEMPLATE_KINDS[scope]
    plural = kind.lower() + "s"
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{TEMPLATE_GROUP}"},
        "spec": {
            "group": TEMPLATE_GROUP,
            "scope": scope,
            "names": {"plural": plural, "singular": kind.lower(), "kind": kind},
            "versions": [
                {
                    "name": TEMPLATE_VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {"replicas": {"type": "integer"}},
                                },
                                "status": {
                                    "type": "object",
                                    "properties": {"replicas": {"type": "integer"}},
                                },
                            },
                        }
                    },
                    "subresources": {
                        "status": {},
                        "scale": {
                            "specReplicasPath": ".spec.replicas",
                            "statusReplicasPath": ".status.replicas",
                        },
                    },
                }
            ],
        },
    }


def crd_templates(client: _Client) -> JSON:
    """The OpenAPI v3 document and v2 definitions the server makes for the template CRDs."""
    for scope in TEMPLATE_KINDS:
        client.send(
            "POST",
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            _template_crd(scope),
        )
    gv = f"apis/{TEMPLATE_GROUP}/{TEMPLATE_VERSION}"

    def published() -> bool:
        entry = client.get("/openapi/v3")["paths"].get(gv)
        if entry is None:
            return False
        doc = json.loads(client.raw(entry["serverRelativeURL"]))
        schemas = doc.get("components", {}).get("schemas", {})
        return all(any(k.endswith("." + kind) for k in schemas) for kind in TEMPLATE_KINDS.values())

    _wait_for("the template CRDs' OpenAPI v3 document", published)
    v3 = json.loads(client.raw(client.get("/openapi/v3")["paths"][gv]["serverRelativeURL"]))

    def in_v2() -> bool:
        definitions = client.get("/openapi/v2")["definitions"]
        return all(
            any(k.endswith("." + kind) for k in definitions) for kind in TEMPLATE_KINDS.values()
        )

    _wait_for("the template CRDs' OpenAPI v2 definitions", in_v2)
    v2 = client.get("/openapi/v2")
    marker = TEMPLATE_GROUP.split(".")[0]
    return {
        "group": TEMPLATE_GROUP,
        "version": TEMPLATE_VERSION,
        "kinds": TEMPLATE_KINDS,
        "v3": v3,
        "v2": {
            "definitions": {k: v for k, v in v2["definitions"].items() if marker in k},
            "paths": {k: v for k, v in v2["paths"].items() if TEMPLATE_GROUP in k},
        },
    }


def _write_gzip(path: Path, data: bytes) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0: the same capture gives the same bytes (no spurious git changes)
    compressed = gzip.compress(data, compresslevel=9, mtime=0)
    path.write_bytes(compressed)
    return len(compressed)


def _dump(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=False).encode()


def v3_file_name(gv: str) -> str:
    """`apis/apps/v1` -> `apis__apps__v1.json.gz` (one file per OpenAPI v3 document)."""
    return gv.replace("/", "__") + ".json.gz"


def capture(out: Path | None = None, bin_dir: Path | None = None) -> dict[str, int]:
    """Run the real harness and write the profile data; returns the compressed file sizes."""
    import socket

    from e2e.realapi import DEFAULT_BIN_DIR, RealClusters
    from e2e.realapi.cluster import READONLY_NAMESPACE, READONLY_SA

    sizes: dict[str, int] = {}
    with (
        tempfile.TemporaryDirectory(prefix="fleet-sim-capture-") as workdir,
        RealClusters(0, Path(workdir), bin_dir or DEFAULT_BIN_DIR) as harness,
    ):
        hub = harness.clusters[0]
        assert hub.token is not None
        client = _Client(hub.server, hub.ca_file, hub.token)
        port = int(hub.server.rsplit(":", 1)[1])
        namespaces = ("default", "kube-system", "kube-public", "kube-node-lease")

        def controllers_done() -> bool:
            for ns in namespaces:
                for path in (
                    f"/api/v1/namespaces/{ns}/configmaps/kube-root-ca.crt",
                    f"/api/v1/namespaces/{ns}/serviceaccounts/default",
                ):
                    try:
                        client.get(path)
                    except urllib.error.HTTPError:
                        return False
            return True

        _wait_for("kube-root-ca.crt and the default ServiceAccounts", controllers_done)
        found = discovery(client)
        version = found["version"]
        target = out or DATA_ROOT / f"kube-{version['major']}.{version['minor']}"
        skip = {
            f"serviceaccounts/{READONLY_NAMESPACE}/{READONLY_SA}",
            f"clusterrolebindings//{READONLY_SA}-view",
        }
        captured = objects(client, found, port=port, hostname=socket.gethostname(), skip=skip)
        sizes["discovery.json.gz"] = _write_gzip(target / "discovery.json.gz", _dump(found))
        sizes["objects.json.gz"] = _write_gzip(
            target / "objects.json.gz",
            _dump({"source": version["gitVersion"], "objects": captured}),
        )
        sizes["openapi-v2.json.gz"] = _write_gzip(
            target / "openapi-v2.json.gz", client.raw("/openapi/v2")
        )
        sizes["openapi-v2.pb.gz"] = _write_gzip(
            target / "openapi-v2.pb.gz", client.raw("/openapi/v2", V2_PROTOBUF)
        )
        index = client.get("/openapi/v3")["paths"]
        names = {}
        for gv, entry in index.items():
            name = v3_file_name(gv)
            names[gv] = name
            body = client.raw(entry["serverRelativeURL"])
            sizes[f"openapi-v3/{name}"] = _write_gzip(target / "openapi-v3" / name, body)
        (target / "openapi-v3" / "index.json").write_text(json.dumps(names, indent=1) + "\n")
        templates = crd_templates(client)
        sizes["crd-templates.json.gz"] = _write_gzip(
            target / "crd-templates.json.gz", _dump(templates)
        )
    return sizes
