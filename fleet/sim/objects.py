"""Object-level rules the API server applies on every write: names, defaults, generation.

Kept apart from the verbs so that create, update, patch and apply share one definition.
"""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from fleet.sim.errors import invalid
from fleet.sim.jsonutil import clone
from fleet.sim.kinds import ResourceType

JSON = dict[str, Any]

_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_DNS_LABEL_KINDS = frozenset({"Namespace", "Service"})


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_uid() -> str:
    return str(uuid.uuid4())


def generate_name(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_GENERATE_ALPHABET) for _ in range(5))


def validate_name(rt: ResourceType, name: str) -> None:
    if not name:
        raise invalid(
            rt.kind,
            rt.group,
            name,
            [
                (
                    "metadata.name",
                    "FieldValueRequired",
                    "Required value: name or generateName is required",
                )
            ],
        )
    if rt.kind in _DNS_LABEL_KINDS:
        ok = len(name) <= 63 and _LABEL.fullmatch(name) is not None
        what = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or"
        what += " '-', and must start and end with an alphanumeric character"
    else:
        ok = len(name) <= 253 and _SUBDOMAIN.fullmatch(name) is not None
        what = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters,"
        what += " '-' or '.', and must start and end with an alphanumeric character"
    if rt.kind in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"):
        ok = "/" not in name and name not in (".", "..") and "%" not in name
    if not ok:
        raise invalid(
            rt.kind,
            rt.group,
            name,
            [("metadata.name", "FieldValueInvalid", f'Invalid value: "{name}": {what}')],
        )


def content(obj: JSON, rt: ResourceType) -> JSON:
    """What `generation` tracks: everything but metadata (and status, when it is separate)."""
    skip = {"metadata", "status"} if rt.has_status else {"metadata"}
    return {k: v for k, v in obj.items() if k not in skip and k not in ("apiVersion", "kind")}


def initial_status(rt: ResourceType, obj: JSON) -> None:
    """The status an object has right after create (status sent by the client is dropped)."""
    if rt.kind == "Namespace":
        obj["spec"] = {"finalizers": ["kubernetes"]}
        obj["status"] = {"phase": "Active"}
    elif rt.kind == "Pod":
        obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
    elif rt.kind == "PersistentVolumeClaim":
        obj["status"] = {"phase": "Pending"}
    elif rt.kind == "Service":
        obj["status"] = {"loadBalancer": {}}
    elif rt.kind == "CustomResourceDefinition":
        obj["status"] = crd_status(obj)
    elif rt.builtin and rt.has_status:
        obj["status"] = {}
    elif rt.has_status:
        obj.pop("status", None)
    # without a status subresource, status is an ordinary field and is kept


def crd_status(crd: JSON) -> JSON:
    """What the CRD controllers write: names accepted, Established, stored versions."""
    spec = crd.get("spec") or {}
    stamp = now()
    storage = [v.get("name") for v in spec.get("versions") or () if v.get("storage")]
    names = clone(spec.get("names") or {})
    if names.get("kind") and "listKind" not in names:
        names["listKind"] = f"{names['kind']}List"
    if names.get("plural") and "singular" not in names:
        names["singular"] = str(names.get("kind", "")).lower()
    conditions = [
        {
            "type": "NamesAccepted",
            "status": "True",
            "reason": "NoConflicts",
            "message": "no conflicts found",
            "lastTransitionTime": stamp,
        },
        {
            "type": "Established",
            "status": "True",
            "reason": "InitialNamesAccepted",
            "message": "the initial names have been accepted",
            "lastTransitionTime": stamp,
        },
    ]
    return {"conditions": conditions, "acceptedNames": names, "storedVersions": storage}


_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_VALUE_HELP = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
_KEY_HELP = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
    "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
    "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)


def _key_ok(key: str) -> bool:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _SUBDOMAIN.fullmatch(prefix)):
        return False
    return 0 < len(name) <= 63 and _QUALIFIED_NAME.fullmatch(name) is not None


def validate_metadata(rt: ResourceType, obj: JSON) -> None:
    """422 for label and annotation keys or label values the API server rejects."""
    meta = obj.get("metadata") or {}
    causes: list[tuple[str, str, str]] = []
    for field in ("labels", "annotations"):
        values = meta.get(field) or {}
        if not isinstance(values, dict):
            continue
        for key, value in values.items():
            if not _key_ok(str(key)):
                causes.append(
                    (
                        f"metadata.{field}",
                        "FieldValueInvalid",
                        f'Invalid value: "{key}": {_KEY_HELP}',
                    )
                )
            if field == "labels" and (
                not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.fullmatch(value)
            ):
                causes.append(
                    (
                        "metadata.labels",
                        "FieldValueInvalid",
                        f'Invalid value: "{value}": {_VALUE_HELP}',
                    )
                )
    if causes:
        raise invalid(rt.kind, rt.group, str(meta.get("name", "")), causes)


def validate_update(rt: ResourceType, old: JSON, new: JSON) -> None:
    """The immutability rules clients run into: immutable ConfigMaps/Secrets, selectors."""
    name = str((old.get("metadata") or {}).get("name", ""))
    if rt.kind in ("ConfigMap", "Secret") and old.get("immutable"):
        for field in ("data", "binaryData"):
            if old.get(field) != new.get(field):
                raise invalid(
                    rt.kind,
                    rt.group,
                    name,
                    [
                        (
                            field,
                            "FieldValueForbidden",
                            "Forbidden: field is immutable when `immutable` is set",
                        )
                    ],
                )
        if new.get("immutable") is not True:
            raise invalid(
                rt.kind,
                rt.group,
                name,
                [
                    (
                        "immutable",
                        "FieldValueForbidden",
                        "Forbidden: field is immutable when `immutable` is set",
                    )
                ],
            )
    if rt.kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        before = (old.get("spec") or {}).get("selector")
        after = (new.get("spec") or {}).get("selector")
        if before != after:
            raise invalid(
                rt.kind,
                rt.group,
                name,
                [
                    (
                        "spec.selector",
                        "FieldValueInvalid",
                        f"Invalid value: {after}: field is immutable",
                    )
                ],
            )
