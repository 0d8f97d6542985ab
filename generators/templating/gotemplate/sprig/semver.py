"""Sprig's semver functions (Masterminds/semver v3): parsing, printing and constraints."""

from __future__ import annotations

import re
from typing import Any

from ..errors import FuncError
from ..funcspec import Kind, register

_VERSION = re.compile(
    r"^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?"
    r"(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
    r"(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?$"
)


class SemVer:
    """A parsed version; templates read it via fields (.Major) and print its String()."""

    __slots__ = ("major", "metadata", "minor", "original", "patch", "pre")

    def __init__(self, text: str) -> None:
        m = _VERSION.match(text)
        if not m:
            raise FuncError("Invalid Semantic Version")
        self.original = text
        self.major = int(m.group(1))
        self.minor = int(m.group(2)[1:]) if m.group(2) else 0
        self.patch = int(m.group(3)[1:]) if m.group(3) else 0
        self.pre = m.group(5) or ""
        self.metadata = m.group(8) or ""
        for part in self.pre.split(".") if self.pre else []:
            if part.isdigit() and len(part) > 1 and part.startswith("0"):
                raise FuncError("Version segment starts with 0")

    def go_fields(self) -> dict[str, Any]:
        return {
            "Major": self.major,
            "Minor": self.minor,
            "Patch": self.patch,
            "Prerelease": self.pre,
            "Metadata": self.metadata,
            "Original": self.original,
        }

    def __str__(self) -> str:
        s = f"{self.major}.{self.minor}.{self.patch}"
        if self.pre:
            s += "-" + self.pre
        if self.metadata:
            s += "+" + self.metadata
        return s

    def go_json(self) -> str:
        return '"' + str(self) + '"'

    def compare(self, o: SemVer) -> int:
        a = (self.major, self.minor, self.patch)
        b = (o.major, o.minor, o.patch)
        if a != b:
            return -1 if a < b else 1
        return _cmp_pre(self.pre, o.pre)


def _cmp_pre(a: str, b: str) -> int:
    if a == b:
        return 0
    if not a:
        return 1
    if not b:
        return -1
    pa, pb = a.split("."), b.split(".")
    for x, y in zip(pa, pb, strict=False):
        if x == y:
            continue
        if x.isdigit() and y.isdigit():
            return -1 if int(x) < int(y) else 1
        if x.isdigit():
            return -1
        if y.isdigit():
            return 1
        return -1 if x < y else 1
    return (len(pa) > len(pb)) - (len(pa) < len(pb))


@register("semver", Kind.STR)
def semver(s: str) -> SemVer:
    return SemVer(s)


_CONSTRAINT = re.compile(
    r"^\s*(=|!=|>=|=>|<=|=<|>|<|~>|~|\^)?\s*v?([0-9xX*]+(\.[0-9xX*]+)?(\.[0-9xX*]+)?(-[0-9A-Za-z\-.]+)?(\+[0-9A-Za-z\-.]+)?)\s*$"
)


def _check_one(op: str, spec: str, v: SemVer) -> bool:
    parts = re.match(r"([0-9xX*]+)(?:\.([0-9xX*]+))?(?:\.([0-9xX*]+))?(.*)$", spec)
    if not parts:
        raise FuncError(f"improper constraint: {spec}")
    raw = [parts.group(1), parts.group(2), parts.group(3)]
    wild = [p is None or p in ("x", "X", "*") for p in raw]
    nums = [0 if w else int(p or 0) for p, w in zip(raw, wild, strict=True)]
    rest = parts.group(4) or ""
    pre = rest[1:].split("+")[0] if rest.startswith("-") else ""
    c = SemVer(f"{nums[0]}.{nums[1]}.{nums[2]}" + (f"-{pre}" if pre else ""))
    dirty = any(wild)
    if v.pre and not pre:
        return False
    if v.pre and pre and (v.major, v.minor, v.patch) != (c.major, c.minor, c.patch):
        return False
    cmp = v.compare(c)
    if op in ("", "="):
        if not dirty:
            return cmp == 0
        if wild[0]:
            return True
        if v.major != c.major:
            return False
        if wild[1]:
            return True
        if v.minor != c.minor:
            return False
        return wild[2] or v.patch == c.patch
    if op == "!=":
        return not _check_one("=", spec, v)
    if op == ">":
        if not dirty:
            return cmp > 0
        if wild[1]:
            return v.major > c.major
        return (v.major, v.minor) > (c.major, c.minor)
    if op == "<":
        return cmp < 0
    if op in (">=", "=>"):
        return cmp >= 0
    if op in ("<=", "=<"):
        if not dirty:
            return cmp <= 0
        if wild[1]:
            return v.major <= c.major
        return (v.major, v.minor) <= (c.major, c.minor)
    if op in ("~", "~>"):
        if cmp < 0:
            return False
        if wild[1] and not wild[0] and raw[1] is None:
            return v.major == c.major
        if wild[0]:
            return True
        if v.major != c.major:
            return False
        return v.minor == c.minor or wild[1]
    if op == "^":
        if cmp < 0:
            return False
        if c.major > 0 or wild[1]:
            return v.major == c.major
        if c.minor > 0 or wild[2]:
            return v.major == 0 and v.minor == c.minor
        return v.major == 0 and v.minor == 0 and v.patch == c.patch
    raise FuncError(f"improper constraint: {op}{spec}")


def _and_group(group: str, v: SemVer) -> bool:
    hy = re.match(r"^\s*(\S+)\s+-\s+(\S+)\s*$", group)
    if hy:
        return _check_one(">=", hy.group(1), v) and _check_one("<=", hy.group(2), v)
    tokens = re.findall(r"(?:=|!=|>=|=>|<=|=<|>|<|~>|~|\^)?\s*v?[0-9xX*][0-9A-Za-z\-.+*]*", group)
    if not tokens or re.sub(r"[\s,]", "", group) != re.sub(r"\s", "", "".join(tokens)):
        raise FuncError(f"improper constraint: {group}")
    for tok in tokens:
        m = _CONSTRAINT.match(tok)
        if not m:
            raise FuncError(f"improper constraint: {tok}")
        if not _check_one(m.group(1) or "", m.group(2), v):
            return False
    return True


@register("semverCompare", Kind.STR, Kind.STR)
def semver_compare(constraint: str, version: str) -> bool:
    v = SemVer(version)
    return any(_and_group(g, v) for g in constraint.split("||"))
