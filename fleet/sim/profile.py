"""Profiles: which kinds a simulated cluster serves and which objects it starts with.

- `minimal` (the default): the 20 kinds of `kinds.BUILTIN_TYPES` and the four namespaces every
  cluster has. Cheap, and enough for fleet's own tests.
- `realistic`: what a kind (kubeadm) member of Kubernetes 1.36 serves and holds, so that
  discovery, watches, compares and benchmarks see what they would see on a real member: every
  watchable resource of kube-apiserver v1.36.3's discovery (captured) and its default objects:
  the ones the real apiserver and controller-manager create (captured: RBAC, FlowSchemas,
  PriorityLevelConfigurations, PriorityClasses, APIServices, namespaces, ServiceAccounts,
  kube-root-ca.crt, the `kubernetes` Service, ...) plus the ones kubeadm and kind add
  (`kubeadm.yaml`, hand-made: Node, CoreDNS, kube-proxy, kindnet, local-path StorageClass, ...).

The data lives in `fleet/sim/data/kube-1.36/` (see its README.md for how it was captured) and is
loaded once per process, on first use. Objects are prepared once per process too (defaults,
generation, managedFields, settled workload status) and every cluster stores shallow copies
with their own metadata: nested values are shared between clusters, which is safe because the
store never mutates a stored object in place. 100 realistic clusters cost about what 100 sets
of metadata cost, not 100 deep copies.

`python -m fleet.sim.profile capture` refreshes the captured data from the real server.
"""

from __future__ import annotations

import argparse
import base64
import functools
import gzip
import json
import re
import sys
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from fleet.sim import defaults, objects, ssa
from fleet.sim.jsonutil import clone
from fleet.sim.kinds import BUILTIN_BY_GVR, BUILTIN_TYPES, CRDS, NAMESPACES, ResourceType
from fleet.sim.workload_status import SUPPORTED_KINDS, settled_status

if TYPE_CHECKING:
    from fleet.sim.api import ClusterAPI
    from fleet.sim.discovery import Documents

JSON = dict[str, Any]

DATA_DIR = Path(__file__).resolve().parent / "data" / "kube-1.36"
PROFILE_NAMES = ("minimal", "realistic")
DEFAULT_PROFILE = "minimal"

MINIMAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")

#: Kinds whose objects get `metadata.generation` (1 on create, +1 per spec change) in 1.36:
#: checked with a server-side dry-run create of each kind against kube-apiserver v1.36.3.
#: HorizontalPodAutoscaler, ResourceClaim(Template), ServiceCIDR, IPAddress, Lease, APIService,
#: StorageClass, CSIDriver and the core kinds other than Pod, ReplicationController and
#: PodTemplate do not track it.
TRACKS_GENERATION = frozenset(
    {
        "Pod",
        "ReplicationController",
        "PodTemplate",
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "ReplicaSet",
        "Job",
        "CronJob",
        "Ingress",
        "IngressClass",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "PriorityClass",
        "EndpointSlice",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
        "DeviceClass",
        "ResourceSlice",
        "FlowSchema",
        "PriorityLevelConfiguration",
        "CustomResourceDefinition",
    }
)

#: Who writes the status of hand-made objects (managedFields), by kind.
_STATUS_MANAGERS = {"Pod": "kubelet", "Node": "kubelet"}
#: Who creates hand-made objects (managedFields), by kind; kubeadm otherwise.
_MANAGERS = {
    "Pod": "kubelet",
    "Node": "kubelet",
    "CSINode": "kubelet",
    "ReplicaSet": "kube-controller-manager",
    "ControllerRevision": "kube-controller-manager",
    "EndpointSlice": "kube-controller-manager",
    "Endpoints": "kube-controller-manager",
    "Lease": "kube-controller-manager",
    "ServiceAccount": "kube-controller-manager",
}
_PLACEHOLDER = re.compile(r"\{\{sim:([a-z.0-9]+)\}\}")


class ProfileError(ValueError):
    """An unknown profile name, or profile data that does not fit the kinds it declares."""


def _read_gzip_json(name: str) -> Any:
    return json.loads(gzip.decompress((DATA_DIR / name).read_bytes()))


@functools.cache
def captured_discovery() -> JSON:
    """The real server's /version, /apis and resource lists (`discovery.json.gz`)."""
    data: JSON = _read_gzip_json("discovery.json.gz")
    return data


