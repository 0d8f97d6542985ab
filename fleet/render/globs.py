"""Argo CD's `directory.include` / `directory.exclude` globs (gobwas/glob without separators).

Argo CD matches the pattern against the file path relative to the application path, with no
separator characters, so `*` also matches `/`: `*.yaml` matches `sub/a.yaml`. Supported syntax,
as gobwas/glob: `*`, `**`, `?`, `[abc]`, `[!abc]`, `[a-z]`, `{a,b}` (nestable), `\\` escapes.
A pattern that does not compile matches nothing (Argo CD logs a warning and treats it so).
Patterns run on RE2 (linear time): `{*,*}{*,*}...b` would backtrack exponentially under `re`.
"""

from __future__ import annotations

from functools import lru_cache

from generators.safe_regex import Regex, RegexSyntaxError, compile_linear, escape


class _GlobSyntaxError(ValueError):
    pass


def _translate(pattern: str, pos: int, depth: int) -> tuple[str, int]:
    out: list[str] = []
    while pos < len(pattern):
        char = pattern[pos]
        if char == "\\":
            if pos + 1 >= len(pattern):
                raise _GlobSyntaxError("trailing backslash")
            out.append(escape(pattern[pos + 1]))
            pos += 2
        elif char == "*":
            while pos < len(pattern) and pattern[pos] == "*":
                pos += 1
            out.append(".*")
        elif char == "?":
            out.append(".")
            pos += 1
        elif char == "[":
            end = pattern.find("]", pos + 2)
            if end < 0:
                raise _GlobSyntaxError("unclosed [")
            body = pattern[pos + 1 : end]
            negate = body.startswith("!")
            body = body[1:] if negate else body
            out.append("[" + ("^" if negate else "") + body.replace("\\", "\\\\") + "]")
            pos = end + 1
        elif char == "{":
            alternatives: list[str] = []
            pos += 1
            while True:
                part, pos = _translate(pattern, pos, depth + 1)
                alternatives.append(part)
                if pos >= len(pattern):
                    raise _GlobSyntaxError("unclosed {")
                if pattern[pos] == "}":
                    pos += 1
                    break
                pos += 1  # a comma
            out.append("(?:" + "|".join(alternatives) + ")")
        elif depth > 0 and char in ",}":
            return "".join(out), pos
        else:
            out.append(escape(char))
            pos += 1
    return "".join(out), pos


@lru_cache(maxsize=256)
def compile_glob(pattern: str) -> Regex | None:
    """The regular expression of a glob, or None when the glob is malformed."""
    try:
        regex, _ = _translate(pattern, 0, 0)
        return compile_linear(regex, dot_nl=True)
    except (_GlobSyntaxError, RegexSyntaxError, RecursionError):
        return None


def glob_match(pattern: str, text: str) -> bool:
    """Whether `text` matches `pattern` as a whole (Argo CD's glob.Match)."""
    compiled = compile_glob(pattern)
    return compiled is not None and compiled.fullmatch(text) is not None
