"""Regular expressions that run in time linear in their input: RE2, as Argo CD's Go code uses.

Every pattern built from something a user wrote (a template's `regexMatch`, a git generator's
path glob, a Project's repository glob, a directory include glob) is compiled here, never with
Python's `re`: `re` backtracks, so `^(a+)+$` against thirty `a`s and a `b`, or the glob
`*a*a*a*a*a*a*b` against a long name, runs for minutes, and `re` holds the GIL while it does,
freezing every thread of the controller (health checks and Lease renewal included). RE2 never
backtracks: matching is linear in the text, and a pattern's compiled program is capped
(`MAX_PROGRAM_BYTES`) so a huge pattern fails to compile instead of taking memory.

RE2 refuses what cannot run in linear time (lookaround, backreferences): so does Go, so a
pattern Argo CD accepts is accepted here.
"""

from __future__ import annotations

from typing import TypeAlias

import re2

Regex: TypeAlias = "re2._Regexp[str]"
"""A compiled pattern: `search`, `match`, `fullmatch`, `finditer` as Python's `re`."""

MAX_PROGRAM_BYTES = 1 << 20
"""RE2's max_mem for one pattern (program plus its lazily built DFA). re2 keeps the last 128
compiled patterns, so all of them together stay near 128 MiB at worst."""

NEVER = r"[^\x00-\x{10FFFF}]"
"""A pattern piece matching nothing (RE2 has no `(?!)`)."""


class RegexSyntaxError(ValueError):
    """RE2 refused the pattern; `problem` is RE2's reason (e.g. `invalid perl operator: (?=`)."""

    def __init__(self, pattern: str, problem: str) -> None:
        super().__init__(f"{problem}: `{pattern}`")
        self.pattern = pattern
        self.problem = problem


def compile_linear(pattern: str, *, dot_nl: bool = False) -> Regex:
    """Compile with RE2 (Go's syntax); `dot_nl`: `.` also matches a newline, as `(?s)`."""
    options = re2.Options()
    options.log_errors = False
    options.max_mem = MAX_PROGRAM_BYTES
    options.dot_nl = dot_nl
    try:
        return re2.compile(pattern, options)
    except re2.error as error:
        raise RegexSyntaxError(pattern, _problem(error)) from None
    except UnicodeEncodeError:
        raise RegexSyntaxError(pattern, "invalid UTF-8") from None


def escape(text: str) -> str:
    """`text` as a literal pattern (every ASCII punctuation character escaped)."""
    return re2.escape(text)


def _problem(error: BaseException) -> str:
    detail = error.args[0] if error.args else ""
    if isinstance(detail, bytes):
        detail = detail.decode("utf-8", "replace")
    detail = str(detail)
    if detail == "pattern too large - compile failed":
        return f"pattern too large (more than {MAX_PROGRAM_BYTES >> 20} MiB compiled)"
    return detail or "invalid pattern"
