"""Argo CD's `ignoreDifferences` and `compare-options`: fields that never count as drift.

Rules match by group/kind (and optionally name/namespace). Fields are removed from both the
desired (dry-run) and the live object before comparison. Supported: `jsonPointers` (RFC 6901),
`jqPathExpressions` in the common subset (`.a.b`, `.a["x.y"]`, `.a[]`, `.a[]?`, `.a[0]`, and
`.a[] | select(.name == "x") | .b`), and `managedFieldsManagers` (fields owned by those managers,
read from managedFields FieldsV1, `f:` and `k:` keys).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fleet.sync.tracking import group_of

Obj = dict[str, Any]


@dataclass(frozen=True)
class IgnoreRule:
    group: str = ""
    kind: str = ""
    name: str = ""
    namespace: str = ""
    json_pointers: tuple[str, ...] = ()
    jq_paths: tuple[str, ...] = ()
    managers: tuple[str, ...] = field(default=())

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> IgnoreRule:
        return cls(
            group=str(raw.get("group") or ""),
            kind=str(raw.get("kind") or ""),
            name=str(raw.get("name") or ""),
            namespace=str(raw.get("namespace") or ""),
            json_pointers=tuple(raw.get("jsonPointers") or ()),
            jq_paths=tuple(raw.get("jqPathExpressions") or ()),
            managers=tuple(raw.get("managedFieldsManagers") or ()),
        )

    def matches(self, obj: Obj) -> bool:
        meta = obj.get("metadata") or {}
        return (
            (self.group in ("*", group_of(str(obj.get("apiVersion", "")))))
            and (self.kind in ("*", obj.get("kind")))
            and (not self.name or self.name == meta.get("name"))
            and (not self.namespace or self.namespace == meta.get("namespace"))
        )


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def remove_pointer(obj: Any, pointer: str) -> None:
    """Delete the value at a JSON pointer if present (missing paths are not an error)."""
    if not pointer or pointer == "/":
        return
    parts = [_unescape(p) for p in pointer.lstrip("/").split("/")]
    node = obj
    for part in parts[:-1]:
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return
    last = parts[-1]
    if isinstance(node, dict):
        node.pop(last, None)
    elif isinstance(node, list) and last.isdigit() and int(last) < len(node):
        del node[int(last)]


_SELECT = re.compile(r"^select\(\s*\.(\w+)\s*==\s*(\"[^\"]*\"|[\w.-]+)\s*\)$")
_STEP = re.compile(r'\.(?:(\w[\w-]*)|\["([^"]+)"\])|\[(\d*)\]\??')


def _steps(expr: str) -> list[tuple[str, Any]]:
    """Compile the jq subset into steps: ("key", k), ("each", None), ("index", i), ("select"...)."""
    steps: list[tuple[str, Any]] = []
    for segment in (s.strip() for s in expr.split("|")):
        match = _SELECT.match(segment)
        if match:
            steps.append(
                (
                    "select",
                    (
                        match.group(1),
                        json.loads(match.group(2))
                        if match.group(2).startswith('"')
                        else match.group(2),
                    ),
                )
            )
            continue
        pos = 0
        if segment == ".":
            continue
        while pos < len(segment):
            m = _STEP.match(segment, pos)
            if not m:
                raise ValueError(f"unsupported jq path expression: {expr}")
            if m.group(1) or m.group(2):
                steps.append(("key", m.group(1) or m.group(2)))
            elif m.group(3):
                steps.append(("index", int(m.group(3))))
            else:
                steps.append(("each", None))
            pos = m.end()
    return steps


def _locate(node: Any, steps: Sequence[tuple[str, Any]]) -> Iterator[tuple[Any, Any]]:
    """(container, key) pairs addressed by the steps (the last step is the one to delete)."""
    if not steps:
        return
    op, arg = steps[0]
    rest = steps[1:]
    if op == "select":
        key, want = arg
        if isinstance(node, dict) and str(node.get(key)) == str(want):
            yield from _locate_self(node, rest)
        return
    children: list[tuple[Any, Any]] = []
    keyed = op == "key" and isinstance(node, dict) and arg in node
    if keyed or (op == "index" and isinstance(node, list) and arg < len(node)):
        children = [(node, arg)]
    elif op == "each" and isinstance(node, list):
        children = [(node, i) for i in range(len(node))]
    elif op == "each" and isinstance(node, dict):
        children = [(node, k) for k in node]
    for container, key in children:
        if not rest:
            yield container, key
        else:
            yield from _locate(container[key], rest)


def _locate_self(node: Any, steps: Sequence[tuple[str, Any]]) -> Iterator[tuple[Any, Any]]:
    if steps:
        yield from _locate(node, steps)


def remove_jq(obj: Any, expr: str) -> None:
    targets = list(_locate(obj, _steps(expr)))
    for container, key in sorted(targets, key=lambda t: -t[1] if isinstance(t[1], int) else 0):
        if isinstance(container, dict):
            container.pop(key, None)
        elif isinstance(container, list) and key < len(container):
            del container[key]


def _remove_fields(node: Any, fields: Mapping[str, Any]) -> None:
    """Remove what a FieldsV1 set names from `node` (`f:` keys and `k:` list items)."""
    for key, sub in fields.items():
        if key.startswith("f:") and isinstance(node, dict):
            name = key[2:]
            if name not in node:
                continue
            if sub and any(k != "." for k in sub):
                _remove_fields(node[name], sub)
            else:
                node.pop(name, None)
        elif key.startswith("k:") and isinstance(node, list):
            want = json.loads(key[2:])
            for item in list(node):
                if isinstance(item, dict) and all(item.get(k) == v for k, v in want.items()):
                    if sub and any(k != "." for k in sub):
                        _remove_fields(item, sub)
                    else:
                        node.remove(item)


def managed_by(live: Obj, managers: Sequence[str]) -> list[Mapping[str, Any]]:
    entries = (live.get("metadata") or {}).get("managedFields") or []
    return [e.get("fieldsV1") or {} for e in entries if e.get("manager") in managers]


def apply_rules(obj: Obj, rules: Sequence[IgnoreRule], live: Obj | None = None) -> None:
    """Strip ignored fields from `obj` in place (`live` supplies managedFields)."""
    for rule in rules:
        if not rule.matches(obj):
            continue
        for pointer in rule.json_pointers:
            remove_pointer(obj, pointer)
        for expr in rule.jq_paths:
            remove_jq(obj, expr)
        if rule.managers and live is not None:
            for fields in managed_by(live, rule.managers):
                _remove_fields(obj, fields)
