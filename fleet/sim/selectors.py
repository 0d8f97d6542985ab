"""Label and field selectors with the syntax the API server accepts.

Parsed once per request into small predicate objects, then applied to every listed or watched
object; errors become 400 BadRequest like the real server's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fleet.sim.errors import ApiError, bad_request

_TOKEN = re.compile(r"\s*(!=|==|=|!|\(|\)|,|[A-Za-z0-9_./\-]+)")


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!"
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.op == "exists":
            return self.key in labels
        if self.op == "!":
            return self.key not in labels
        if self.op in ("=", "in"):
            return self.key in labels and labels[self.key] in self.values
        # "!=" and "notin" match objects without the label too, as in Kubernetes
        return labels.get(self.key) not in self.values if self.key in labels else True


@dataclass(frozen=True, slots=True)
class LabelSelector:
    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        present = labels or {}
        return all(r.matches(present) for r in self.requirements)


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m:
            raise bad_request(f"unable to parse requirement: invalid label selector: {text!r}")
        out.append(m.group(1))
        pos = m.end()
    return out


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse `a=b,c!=d,e in (f,g),!h,i`."""
    if not text:
        return LabelSelector()
    toks = _tokens(text)
    reqs: list[Requirement] = []
    i = 0

    def fail() -> ApiError:
        return bad_request(f"unable to parse requirement: found invalid label selector {text!r}")

    while i < len(toks):
        tok = toks[i]
        if tok == "!":
            if i + 1 >= len(toks):
                raise fail()
            reqs.append(Requirement(toks[i + 1], "!"))
            i += 2
        else:
            key = tok
            nxt = toks[i + 1] if i + 1 < len(toks) else ","
            if nxt == ",":
                reqs.append(Requirement(key, "exists"))
                i += 1
            elif nxt in ("=", "==", "!="):
                if i + 2 >= len(toks) or toks[i + 2] in (",", "(", ")"):
                    value = ""
                    i += 2
                else:
                    value = toks[i + 2]
                    i += 3
                reqs.append(Requirement(key, "!=" if nxt == "!=" else "=", frozenset({value})))
            elif nxt in ("in", "notin"):
                if i + 2 >= len(toks) or toks[i + 2] != "(":
                    raise fail()
                j = i + 3
                values: set[str] = set()
                while j < len(toks) and toks[j] != ")":
                    if toks[j] != ",":
                        values.add(toks[j])
                    j += 1
                if j >= len(toks):
                    raise fail()
                reqs.append(Requirement(key, nxt, frozenset(values)))
                i = j + 1
            else:
                raise fail()
        if i < len(toks):
            if toks[i] != ",":
                raise fail()
            i += 1
    return LabelSelector(tuple(reqs))


_FIELDS = ("metadata.name", "metadata.namespace")

_EVENT_FIELDS = (
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
)
"""What a real API server also selects core/v1 Events on: `kubectl describe` lists an
object's Events with `involvedObject.name=...,involvedObject.uid=...`."""


def selectable_fields(group: str, resource: str) -> tuple[str, ...]:
    """The fields a list or watch of this resource may select on."""
    if group == "" and resource == "events":
        return _FIELDS + _EVENT_FIELDS
    return _FIELDS


def _field_value(obj: Mapping[str, Any], field: str) -> str:
    if field == "source":  # a real server selects on the Event's source.component
        field = "source.component"
    node: Any = obj
    for key in field.split("."):
        node = node.get(key) if isinstance(node, Mapping) else None
    return "" if node is None else str(node)


@dataclass(frozen=True, slots=True)
class FieldSelector:
    """Field equality terms (=, == and !=) on the fields a resource supports."""

    terms: tuple[tuple[str, bool, str], ...] = ()  # (field, equal, value)

    def matches(self, obj: Mapping[str, Any]) -> bool:
        for field, equal, value in self.terms:
            if (_field_value(obj, field) == value) != equal:
                return False
        return True

    def name(self) -> str | None:
        """The single name asked for, when the selector pins one (lets lists skip a scan)."""
        for field, equal, value in self.terms:
            if field == "metadata.name" and equal:
                return value
        return None


def parse_field_selector(text: str | None, fields: tuple[str, ...] = _FIELDS) -> FieldSelector:
    if not text:
        return FieldSelector()
    terms: list[tuple[str, bool, str]] = []
    for raw in text.split(","):
        part = raw.strip()
        if not part:
            continue
        op = next((o for o in ("!=", "==", "=") if o in part), None)
        if op is None:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        field, value = part.split(op, 1)
        field = field.strip()
        if field not in fields:
            known = ", ".join(f'"{f}"' for f in fields)
            raise bad_request(f'"{field}" is not a known field selector: only {known}')
        terms.append((field, op != "!=", value.strip()))
    return FieldSelector(tuple(terms))