@dataclass(frozen=True, slots=True)
class _Template:
    """One default object, prepared once per process; `seed` gives each cluster a copy."""

    gr: str
    obj: JSON
    #: metadata keys before uid/resourceVersion (name, namespace, generateName)
    head: tuple[tuple[str, Any], ...]
    #: the rest of the metadata (generation, labels, ..., managedFields)
    tail: tuple[tuple[str, Any], ...]
    #: per ownerReference: index of the owner's template
    owners: tuple[int, ...]
    has_ca: bool


class Profile:
    """The kinds a cluster serves and the objects it starts with."""

    def __init__(
        self,
        name: str,
        types: Iterable[ResourceType],
        version_body: bytes,
        seeder: Callable[[Profile, ClusterAPI, bytes], None],
    ) -> None:
        self.name = name
        self.types: tuple[ResourceType, ...] = tuple(types)
        self.by_gvr: dict[tuple[str, str, str], ResourceType] = {
            (t.group, t.version, t.resource): t for t in self.types
        }
        self.by_gvk: dict[tuple[str, str, str], ResourceType] = {
            (t.group, t.version, t.kind): t for t in self.types
        }
        self.version_body = version_body
        self._seeder = seeder
        self._documents: Documents | None = None
        self._templates: list[_Template] | None = None
        self._by_ca: dict[bytes, list[_Template]] = {}

    def __repr__(self) -> str:
        return f"Profile({self.name!r}, {len(self.types)} types)"

    def documents(self) -> Documents:
        """Discovery (and OpenAPI) documents of the profile's own types, built once."""
        if self._documents is None:
            from fleet.sim.discovery import Documents

            self._documents = Documents(list(self.types), self)
        return self._documents

    def seed(self, api: ClusterAPI, ca_pem: bytes) -> None:
        """Store the profile's default objects in a new cluster."""
        self._seeder(self, api, ca_pem)

    # -- realistic objects -----------------------------------------------------------------------

    def templates(self, ca_pem: bytes) -> list[_Template]:
        """The prepared default objects with the server's CA filled in."""
        found = self._by_ca.get(ca_pem)
        if found is not None:
            return found
        if self._templates is None:
            self._templates = _prepare(self, _raw_objects())
        ca = {"ca.crt": ca_pem.decode(), "ca.crt.base64": base64.b64encode(ca_pem).decode()}
        out = [_with_ca(t, ca) if t.has_ca else t for t in self._templates]
        if len(self._by_ca) >= 8:  # one CA per SimServer: a few servers per process at most
            self._by_ca.pop(next(iter(self._by_ca)))
        self._by_ca[ca_pem] = out
        return out


def _seed_minimal(profile: Profile, api: ClusterAPI, ca_pem: bytes) -> None:
    for name in MINIMAL_NAMESPACES:
        api.create_builtin_namespace(name)


def _seed_realistic(profile: Profile, api: ClusterAPI, ca_pem: bytes) -> None:
    templates = profile.templates(ca_pem)
    uids = [objects.new_uid() for _ in templates]
    now = objects.now()
    store = api.store
    for template, uid in zip(templates, uids, strict=True):
        meta: JSON = dict(template.head)
        meta["uid"] = uid
        meta["resourceVersion"] = ""
        meta["creationTimestamp"] = now
        meta.update(template.tail)
        if template.owners:
            meta["ownerReferences"] = [
                {**ref, "uid": uids[index]}
                for ref, index in zip(meta["ownerReferences"], template.owners, strict=True)
            ]
        obj = dict(template.obj)
        obj["metadata"] = meta
        store.write(template.gr, obj)


# -- loading ------------------------------------------------------------------------------------


