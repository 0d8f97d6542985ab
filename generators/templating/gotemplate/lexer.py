"""Tokenizer for Go text/template source, following the rules of Go's text/template/parse.

Trim markers (`{{- ` and ` -}}`) are applied here so the parser only sees already-trimmed
text, and comments never reach the parser, as in Go when comments are not kept.
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple


class T(IntEnum):
    TEXT = 1
    LEFT = 2
    RIGHT = 3
    SPACE = 4
    EOF = 5
    FIELD = 6
    IDENT = 7
    VAR = 8
    DOT = 9
    STRING = 10
    RAWSTRING = 11
    CHAR = 12
    CHARCONST = 13
    NUMBER = 14
    BOOL = 15
    NIL = 16
    PIPE = 17
    LPAREN = 18
    RPAREN = 19
    DECLARE = 20
    ASSIGN = 21
    BLOCK = 30
    BREAK = 31
    CONTINUE = 32
    DEFINE = 33
    ELSE = 34
    END = 35
    IF = 36
    RANGE = 37
    TEMPLATE = 38
    WITH = 39


KEYWORDS = {
    "block": T.BLOCK,
    "break": T.BREAK,
    "continue": T.CONTINUE,
    "define": T.DEFINE,
    "else": T.ELSE,
    "end": T.END,
    "if": T.IF,
    "range": T.RANGE,
    "nil": T.NIL,
    "template": T.TEMPLATE,
    "with": T.WITH,
}


class Token(NamedTuple):
    typ: T
    val: str
    pos: int


class LexError(Exception):
    """A lexical error; `pos` is the offset where it was detected."""

    def __init__(self, msg: str, pos: int) -> None:
        super().__init__(msg)
        self.msg = msg
        self.pos = pos


_SPACE = " \t\r\n"
_TERMINATORS = " \t\r\n.,|:)("


def _is_alnum(c: str) -> bool:
    return c == "_" or c.isalnum()


def _has_left_trim(src: str, i: int) -> bool:
    return i + 1 < len(src) and src[i] == "-" and src[i + 1] in _SPACE


def _at_right(src: str, i: int) -> tuple[bool, bool]:
    """Is a right delimiter at `i`, and is it trim-marked (` -}}`)?"""
    if src.startswith("}}", i):
        return True, False
    if i + 1 < len(src) and src[i] in _SPACE and src[i + 1] == "-" and src.startswith("}}", i + 2):
        return True, True
    return False, False


def lex(src: str) -> list[Token]:
    """Split a template into tokens; raises LexError like Go's lexer errors."""
    toks: list[Token] = []
    n = len(src)
    i = 0
    while True:
        # Text up to the next action.
        j = src.find("{{", i)
        if j < 0:
            if i < n:
                toks.append(Token(T.TEXT, src[i:], i))
            toks.append(Token(T.EOF, "", n))
            return toks
        text = src[i:j]
        trim = _has_left_trim(src, j + 2)
        if trim:
            text = text.rstrip(_SPACE)
        if text:
            toks.append(Token(T.TEXT, text, i))
        i = j + 2
        if trim:
            i += 2
        if src.startswith("/*", i):
            end = src.find("*/", i + 2)
            if end < 0:
                raise LexError("unclosed comment", j)
            i = end + 2
            at, rtrim = _at_right(src, i)
            if not at:
                raise LexError("comment ends before closing delimiter", j)
            i += 4 if rtrim else 2
            if rtrim:
                while i < n and src[i] in _SPACE:
                    i += 1
            continue
        toks.append(Token(T.LEFT, "{{", j))
        i = _lex_action(src, i, toks)


