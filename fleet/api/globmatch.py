"""Project globs matched in time proportional to text length times pattern length.

Project rules (`sourceRepos`, destinations, kinds) are globs written by whoever can edit a
Project on the hub, matched against URLs and names an ApplicationSet may generate. Translated
to Python's `re`, `*a*a*a*a*a*b` or `{*,*}{*,*}{*,*}x` backtracks for minutes on a long value,
holding the GIL (every thread of the controller stops). This module runs the glob as an NFA
over the text instead (Thompson's simulation: a set of positions in the pattern, advanced one
character at a time), so no pattern can take more than len(text) x len(pattern) steps. It uses
the standard library only: fleet/render/gitguard.py imports fleet.api.project inside the
render sandbox, without site-packages.
"""

from __future__ import annotations

_CHAR, _SPLIT, _JMP, _MATCH = range(4)

# A consuming instruction is (_CHAR, test) where test is (literal) | (ranges, negate, seps).
Test = tuple[str, tuple[tuple[str, str], ...], bool, str]


class Glob:
    """A compiled glob; `fullmatch(text)` tells whether the whole text matches."""

    __slots__ = ("_literal", "_prog")

    def __init__(self, prog: list[tuple[int, object, object]], literal: str | None) -> None:
        self._prog = prog
        self._literal = literal

    def fullmatch(self, text: str) -> bool:
        if self._literal is not None:
            return text == self._literal
        prog = self._prog
        current = self._closure([0])
        for ch in text:
            following: list[int] = []
            for pc in current:
                op, test, _ = prog[pc]
                if op == _CHAR and _accepts(test, ch):  # type: ignore[arg-type]
                    following.append(pc + 1)
            if not following:
                return False
            current = self._closure(following)
        return any(prog[pc][0] == _MATCH for pc in current)

    def _closure(self, starts: list[int]) -> list[int]:
        """The instructions reachable from `starts` without consuming a character."""
        prog = self._prog
        seen: set[int] = set()
        out: list[int] = []
        stack = list(reversed(starts))
        while stack:
            pc = stack.pop()
            if pc in seen:
                continue
            seen.add(pc)
            op, a, b = prog[pc]
            if op == _SPLIT:
                stack.append(b)  # type: ignore[arg-type]
                stack.append(a)  # type: ignore[arg-type]
            elif op == _JMP:
                stack.append(a)  # type: ignore[arg-type]
            else:
                out.append(pc)
        return out


def _accepts(test: Test, ch: str) -> bool:
    literal, ranges, negate, seps = test
    if literal:
        return ch == literal
    if ranges:
        inside = any(lo <= ch <= hi for lo, hi in ranges)
        return inside != negate
    return ch not in seps  # "any character but a separator"


# Parsed pattern: a sequence of items; an item is a Test, ("star", seps) or ("alt", [seqs]).
_Seq = list[object]


def compile_glob(pattern: str, separators: str = "", *, go_path: bool = False) -> Glob | None:
    """A gobwas glob (with `go_path`: a Go `path.Match` pattern), or None if it is malformed,
    with the syntax fleet.api.project documents (`*`, `**`, `?`, `[a-z]`, `[!a]`, `{a,b}`)."""
    seq = _parse(pattern, separators, go_path)
    if seq is None:
        return None
    if all(isinstance(item, tuple) and len(item) == 4 and item[0] for item in seq):
        return Glob([], "".join(str(item[0]) for item in seq))  # type: ignore[index]
    prog: list[tuple[int, object, object]] = []
    _emit(seq, prog)
    prog.append((_MATCH, None, None))
    return Glob(prog, None)


def _parse(pattern: str, seps: str, go_path: bool) -> _Seq | None:
    root: _Seq = []
    # Open `{` groups: (alternatives so far, the sequence being filled).
    groups: list[tuple[list[_Seq], _Seq]] = []
    seq = root
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            if i + 1 >= n:
                return None
            seq.append((pattern[i + 1], (), False, ""))
            i += 2
            continue
        if c == "*":
            if not go_path and pattern.startswith("**", i):
                seq.append(("star", ""))
                i += 2
            else:
                seq.append(("star", seps))
                i += 1
            continue
        if c == "?":
            seq.append(("", (), False, seps))
        elif c == "[":
            end = pattern.find("]", i + 2)
            if end < 0:
                return None
            body = pattern[i + 1 : end]
            negated = body[:1] in (("^",) if go_path else ("!", "^"))
            if negated:
                body = body[1:]
            ranges = _class_ranges(body)
            if ranges is None:
                return None
            seq.append(("", ranges, negated, ""))
            i = end + 1
            continue
        elif c == "{" and not go_path:
            alternatives: list[_Seq] = []
            groups.append((alternatives, seq))
            seq = []
            alternatives.append(seq)
        elif c == "}" and not go_path and groups:
            alternatives, outer = groups.pop()
            outer.append(("alt", alternatives))
            seq = outer
        elif c == "," and not go_path and groups:
            seq = []
            groups[-1][0].append(seq)
        else:
            seq.append((c, (), False, ""))
        i += 1
    return None if groups else root


def _class_ranges(body: str) -> tuple[tuple[str, str], ...] | None:
    """Character-class ranges as a regex class reads them: `a-z` a range, `-` literal at
    either end; an empty class or a reversed range is malformed."""
    if not body:
        return None
    ranges: list[tuple[str, str]] = []
    i = 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == "-":
            lo, hi = body[i], body[i + 2]
            if lo > hi:
                return None
            ranges.append((lo, hi))
            i += 3
        else:
            ranges.append((body[i], body[i]))
            i += 1
    return tuple(ranges)


def _emit(seq: _Seq, prog: list[tuple[int, object, object]]) -> None:
    for item in seq:
        assert isinstance(item, tuple)
        if item[0] == "star" and len(item) == 2:
            # L0: split L1, L3; L1: any-but-separator; L2: jmp L0; L3:
            start = len(prog)
            prog.append((_SPLIT, start + 1, start + 3))
            prog.append((_CHAR, ("", (), False, item[1]), None))
            prog.append((_JMP, start, None))
        elif item[0] == "alt" and len(item) == 2:
            alternatives: list[_Seq] = item[1]
            jumps: list[int] = []
            for index, alternative in enumerate(alternatives):
                split_at = -1
                if index < len(alternatives) - 1:
                    split_at = len(prog)
                    prog.append((_SPLIT, split_at + 1, -1))
                _emit(alternative, prog)
                if index < len(alternatives) - 1:
                    jumps.append(len(prog))
                    prog.append((_JMP, -1, None))
                    prog[split_at] = (_SPLIT, split_at + 1, len(prog))
            for at in jumps:
                prog[at] = (_JMP, len(prog), None)
        else:
            prog.append((_CHAR, item, None))
