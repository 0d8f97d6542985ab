"""The two glob dialects Argo CD uses for Git generators, reproduced exactly.

- Directories are matched with Go's `path.Match`: `*` and `?` never cross `/`.
- Files are listed with `git ls-files -- PATTERN`: a git pathspec, where `*` *does* cross `/`
  (`apps/*.json` matches `apps/a/b.json`) and a pattern without wildcards also matches a directory
  prefix.

Python's fnmatch is neither, so both are compiled to anchored regular expressions here.
"""

from __future__ import annotations

import re
from functools import lru_cache

from generators.errors import InvalidApplicationSetError

_GLOB_CHARS = frozenset("*?[\\")


class BadPatternError(ValueError):
    """The pattern is malformed (Go's `path.ErrBadPattern`)."""


def _translate(pattern: str, *, star_crosses_slash: bool) -> str:
    any_char = "." if star_crosses_slash else "[^/]"
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
            out.append(re.escape(pattern[i]))
        elif c == "[":
            i, cls = _translate_class(pattern, i + 1, star_crosses_slash)
            out.append(cls)
            continue
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def _translate_class(pattern: str, i: int, star_crosses_slash: bool) -> tuple[int, str]:
    """Translate `[...]` starting after the `[`; returns the index after `]` and the regex."""
    n = len(pattern)
    negate = i < n and pattern[i] in "^!"
    if negate:
        i += 1
    parts: list[str] = []
    first = True
    while True:
        if i >= n:
            raise BadPatternError(f"unterminated character class in pattern {pattern!r}")
        c = pattern[i]
        if c == "]" and not first:
            i += 1
            break
        first = False
        if c == "\\":
            i += 1
            if i >= n:
                raise BadPatternError(f"pattern {pattern!r} ends with an escape character")
            c = pattern[i]
        lo = c
        i += 1
        if i + 1 < n and pattern[i] == "-" and pattern[i + 1] != "]":
            hi = pattern[i + 1]
            if hi == "\\":
                if i + 2 >= n:
                    raise BadPatternError(f"pattern {pattern!r} ends with an escape character")
                hi = pattern[i + 2]
                i += 1
            i += 2
            if hi < lo:
                raise BadPatternError(f"character range {lo}-{hi} is reversed in {pattern!r}")
            parts.append(f"{re.escape(lo)}-{re.escape(hi)}")
        else:
            parts.append(re.escape(lo))
    body = "".join(parts)
    if negate:
        # A negated class never matches the separator in path.Match.
        return i, f"[^{body}{'' if star_crosses_slash else '/'}]"
    return i, f"[{body}]"


@lru_cache(maxsize=1024)
def _go_path_regex(pattern: str) -> re.Pattern[str]:
    return re.compile(_translate(pattern, star_crosses_slash=False), re.DOTALL)


def go_path_match(pattern: str, name: str) -> bool:
    """Go's `path.Match(pattern, name)`; raises `BadPatternError` for a malformed pattern."""
    return _go_path_regex(pattern).fullmatch(name) is not None


@lru_cache(maxsize=1024)
def _pathspec_regex(pattern: str) -> re.Pattern[str] | None:
    if not _GLOB_CHARS.intersection(pattern):
        return None
    return re.compile(_translate(pattern, star_crosses_slash=True), re.DOTALL)


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
    except (BadPatternError, re.error) as error:
        raise InvalidApplicationSetError(path, f"bad glob pattern: {error}") from error
