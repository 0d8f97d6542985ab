"""Kubernetes label selectors (matchLabels, matchExpressions) over string maps.

Used twice, as in Argo CD: the clusters generator matches cluster labels, and a generator-level
`selector` filters parameter sets (only their top-level string values count as labels). Like Argo
CD's copy of `LabelSelectorAsSelector`, values are not restricted to label-value syntax, so a
selector can match a server URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from generators.errors import InvalidApplicationSetError
from generators.fields import type_name

_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    operator: str
    values: frozenset[str]

    def matches(self, labels: Mapping[str, Any]) -> bool:
        present = self.key in labels and isinstance(labels[self.key], str)
        if self.operator == "Exists":
            return present
        if self.operator == "DoesNotExist":
            return not present
        if self.operator == "In":
            return present and labels[self.key] in self.values
        # NotIn also matches objects that lack the key, as in Kubernetes.
        return not present or labels[self.key] not in self.values


@dataclass(frozen=True, slots=True)
class LabelSelector:
    requirements: tuple[Requirement, ...]

    @property
    def is_empty(self) -> bool:
        return not self.requirements

    def matches(self, labels: Mapping[str, Any]) -> bool:
        return all(r.matches(labels) for r in self.requirements)


EVERYTHING = LabelSelector(())


def parse_selector(raw: Any, path: str) -> LabelSelector:
    """Parse a `metav1.LabelSelector` document, naming the offending field on error."""
    if raw is None:
        return EVERYTHING
    if not isinstance(raw, Mapping):
        raise InvalidApplicationSetError(path, f"expected a mapping, got {type_name(raw)}")
    unknown = set(raw) - {"matchLabels", "matchExpressions"}
    if unknown:
        raise InvalidApplicationSetError(
            f"{path}.{sorted(unknown)[0]}", "unknown field (expected matchLabels, matchExpressions)"
        )
    requirements: list[Requirement] = []
    match_labels = raw.get("matchLabels") or {}
    if not isinstance(match_labels, Mapping):
        raise InvalidApplicationSetError(
            f"{path}.matchLabels", f"expected a mapping, got {type_name(match_labels)}"
        )
    for key, value in match_labels.items():
        if not isinstance(value, str):
            raise InvalidApplicationSetError(
                f"{path}.matchLabels.{key}", f"expected a string, got {type_name(value)}"
            )
        requirements.append(Requirement(str(key), "In", frozenset((value,))))
    expressions = raw.get("matchExpressions") or []
    if not isinstance(expressions, list):
        raise InvalidApplicationSetError(
            f"{path}.matchExpressions", f"expected a list, got {type_name(expressions)}"
        )
    for index, expression in enumerate(expressions):
        requirements.append(_parse_expression(expression, f"{path}.matchExpressions[{index}]"))
    return LabelSelector(tuple(requirements))


def _parse_expression(raw: Any, path: str) -> Requirement:
    if not isinstance(raw, Mapping):
        raise InvalidApplicationSetError(path, f"expected a mapping, got {type_name(raw)}")
    key = raw.get("key")
    if not isinstance(key, str) or not key:
        raise InvalidApplicationSetError(f"{path}.key", "a non-empty string is required")
    operator = raw.get("operator")
    if operator not in _OPERATORS:
        raise InvalidApplicationSetError(
            f"{path}.operator",
            f"{operator!r} is not a valid label selector operator "
            f"(expected one of {', '.join(_OPERATORS)})",
        )
    values = raw.get("values") or []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise InvalidApplicationSetError(f"{path}.values", "expected a list of strings")
    if operator in ("In", "NotIn") and not values:
        raise InvalidApplicationSetError(
            f"{path}.values", f"must be non-empty for operator {operator}"
        )
    if operator in ("Exists", "DoesNotExist") and values:
        raise InvalidApplicationSetError(f"{path}.values", f"must be empty for operator {operator}")
    return Requirement(key, str(operator), frozenset(values))
