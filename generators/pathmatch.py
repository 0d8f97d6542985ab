"""The two glob dialects Argo CD uses for Git generators, reproduced exactly.

- Directories are matched with Go's `path.Match`: `*` and `?` never cross `/`.
- Files are listed with `git ls-files -- PATTERN`: a git pathspec, where `*` *does* cross `/`
  (`apps/*.json` matches `apps/a/b.json`) and a pattern without wildcards also matches a directory
  prefix.

Python's fnmatch is neither, so both are compiled to anchored regular expressions here, with
RE2 (linear time: `*a*a*a*a*b` against a long name would backtrack for minutes under `re`).
"""

from __future__ import annotations

from functools import lru_cache

from generators.errors import InvalidApplicationSetError
from generators.safe_regex import NEVER, Regex, RegexSyntaxError, compile_linear, escape

_GLOB_CHARS = frozenset("*?[\\")


class BadPatternError(ValueError):
    """The pattern is malformed (Go's `path.ErrBadPattern`)."""


def _translate(pattern: str, *, git: bool) -> str:
    any_char = "." if git else "[^/]"
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            out.append(f"{any_char}*")
        elif c == "?":
            out.append(any_char)
        elif c == "\\":
            i += 1
            if i >= n:
                raise BadPatternError(f"pattern {pattern!r} ends with an escape character")
            out.append(escape(pattern[i]))
        elif c == "[":
            i, cls = (_git_class if git else _go_class)(pattern, i + 1)
            out.append(cls)
            continue
        else:
            out.append(escape(c))
        i += 1
    return "".join(out)


def _class_char(pattern: str, i: int) -> tuple[int, str]:
    """One (possibly escaped) character of a class; returns the index after it."""
    if pattern[i] == "\\":
        if i + 1 >= len(pattern):
            raise BadPatternError(f"pattern {pattern!r} ends with an escape character")
        return i + 2, pattern[i + 1]
    return i + 1, pattern[i]


def _class_regex(ranges: list[tuple[str, str]], negate: bool) -> str:
    """A regex class; a reversed range matches nothing, as in Go."""
    body = "".join(
        escape(lo) if lo == hi else f"{escape(lo)}-{escape(hi)}" for lo, hi in ranges if lo <= hi
    )
    if not body:
        return "[\\s\\S]" if negate else NEVER
    return f"[^{body}]" if negate else f"[{body}]"


def _go_class(pattern: str, i: int) -> tuple[int, str]:
    """Go's `path.Match` class: `[^...]` negates (`!` is literal); no empty class; `-` and `]`
    must be escaped; a negated class also matches `/`."""
    n = len(pattern)
    bad = BadPatternError(f"malformed character class in pattern {pattern!r}")
    negate = i < n and pattern[i] == "^"
    if negate:
        i += 1
    ranges: list[tuple[str, str]] = []
    while True:
        if i >= n:
            raise bad
        if pattern[i] == "]" and ranges:
            return i + 1, _class_regex(ranges, negate)
        if pattern[i] in "-]":
            raise bad
        i, lo = _class_char(pattern, i)
        hi = lo
        if i < n and pattern[i] == "-":
            if i + 1 >= n or pattern[i + 1] in "-]":
                raise bad
            i, hi = _class_char(pattern, i + 1)
        ranges.append((lo, hi))


def _git_class(pattern: str, i: int) -> tuple[int, str]:
    """git's wildmatch class: `[!...]` or `[^...]` negates, a leading `]` is literal."""
    n = len(pattern)
    negate = i < n and pattern[i] in "^!"
    if negate:
        i += 1
    ranges: list[tuple[str, str]] = []
    first = True
    while True:
        if i >= n:
            raise BadPatternError(f"unterminated character class in pattern {pattern!r}")
        if pattern[i] == "]" and not first:
            return i + 1, _class_regex(ranges, negate)
        first = False
        i, lo = _class_char(pattern, i)
        hi = lo
        if i + 1 < n and pattern[i] == "-" and pattern[i + 1] != "]":
            i, hi = _class_char(pattern, i + 1)
        ranges.append((lo, hi))


@lru_cache(maxsize=1024)
def _go_path_regex(pattern: str) -> Regex:
    return compile_linear(_translate(pattern, git=False), dot_nl=True)


def go_path_match(pattern: str, name: str) -> bool:
    """Go's `path.Match(pattern, name)`; raises `BadPatternError` for a malformed pattern."""
    return _go_path_regex(pattern).fullmatch(name) is not None


@lru_cache(maxsize=1024)
def _pathspec_regex(pattern: str) -> Regex | None:
    if not _GLOB_CHARS.intersection(pattern):
        return None
    return compile_linear(_translate(pattern, git=True), dot_nl=True)


def git_pathspec_match(pattern: str, name: str) -> bool:
    """Whether `git ls-files -- pattern` would list the file `name`."""
    literal = pattern.rstrip("/")
    if name == literal or name.startswith(literal + "/") or literal in ("", "."):
        return True
    regex = _pathspec_regex(pattern)
    return regex is not None and regex.fullmatch(name) is not None


def check_pattern(pattern: str, path: str, *, go_path: bool) -> None:
    """Fail on a malformed pattern with the field that holds it.

    Argo CD logs a malformed directory pattern and skips it; fleet refuses it instead, because
    silently generating fewer Applications is how workloads get deleted.
    """
    try:
        if go_path:
            _go_path_regex(pattern)
        else:
            _pathspec_regex(pattern)
    except (BadPatternError, RegexSyntaxError) as error:
        raise InvalidApplicationSetError(path, f"bad glob pattern: {error}") from error
