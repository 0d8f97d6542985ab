"""Kubernetes label selectors in their string form (`env=prod,tier in (web,api),!legacy`), as
Argo CD's global `subscriptions` use them; matched with generators.selector's requirements.
"""

from __future__ import annotations

import re

from generators.selector import EVERYTHING, LabelSelector, Requirement

MAX_SELECTOR = 1024
_SET = re.compile(r"^\s*([^\s!=(),]+)\s+(in|notin)\s*\(([^()]*)\)\s*$")
_EQUALITY = re.compile(r"^\s*([^\s!=(),]+)\s*(==|=|!=)\s*([^\s!=(),]*)\s*$")
_EXISTS = re.compile(r"^\s*(!?)\s*([^\s!=(),]+)\s*$")


class SelectorError(ValueError):
    """The selector text is not a label selector (names the term)."""


def _terms(text: str) -> list[str]:
    terms: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            terms.append("".join(current))
            current = []
        else:
            current.append(char)
    terms.append("".join(current))
    return terms


def parse_label_selector(text: str) -> LabelSelector:
    """The selector `text` means; empty text selects everything."""
    if len(text) > MAX_SELECTOR:
        raise SelectorError(f"longer than {MAX_SELECTOR} characters")
    if not text.strip():
        return EVERYTHING
    requirements: list[Requirement] = []
    for term in _terms(text):
        if match := _SET.match(term):
            values = frozenset(v.strip() for v in match.group(3).split(",") if v.strip())
            if not values:
                raise SelectorError(f"{term.strip()!r}: an empty set of values")
            operator = "In" if match.group(2) == "in" else "NotIn"
            requirements.append(Requirement(match.group(1), operator, values))
        elif match := _EQUALITY.match(term):
            operator = "NotIn" if match.group(2) == "!=" else "In"
            requirements.append(Requirement(match.group(1), operator, frozenset({match.group(3)})))
        elif match := _EXISTS.match(term):
            operator = "DoesNotExist" if match.group(1) else "Exists"
            requirements.append(Requirement(match.group(2), operator, frozenset()))
        else:
            raise SelectorError(f"{term.strip()!r} is not a label selector term")
    return LabelSelector(tuple(requirements))