def _raw_objects() -> list[tuple[dict[str, str], JSON, bool]]:
    """(managers, object, hand-made) for every default object, placeholders filled in except
    the CA (per server)."""
    captured = _read_gzip_json("objects.json.gz")["objects"]
    hand = yaml.safe_load((DATA_DIR / "kubeadm.yaml").read_text())["items"]
    values = {
        "now": objects.now(),
        "now.micro": objects.now()[:-1] + ".000000Z",
        "today": objects.now()[:10],
        "uuid": str(uuid.uuid4()),
    }
    out = []
    for entry in captured:
        out.append((dict(entry["managers"]), _fill(entry["object"], values), False))
    for obj in hand:
        kind = str(obj.get("kind", ""))
        managers = {"": _MANAGERS.get(kind, "kubeadm")}
        if "status" in obj:
            managers["status"] = _STATUS_MANAGERS.get(kind, "kube-controller-manager")
        # clone: YAML anchors share nodes between objects, defaults must not leak across them
        out.append((managers, _fill(clone(obj), values), True))
    return out


def _fill(value: Any, values: Mapping[str, str]) -> Any:
    """Placeholders replaced by `values`; unknown ones (the CA) are left for `_with_ca`."""
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    if isinstance(value, str) and "{{sim:" in value:
        return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), value)
    return value


def _with_ca(template: _Template, ca: Mapping[str, str]) -> _Template:
    obj = _fill(template.obj, ca)
    return replace(template, obj=obj, has_ca=False)


def _split_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


def _prepare(profile: Profile, raw: list[tuple[dict[str, str], JSON, bool]]) -> list[_Template]:
    """Objects as the API server would have stored them, minus per-cluster metadata."""
    prepared: list[tuple[ResourceType, JSON]] = []
    index: dict[tuple[str, str, str, str], int] = {}
    ips = defaults.ClusterIPs()
    for managers, obj, hand in raw:
        group, version = _split_version(str(obj.get("apiVersion", "")))
        rt = profile.by_gvk.get((group, version, str(obj.get("kind", ""))))
        if rt is None:
            raise ProfileError(
                f"profile {profile.name!r}: default object {obj.get('kind')} "
                f"{obj.get('metadata', {}).get('name')!r} has a kind the profile does not serve"
            )
        meta = obj.setdefault("metadata", {})
        if hand:
            defaults.apply_defaults(rt, obj, ips)
            if rt.kind in SUPPORTED_KINDS and "status" not in obj:
                obj["status"] = settled_status(obj, failing=False)
        if rt.tracks_generation:
            meta["generation"] = 1
        status = obj.get("status") if rt.has_status else None
        body = {k: v for k, v in obj.items() if k != "status"} if status is not None else obj
        now = objects.now()
        ssa.track_update(
            None,
            body,
            manager=managers.get("", "kube-apiserver"),
            api_version=rt.api_version,
            subresource="",
            has_status=rt.has_status,
            schema=rt.schema,
            now=now,
        )
        if status is not None:
            obj = {**body, "status": status}
            ssa.track_update(
                body,
                obj,
                manager=managers.get("status", "kube-controller-manager"),
                api_version=rt.api_version,
                subresource="status",
                has_status=True,
                schema=rt.schema,
                now=now,
            )
        obj = _ordered(obj)
        namespace = str(obj["metadata"].get("namespace", ""))
        index[(obj["apiVersion"], obj["kind"], namespace, obj["metadata"]["name"])] = len(prepared)
        prepared.append((rt, obj))
    out = []
    for rt, obj in prepared:
        meta = obj["metadata"]
        owners = []
        for ref in meta.get("ownerReferences") or ():
            owner_group, owner_version = _split_version(str(ref.get("apiVersion", "")))
            owner_rt = profile.by_gvk.get((owner_group, owner_version, str(ref.get("kind", ""))))
            owner_ns = meta.get("namespace", "") if owner_rt and owner_rt.namespaced else ""
            key = (ref.get("apiVersion"), ref.get("kind"), owner_ns, ref.get("name"))
            if key not in index:
                raise ProfileError(
                    f"profile {profile.name!r}: {obj['kind']} {meta['name']!r} names an owner "
                    f"that is not a default object: {key}"
                )
            owners.append(index[key])
        head_keys = ("name", "namespace", "generateName")
        head = tuple((k, meta[k]) for k in head_keys if k in meta)
        tail = tuple((k, v) for k, v in meta.items() if k not in head_keys)
        body = {k: v for k, v in obj.items() if k != "metadata"}
        out.append(
            _Template(
                gr=rt.gr,
                obj={"apiVersion": obj["apiVersion"], "kind": obj["kind"], **body},
                head=head,
                tail=tail,
                owners=tuple(owners),
                has_ca="{{sim:ca.crt" in json.dumps(obj),
            )
        )
    return out