def _lex_action(src: str, i: int, toks: list[Token]) -> int:
    n = len(src)
    depth = 0
    start_action = i
    while True:
        at, rtrim = _at_right(src, i)
        if at:
            if depth:
                raise LexError("unclosed left paren", i)
            toks.append(Token(T.RIGHT, "}}", i))
            i += 4 if rtrim else 2
            if rtrim:
                while i < n and src[i] in _SPACE:
                    i += 1
            return i
        if i >= n:
            raise LexError("unclosed action", start_action)
        c = src[i]
        if c in _SPACE:
            k = i
            while i < n and src[i] in _SPACE:
                if _at_right(src, i)[1]:
                    break
                i += 1
            if i > k:
                toks.append(Token(T.SPACE, src[k:i], k))
            continue
        if c == "=":
            toks.append(Token(T.ASSIGN, "=", i))
            i += 1
        elif c == ":":
            if not src.startswith(":=", i):
                raise LexError("expected :=", i)
            toks.append(Token(T.DECLARE, ":=", i))
            i += 2
        elif c == "|":
            toks.append(Token(T.PIPE, "|", i))
            i += 1
        elif c == '"':
            k = i + 1
            while True:
                if k >= n or src[k] == "\n":
                    raise LexError("unterminated quoted string", i)
                if src[k] == "\\":
                    k += 2
                    continue
                if src[k] == '"':
                    break
                k += 1
            toks.append(Token(T.STRING, src[i : k + 1], i))
            i = k + 1
        elif c == "`":
            k = src.find("`", i + 1)
            if k < 0:
                raise LexError("unterminated raw quoted string", i)
            toks.append(Token(T.RAWSTRING, src[i : k + 1], i))
            i = k + 1
        elif c == "'":
            k = i + 1
            while True:
                if k >= n or src[k] == "\n":
                    raise LexError("unterminated character constant", i)
                if src[k] == "\\":
                    k += 2
                    continue
                if src[k] == "'":
                    break
                k += 1
            toks.append(Token(T.CHARCONST, src[i : k + 1], i))
            i = k + 1
        elif c == "$" or (c == "." and not (i + 1 < n and src[i + 1].isdigit())):
            k = i + 1
            if k >= n or src[k] in _TERMINATORS or _at_right(src, k)[0]:
                toks.append(Token(T.VAR if c == "$" else T.DOT, c, i))
                i = k
                continue
            while k < n and _is_alnum(src[k]):
                k += 1
            if k < n and not (src[k] in _TERMINATORS or _at_right(src, k)[0]):
                raise LexError(f"bad character {src[k]!r}", k)
            toks.append(Token(T.VAR if c == "$" else T.FIELD, src[i:k], i))
            i = k
        elif c in "+-." or c.isdigit():
            k = _scan_number(src, i)
            if k < n and _is_alnum(src[k]):
                raise LexError(f"bad number syntax: {src[i : k + 1]!r}", i)
            toks.append(Token(T.NUMBER, src[i:k], i))
            i = k
        elif _is_alnum(c):
            k = i
            while k < n and _is_alnum(src[k]):
                k += 1
            if k < n and not (src[k] in _TERMINATORS or _at_right(src, k)[0]):
                raise LexError(f"bad character {src[k]!r}", k)
            word = src[i:k]
            if word in KEYWORDS:
                toks.append(Token(KEYWORDS[word], word, i))
            elif word in ("true", "false"):
                toks.append(Token(T.BOOL, word, i))
            else:
                toks.append(Token(T.IDENT, word, i))
            i = k
        elif c == "(":
            depth += 1
            toks.append(Token(T.LPAREN, c, i))
            i += 1
        elif c == ")":
            depth -= 1
            if depth < 0:
                raise LexError("unexpected right paren", i)
            toks.append(Token(T.RPAREN, c, i))
            i += 1
        elif c.isascii() and c.isprintable():
            toks.append(Token(T.CHAR, c, i))
            i += 1
        else:
            raise LexError(f"unrecognized character in action: U+{ord(c):04X}", i)


def _scan_number(src: str, i: int) -> int:
    n = len(src)
    if i < n and src[i] in "+-":
        i += 1
    digits = "0123456789_"
    if src.startswith(("0x", "0X"), i):
        i += 2
        digits = "0123456789abcdefABCDEF_"
    elif src.startswith(("0o", "0O"), i):
        i += 2
        digits = "01234567_"
    elif src.startswith(("0b", "0B"), i):
        i += 2
        digits = "01_"
    while i < n and src[i] in digits:
        i += 1
    if i < n and src[i] == ".":
        i += 1
        while i < n and src[i] in digits:
            i += 1
    if len(digits) == 11 and i < n and src[i] in "eE":
        i += 1
        if i < n and src[i] in "+-":
            i += 1
        while i < n and src[i] in "0123456789_":
            i += 1
    if len(digits) > 11 and i < n and src[i] in "pP":
        i += 1
        if i < n and src[i] in "+-":
            i += 1
        while i < n and src[i] in "0123456789_":
            i += 1
    return i


def line_col(src: str, pos: int) -> str:
    """Go's ErrorContext numbering: 1-based line, 0-based byte column within the line."""
    line = src.count("\n", 0, pos) + 1
    nl = src.rfind("\n", 0, pos)
    col = pos if nl < 0 else pos - nl - 1
    return f"{line}:{col}"
