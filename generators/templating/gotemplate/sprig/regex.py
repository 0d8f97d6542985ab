"""Sprig's regex functions on RE2, the engine (and syntax) of Go's `regexp`.

Go's regexp is RE2: matching in linear time, no lookaround, no backreferences. Python's `re`
backtracks, so a template could hold the controller for minutes with `^(a+)+$`; RE2 (through
`generators.safe_regex`) gives Go's syntax and Go's guarantees. What Go refuses is refused here
with Go's message: `regexMatch` answers false (Sprig ignores the error), every other function
fails the template. Python-side code only reproduces what RE2 leaves to the caller: Go's rule
for empty matches right after a match in the *All functions, and `Regexp.Expand`'s `$1`/`${name}`.
"""

from __future__ import annotations

from typing import Any

from generators.safe_regex import Regex, RegexSyntaxError, compile_linear

from ..errors import FuncError
from ..funcspec import Kind, register
from ..meter import check_items, check_size, tick

_NOT_RE2 = ("invalid perl operator", "invalid escape sequence: \\")
_HINT = " (Go and Argo CD use RE2: no lookahead, lookbehind or backreferences)"


def compile_re(pat: str) -> Regex:
    """Compile as Go's regexp.Compile would, or raise FuncError with Go's wording."""
    bad = _go_only_refusals(pat)
    if bad:
        raise FuncError(f"error parsing regexp: invalid escape sequence: `{bad}`")
    try:
        return compile_linear(pat)
    except RegexSyntaxError as exc:
        hint = _HINT if exc.problem.startswith(_NOT_RE2) else ""
        raise FuncError(f"error parsing regexp: {exc.problem}: `{pat}`{hint}") from None


def _go_only_refusals(pat: str) -> str:
    """What RE2 accepts and Go does not: `\\C` (any byte)."""
    i = 0
    n = len(pat)
    while i < n:
        j = pat.find("\\", i)
        if j < 0 or j + 1 >= n:
            return ""
        if pat[j + 1] == "Q":  # \Q...\E is literal text
            end = pat.find("\\E", j + 2)
            if end < 0:
                return ""
            i = end + 2
            continue
        if pat[j + 1] == "C":
            return "\\C"
        i = j + 2
    return ""


def _matches(rx: Regex, s: str, n: int) -> list[Any]:
    """Go's allMatches: successive matches, dropping empty ones that abut the previous match."""
    out: list[Any] = []
    prev_end = -1
    for m in rx.finditer(s):
        if n >= 0 and len(out) >= n:
            break
        tick()
        start, end = m.span()
        if start == end and start == prev_end:
            continue
        out.append(m)
        check_items(len(out), "regex matches")
        prev_end = end
    return out


def expand(m: Any, template: str) -> str:
    """Go's Regexp.Expand: `$1`, `${1}`, `$name`, `${name}`, `$$`; unknown groups are empty."""
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
        found = _extract(template, i)
        if found is None:
            out.append("$")
            continue
        name, num, i = found
        out.append(_group(m, name, num))
    return "".join(out)


def _extract(t: str, i: int) -> tuple[str, int, int] | None:
    """Go's extract: a group name (letters, digits, `_`), braced or not; its number when it
    is one (no leading zero, under 1e8), else -1; and where the template resumes."""
    n = len(t)
    brace = i < n and t[i] == "{"
    start = i + 1 if brace else i
    k = start
    while k < n and (t[k].isalpha() or t[k].isdecimal() or t[k] == "_"):
        k += 1
    if k == start:
        return None
    name = t[start:k]
    if brace:
        if k >= n or t[k] != "}":
            return None
        k += 1
    num = -1
    if (
        name.isascii()
        and name.isdigit()
        and len(name) <= 8
        and not (name[0] == "0" and len(name) > 1)
    ):
        num = int(name)
    return name, num, k


def _group(m: Any, name: str, num: int) -> str:
    if num >= 0:
        if num > m.re.groups:
            return ""
        return m.group(num) or ""
    index = m.re.groupindex.get(name)
    return (m.group(index) or "") if index is not None else ""


def _replace(pat: str, s: str, repl: str, literal: bool) -> str:
    rx = compile_re(pat)
    out: list[str] = []
    size = 0
    last = 0
    for m in _matches(rx, s, -1):
        start, end = m.span()
        piece = repl if literal else expand(m, repl)
        size += start - last + len(piece)
        check_size(size, "regexReplaceAll")
        out.append(s[last:start])
        out.append(piece)
        last = end
    check_size(size + len(s) - last, "regexReplaceAll")
    out.append(s[last:])
    return "".join(out)


register("mustRegexMatch", Kind.STR, Kind.STR)(lambda p, s: compile_re(p).search(s) is not None)


@register("regexMatch", Kind.STR, Kind.STR)
def regex_match(p: str, s: str) -> bool:
    """Sprig's regexMatch swallows a bad pattern and answers false."""
    try:
        rx = compile_re(p)
    except FuncError:
        return False
    return rx.search(s) is not None


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