_FIRST = ("apiVersion", "kind", "metadata", "spec")


def _ordered(obj: JSON) -> JSON:
    out = {k: obj[k] for k in _FIRST if k in obj}
    out.update({k: v for k, v in obj.items() if k not in out and k != "status"})
    if "status" in obj:
        out["status"] = obj["status"]
    return out


# -- types --------------------------------------------------------------------------------------


def realistic_types(found: JSON) -> list[ResourceType]:
    """Every watchable resource of the captured discovery, in the server's group order.

    Kinds the minimal profile serves keep their `ResourceType` (the verbs rely on the identity
    of NAMESPACES and CRDS) unless 1.36 differs (pods track generation since 1.35).
    """
    order = ["v1"] + [v["groupVersion"] for g in found["groups"]["groups"] for v in g["versions"]]
    out: list[ResourceType] = []
    for gv in order:
        listing = found["resources"][gv]
        group, version = _split_version(gv)
        names = {r["name"] for r in listing["resources"]}
        for resource in listing["resources"]:
            name = resource["name"]
            if "/" in name or "watch" not in resource["verbs"]:
                continue
            existing = BUILTIN_BY_GVR.get((group, version, name))
            generation = resource["kind"] in TRACKS_GENERATION
            if existing is not None and (
                existing in (NAMESPACES, CRDS) or existing.tracks_generation == generation
            ):
                out.append(existing)
                continue
            built = ResourceType(
                group=group,
                version=version,
                resource=name,
                kind=resource["kind"],
                namespaced=bool(resource["namespaced"]),
                singular=resource.get("singularName") or resource["kind"].lower(),
                short_names=tuple(resource.get("shortNames") or ()),
                categories=tuple(resource.get("categories") or ()),
                has_status=f"{name}/status" in names,
                scale=(".spec.replicas", ".status.replicas", "")
                if f"{name}/scale" in names
                else None,
                tracks_generation=generation,
            )
            out.append(replace(existing, tracks_generation=generation) if existing else built)
    return out


_MINIMAL_VERSION = json.dumps(
    {
        "major": "1",
        "minor": "32",
        "emulationMajor": "1",
        "emulationMinor": "32",
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "31",
        "gitVersion": "v1.32.0-fleet-sim",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z",
        "goVersion": "go1.23.4",
        "compiler": "gc",
        "platform": "linux/amd64",
    },
    separators=(",", ":"),
).encode()


MINIMAL = Profile("minimal", BUILTIN_TYPES, _MINIMAL_VERSION, _seed_minimal)


@functools.cache
def _realistic() -> Profile:
    found = captured_discovery()
    version = json.dumps(found["version"], separators=(",", ":")).encode()
    return Profile("realistic", realistic_types(found), version, _seed_realistic)


def get_profile(name: str | Profile) -> Profile:
    """The profile called `name` (`minimal` or `realistic`)."""
    if isinstance(name, Profile):
        return name
    if name == "minimal":
        return MINIMAL
    if name == "realistic":
        return _realistic()
    raise ProfileError(f"unknown fleet.sim profile {name!r}: use one of {', '.join(PROFILE_NAMES)}")


# -- command line -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fleet.sim.profile", description="fleet.sim profile data"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    capture = commands.add_parser(
        "capture", help="refresh the realistic profile's data from a real kube-apiserver"
    )
    capture.add_argument("--out", type=Path, default=None, help="default: fleet/sim/data/kube-X.Y")
    capture.add_argument("--bin-dir", type=Path, default=None, help="default: .cache/bin")
    show = commands.add_parser("show", help="print a profile's kinds and default objects")
    show.add_argument("name", choices=PROFILE_NAMES)
    args = parser.parse_args(argv)
    if args.command == "capture":
        from fleet.sim.capture import capture as run_capture

        sizes = run_capture(args.out, args.bin_dir)
        json.dump(sizes, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    profile = get_profile(args.name)
    kinds = sorted(f"{t.resource}.{t.group}/{t.version}".replace("./", "/") for t in profile.types)
    count = len(profile.templates(b"")) if profile.name == "realistic" else len(MINIMAL_NAMESPACES)
    json.dump({"profile": profile.name, "kinds": kinds, "objects": count}, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
