"""Sprig's regex functions: Go RE2 syntax and match semantics on top of Python's `re`.

RE2 and Python differ in places users hit: `$` never matches before a trailing newline in
Go, `\\d`/`\\w`/`\\s` are ASCII, `\\z` ends the text, empty matches right after a match are
skipped by Go's *All functions, and replacement templates use `$1`/`${name}`.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from ..errors import FuncError
from ..funcspec import Kind, register
from .common import check_size

_POSIX = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7f",
    "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}


def translate(pat: str) -> str:
    """Rewrite an RE2 pattern into an equivalent Python pattern, or raise FuncError."""
    out: list[str] = []
    i = 0
    n = len(pat)
    in_class = False
    multiline = False
    while i < n:
        c = pat[i]
        if c == "\\":
            if i + 1 >= n:
                raise FuncError("error parsing regexp: trailing backslash at end of expression: ``")
            d = pat[i + 1]
            if d == "Q":
                end = pat.find("\\E", i + 2)
                lit = pat[i + 2 :] if end < 0 else pat[i + 2 : end]
                out.append(re.escape(lit))
                i = n if end < 0 else end + 2
                continue
            if d == "z" and not in_class:
                out.append("\\Z")
            elif d == "Z":
                raise FuncError("error parsing regexp: invalid escape sequence: `\\Z`")
            elif d in "pP":
                raise FuncError("unicode classes (\\p) are not supported")
            elif d == "s":
                out.append("[\\t\\n\\f\\r ]" if not in_class else "\\t\\n\\f\\r ")
            elif d == "S" and not in_class:
                out.append("[^\\t\\n\\f\\r ]")
            else:
                out.append(c + d)
            i += 2
            continue
        if in_class:
            if c == "[" and pat.startswith("[:", i):
                end = pat.find(":]", i + 2)
                if end > 0:
                    name = pat[i + 2 : end]
                    neg = name.startswith("^")
                    cls = _POSIX.get(name.lstrip("^"))
                    if cls is None or neg:
                        raise FuncError(
                            f"error parsing regexp: invalid character class range: `[:{name}:]`"
                        )
                    out.append(cls)
                    i = end + 2
                    continue
            if c == "[":
                out.append("\\[")
                i += 1
                continue
            if c == "]":
                in_class = False
            out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            out.append(c)
            i += 1
            if i < n and pat[i] == "^":
                out.append("^")
                i += 1
            if i < n and pat[i] == "]":
                out.append("\\]")
                i += 1
            continue
        if c == "(" and pat.startswith("(?<", i) and not pat.startswith(("(?<=", "(?<!"), i):
            out.append("(?P<")
            i += 3
            continue
        if c == "(" and pat.startswith("(?", i):
            m = re.match(r"\(\?([imsU-]*)([:)])", pat[i:])
            if m:
                flags = m.group(1)
                if "U" in flags:
                    raise FuncError("the (?U) flag is not supported")
                if "m" in flags.split("-")[0]:
                    multiline = True
        if c == "$" and not multiline:
            out.append("(?!(?s:.))")
            i += 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


@functools.lru_cache(maxsize=512)
def compile_re(pat: str) -> re.Pattern[str]:
    try:
        return re.compile(translate(pat), re.ASCII if "(?i)" not in pat else 0)
    except re.error as exc:
        raise FuncError(f"error parsing regexp: {exc}: `{pat}`") from exc


def _matches(rx: re.Pattern[str], s: str, n: int) -> list[re.Match[str]]:
    """Go's allMatches: successive matches, dropping empty ones that abut the previous match."""
    out: list[re.Match[str]] = []
    prev_end = -1
    for m in rx.finditer(s):
        if n >= 0 and len(out) >= n:
            break
        if m.start() == m.end() and m.start() == prev_end:
            continue
        out.append(m)
        prev_end = m.end()
    return out


def expand(m: re.Match[str], template: str) -> str:
    """regexp.Expand: `$1`, `${1}`, `$name`, `${name}`, `$$`; unknown groups are empty."""
    out: list[str] = []
    i = 0
    n = len(template)
    while i < n:
        j = template.find("$", i)
        if j < 0:
            out.append(template[i:])
            break
        out.append(template[i:j])
        i = j + 1
        if i < n and template[i] == "$":
            out.append("$")
            i += 1
            continue
        if i < n and template[i] == "{":
            end = template.find("}", i)
            name = template[i + 1 : end] if end > 0 else ""
            if end < 0 or not name or not re.fullmatch(r"\w+", name, re.ASCII):
                out.append("$")
                continue
            i = end + 1
        else:
            k = i
            while k < n and (
                template[k].isascii() and (template[k].isalnum() or template[k] == "_")
            ):
                k += 1
            name = template[i:k]
            if not name:
                out.append("$")
                continue
            i = k
        out.append(_group(m, name))
    return "".join(out)


def _group(m: re.Match[str], name: str) -> str:
    try:
        g = m.group(int(name)) if name.isdigit() else m.group(name)
    except IndexError:
        return ""
    return g or ""


def _replace(pat: str, s: str, repl: str, literal: bool) -> str:
    rx = compile_re(pat)
    out: list[str] = []
    last = 0
    for m in _matches(rx, s, -1):
        out.append(s[last : m.start()])
        out.append(repl if literal else expand(m, repl))
        last = m.end()
        check_size(sum(len(p) for p in out), "regexReplaceAll")
    out.append(s[last:])
    return "".join(out)


register("mustRegexMatch", Kind.STR, Kind.STR)(lambda p, s: compile_re(p).search(s) is not None)


@register("regexMatch", Kind.STR, Kind.STR)
def regex_match(p: str, s: str) -> bool:
    """Sprig's regexMatch swallows a bad pattern and answers false."""
    try:
        return compile_re(p).search(s) is not None
    except FuncError:
        return False


@register(("regexFind", "mustRegexFind"), Kind.STR, Kind.STR)
def regex_find(p: str, s: str) -> str:
    m = compile_re(p).search(s)
    return m.group(0) if m else ""


@register(("regexFindAll", "mustRegexFindAll"), Kind.STR, Kind.STR, Kind.INT)
def regex_find_all(p: str, s: str, n: int) -> list[Any]:
    if n == 0:
        return []
    return [m.group(0) for m in _matches(compile_re(p), s, n)]


register(("regexReplaceAll", "mustRegexReplaceAll"), Kind.STR, Kind.STR, Kind.STR)(
    lambda p, s, r: _replace(p, s, r, False)
)
register(("regexReplaceAllLiteral", "mustRegexReplaceAllLiteral"), Kind.STR, Kind.STR, Kind.STR)(
    lambda p, s, r: _replace(p, s, r, True)
)


@register(("regexSplit", "mustRegexSplit"), Kind.STR, Kind.STR, Kind.INT)
def regex_split(p: str, s: str, n: int) -> list[Any]:
    if n == 0:
        return []
    rx = compile_re(p)
    if p and not s:
        return [""]
    out: list[Any] = []
    beg = end = 0
    for m in _matches(rx, s, n):
        if n > 0 and len(out) == n - 1:
            break
        end = m.start()
        if m.end() != 0:
            out.append(s[beg:end])
        beg = m.end()
    if end != len(s):
        out.append(s[beg:])
    return out


@register("regexQuoteMeta", Kind.STR)
def regex_quote_meta(s: str) -> str:
    return "".join("\\" + c if c in "\\.+*?()|[]{}^$" else c for c in s)
