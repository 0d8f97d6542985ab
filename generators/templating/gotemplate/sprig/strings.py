"""Sprig's string functions, with Go's byte-oriented and Unicode rules where they differ."""

from __future__ import annotations

import base64
import binascii
import hashlib
import unicodedata
import zlib
from typing import Any

from ..errors import FuncError
from ..funcspec import Kind, register
from ..gofmt import go_quote
from .common import check_items, check_size, check_strings, strslice, strval


def _b(s: str) -> bytes:
    return s.encode()


def _per_rune(s: str, conv: Any) -> str:
    """Go maps case rune by rune; Python's full case mapping would turn ß into SS."""
    out = []
    for c in s:
        m = conv(c)
        out.append(m if len(m) == 1 else c)
    return "".join(out)


def go_upper(s: str) -> str:
    return s.upper() if s.isascii() else _per_rune(s, str.upper)


def go_lower(s: str) -> str:
    return s.lower() if s.isascii() else _per_rune(s, str.lower)


register("lower", Kind.STR)(go_lower)
register("upper", Kind.STR)(go_upper)
register("trim", Kind.STR)(lambda s: s.strip(" \t\n\v\f\r\x85\xa0"))
register(("trimAll", "trimall"), Kind.STR, Kind.STR)(lambda a, b: b.strip(a) if a else b)
register("trimPrefix", Kind.STR, Kind.STR)(lambda a, b: b.removeprefix(a))
register("trimSuffix", Kind.STR, Kind.STR)(lambda a, b: b.removesuffix(a))
register("contains", Kind.STR, Kind.STR)(lambda sub, s: sub in s)
register("hasPrefix", Kind.STR, Kind.STR)(lambda sub, s: s.startswith(sub))
register("hasSuffix", Kind.STR, Kind.STR)(lambda sub, s: s.endswith(sub))
register("toString", Kind.ANY)(strval)
register("nospace", Kind.STR)(lambda s: "".join(c for c in s if not c.isspace()))
register("swapcase", Kind.STR)(lambda s: _per_rune(s, str.swapcase))


def _is_sep(c: str) -> bool:
    if c.isascii():
        return not (c.isalnum() or c == "_")
    if c.isalpha() or c.isdigit():
        return False
    return c.isspace()


@register("title", Kind.STR)
def title(s: str) -> str:
    """strings.Title: upper-case the first letter after any separator."""
    out = []
    prev = " "
    for c in s:
        out.append(go_upper(c) if _is_sep(prev) else c)
        prev = c
    return "".join(out)


@register("untitle", Kind.STR)
def untitle(s: str) -> str:
    out = []
    gap = True
    for c in s:
        if c.isspace():
            gap = True
            out.append(c)
        elif gap:
            out.append(c.lower())
            gap = False
        else:
            out.append(c)
    return "".join(out)


@register("replace", Kind.STR, Kind.STR, Kind.STR)
def replace(old: str, new: str, src: str) -> str:
    if old == "":
        check_size(len(src) + (len(src) + 1) * len(new), "replace")
    elif new and len(new) > len(old):
        check_size(len(src) + src.count(old) * (len(new) - len(old)), "replace")
    return src.replace(old, new)


@register("repeat", Kind.INT, Kind.STR)
def repeat(count: int, s: str) -> str:
    if count < 0:
        raise FuncError("strings: negative Repeat count")
    check_size(count * len(s), "repeat")
    return s * count


def _byte_slice(s: str, start: int | None, end: int | None) -> str:
    if s.isascii():
        return s[start:end]
    return _b(s)[start:end].decode("utf-8", errors="replace")


@register("trunc", Kind.INT, Kind.STR)
def trunc(c: int, s: str) -> str:
    n = len(_b(s))
    if c >= 0 and n > c:
        return _byte_slice(s, None, c)
    if c < 0 and n > -c:
        return _byte_slice(s, n + c, None)
    return s


@register("substr", Kind.INT, Kind.INT, Kind.STR)
def substr(start: int, end: int, s: str) -> str:
    n = len(_b(s))

    def check(lo: int, hi: int) -> None:
        if lo < 0 or hi > n or lo > hi:
            raise FuncError(f"runtime error: slice bounds out of range [{lo}:{hi}]")

    if start < 0:
        check(0, end)
        return _byte_slice(s, None, end)
    if end < 0 or end > n:
        check(start, n)
        return _byte_slice(s, start, None)
    check(start, end)
    return _byte_slice(s, start, end)


@register("initials", Kind.STR)
def initials(s: str) -> str:
    out = []
    gap = True
    for c in s:
        if c.isspace():
            gap = True
        elif gap:
            out.append(c)
            gap = False
    return "".join(out)


@register("quote", variadic=Kind.ANY)
def quote(*args: Any) -> str:
    parts = [go_quote(strval(a)) for a in args if a is not None]
    check_strings(parts, "quote", " ")
    return " ".join(parts)


@register("squote", variadic=Kind.ANY)
def squote(*args: Any) -> str:
    parts = [f"'{strval(a)}'" for a in args if a is not None]
    check_strings(parts, "squote", " ")
    return " ".join(parts)


@register("cat", variadic=Kind.ANY)
def cat(*args: Any) -> str:
    parts = [strval(a) for a in args if a is not None]
    check_strings(parts, "cat", " ")
    return " ".join(parts)


@register("indent", Kind.INT, Kind.STR)
def indent(spaces: int, s: str) -> str:
    spaces = max(spaces, 0)
    check_size(len(s) + spaces * (s.count("\n") + 1), "indent")
    pad = " " * spaces
    return pad + s.replace("\n", "\n" + pad)


@register("nindent", Kind.INT, Kind.STR)
def nindent(spaces: int, s: str) -> str:
    return "\n" + indent(spaces, s)


def _wrap_custom(s: str, width: int, nl: str, long_words: bool) -> str:
    """goutils.WrapCustom, byte for byte (it works on bytes, so do we for ASCII)."""
    if s == "":
        return ""
    if nl == "":
        nl = "\n"
    width = max(width, 1)
    check_size(len(s) + (len(s) // width + 1) * len(nl), "wrap")
    n = len(s)
    off = 0
    out: list[str] = []
    while n - off > width:
        if s[off] == " ":
            off += 1
            continue
        end = width + off + 1
        at = s[off:end].rfind(" ") + off
        if at >= off:
            out.append(s[off:at])
            out.append(nl)
            off = at + 1
        elif long_words:
            out.append(s[off : width + off])
            out.append(nl)
            off += width
        else:
            end = width + off
            idx = s.find(" ", end)
            if idx == -1:
                out.append(s[off:])
                off = n
            else:
                out.append(s[off:idx])
                out.append(nl)
                off = idx + 1
    out.append(s[off:])
    return "".join(out)


register("wrap", Kind.INT, Kind.STR)(lambda w, s: _wrap_custom(s, w, "\n", False))
register("wrapWith", Kind.INT, Kind.STR, Kind.STR)(lambda w, sep, s: _wrap_custom(s, w, sep, True))


def _go_split(orig: str, sep: str, n: int = -1) -> list[str]:
    if n == 0:
        return []
    check_items(len(orig) if sep == "" else orig.count(sep) + 1, "split")
    if sep == "":
        chars = list(orig)
        if 0 < n < len(chars):
            return [*chars[: n - 1], "".join(chars[n - 1 :])]
        return chars
    if n < 0:
        return orig.split(sep)
    return orig.split(sep, n - 1)


register("splitList", Kind.STR, Kind.STR)(lambda sep, orig: _go_split(orig, sep))


@register("split", Kind.STR, Kind.STR)
def split(sep: str, orig: str) -> dict[str, Any]:
    return {f"_{i}": p for i, p in enumerate(_go_split(orig, sep))}


@register("splitn", Kind.STR, Kind.INT, Kind.STR)
def splitn(sep: str, n: int, orig: str) -> dict[str, Any]:
    return {f"_{i}": p for i, p in enumerate(_go_split(orig, sep, n))}


@register("join", Kind.STR, Kind.ANY)
def join(sep: str, v: Any) -> str:
    parts = strslice(v)
    check_strings(parts, "join", sep)
    return sep.join(parts)


register("toStrings", Kind.ANY)(strslice)
register("sortAlpha", Kind.ANY)(lambda v: sorted(strslice(v), key=_b))


@register("plural", Kind.STR, Kind.STR, Kind.INT)
def plural(one: str, many: str, count: int) -> str:
    return one if count == 1 else many


@register("abbrev", Kind.INT, Kind.STR)
def abbrev(width: int, s: str) -> str:
    if width < 4 or len(s) <= width:
        return s
    return s[: width - 3] + "..."


@register("abbrevboth", Kind.INT, Kind.INT, Kind.STR)
def abbrevboth(left: int, right: int, s: str) -> str:
    if right < 4 or (left > 0 and right < 7):
        return s
    if len(s) <= right:
        return s
    left = min(left, len(s))
    if len(s) - left < right - 3:
        left = len(s) - (right - 3)
    if left <= 4:
        return s[: right - 3] + "..."
    if right < 7:
        return s
    if left + right - 3 < len(s):
        return "..." + abbrev(right - 3, s[left:])
    return "..." + s[len(s) - (right - 3) :]


# encodings and hashes ------------------------------------------------------------------------
@register("b64enc", Kind.STR)
def b64enc(s: str) -> str:
    data = _b(s)
    check_size((len(data) + 2) // 3 * 4, "b64enc")
    return base64.b64encode(data).decode()


@register("b32enc", Kind.STR)
def b32enc(s: str) -> str:
    data = _b(s)
    check_size((len(data) + 4) // 5 * 8, "b32enc")
    return base64.b32encode(data).decode()


@register("b64dec", Kind.STR)
def b64dec(s: str) -> str:
    try:
        return base64.b64decode(_b(s), validate=True).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return _corrupt(s, "=+/")


@register("b32dec", Kind.STR)
def b32dec(s: str) -> str:
    try:
        return base64.b32decode(_b(s)).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return _corrupt(s, "=")


def _corrupt(s: str, extra: str) -> str:
    """Go's base64 error text, which Sprig returns as the result instead of failing."""
    for i, c in enumerate(s):
        if not (c.isascii() and (c.isalnum() or c in extra)):
            return f"illegal base64 data at input byte {i}"
    return f"illegal base64 data at input byte {len(s.rstrip('=')) // 4 * 4}"


register("sha1sum", Kind.STR)(lambda s: hashlib.sha1(_b(s)).hexdigest())
register("sha256sum", Kind.STR)(lambda s: hashlib.sha256(_b(s)).hexdigest())
register("sha512sum", Kind.STR)(lambda s: hashlib.sha512(_b(s)).hexdigest())
register("adler32sum", Kind.STR)(lambda s: str(zlib.adler32(_b(s))))


# huandu/xstrings case conversion -------------------------------------------------------------
def _is_connector(c: str) -> bool:
    return c in "-_" or c.isspace()


def _is_punct(c: str) -> bool:
    return unicodedata.category(c).startswith("P")


def _is_number(c: str) -> bool:
    return unicodedata.category(c).startswith("N")


def _is_alpha(c: str) -> bool:
    return c.isalpha()


_INVALID, _NUMBER, _UPPER, _ALPHA, _CONNECTOR, _PUNCT, _OTHER = range(7)


def _next_word(s: str) -> tuple[int, str, str]:
    if not s:
        return _INVALID, "", ""
    c = s[0]
    i = 1
    n = len(s)
    if _is_connector(c):
        wt = _CONNECTOR
        while i < n and _is_connector(s[i]):
            i += 1
    elif _is_punct(c):
        wt = _PUNCT
        while i < n and _is_punct(s[i]):
            i += 1
    elif c.isupper():
        wt = _UPPER
        if i < n:
            if s[i].isupper():
                prev = i
                i += 1
                while i < n and s[i].isupper():
                    prev = i
                    i += 1
                if i < n and _is_alpha(s[i]):
                    i = prev
            elif _is_alpha(s[i]):
                i += 1
                while i < n and _is_alpha(s[i]) and not s[i].isupper():
                    i += 1
    elif _is_alpha(c):
        wt = _ALPHA
        while i < n and _is_alpha(s[i]) and not s[i].isupper():
            i += 1
    elif _is_number(c):
        wt = _NUMBER
        while i < n and _is_number(s[i]):
            i += 1
    else:
        wt = _OTHER
        while i < n and not (
            _is_connector(s[i]) or _is_alpha(s[i]) or _is_number(s[i]) or _is_punct(s[i])
        ):
            i += 1
    return wt, s[:i], s[i:]


def _to_lower(buf: list[str], wt: int, word: str, conn: str) -> None:
    if wt != _UPPER and wt != _CONNECTOR:
        buf.append(word)
        return
    for c in word:
        if _is_connector(c):
            buf.append(conn)
        elif c.isupper():
            buf.append(c.lower())
        else:
            buf.append(c)


def _camel_to_lower(s: str, conn: str) -> str:
    if not s:
        return ""
    buf: list[str] = []
    wt, word, rest = _next_word(s)
    while rest:
        if wt != _CONNECTOR:
            _to_lower(buf, wt, word, conn)
        prev, last = wt, word
        wt, word, rest = _next_word(rest)
        if prev == _NUMBER:
            while wt in (_ALPHA, _NUMBER):
                _to_lower(buf, wt, word, conn)
                wt, word, rest = _next_word(rest)
            if wt not in (_INVALID, _PUNCT, _CONNECTOR):
                buf.append(conn)
        elif prev == _CONNECTOR:
            _to_lower(buf, prev, last, conn)
        elif prev == _PUNCT:
            pass
        else:
            if wt != _NUMBER:
                if wt not in (_CONNECTOR, _PUNCT):
                    buf.append(conn)
                continue
            if not rest:
                continue
            last = word
            wt, word, rest = _next_word(rest)
            if wt != _ALPHA:
                _to_lower(buf, _NUMBER, last, conn)
                if wt not in (_CONNECTOR, _PUNCT):
                    buf.append(conn)
                continue
            buf.append(conn)
            _to_lower(buf, _NUMBER, last, conn)
            while wt in (_ALPHA, _NUMBER):
                _to_lower(buf, wt, word, conn)
                wt, word, rest = _next_word(rest)
            if wt not in (_INVALID, _CONNECTOR, _PUNCT):
                buf.append(conn)
    _to_lower(buf, wt, word, conn)
    return "".join(buf)


register("snakecase", Kind.STR)(lambda s: _camel_to_lower(s, "_"))
register("kebabcase", Kind.STR)(lambda s: _camel_to_lower(s, "-"))


@register("camelcase", Kind.STR)
def camelcase(s: str) -> str:
    """xstrings.ToPascalCase (Sprig's `camelcase` is Pascal case)."""
    if not s:
        return ""
    buf: list[str] = []
    i = 0
    n = len(s)
    r0 = ""
    first_upper = False
    while i < n:
        r0 = s[i]
        i += 1
        if not _is_connector(r0):
            first_upper = r0.isupper()
            r0 = r0.upper()
            break
        buf.append(r0)
    else:
        buf.append(r0)  # Go writes the last connector twice when there is nothing else
        return "".join(buf)
    if i >= n:
        buf.append(r0)
        return "".join(buf)
    while i < n:
        r1 = r0
        r0 = s[i]
        i += 1
        if _is_connector(r0) and _is_connector(r1):
            buf.append(r1)
            continue
        if _is_connector(r1):
            first_upper = r0.isupper()
            r0 = r0.upper()
        else:
            if first_upper:
                if r0.isupper():
                    r0 = r0.lower()
                else:
                    first_upper = False
            buf.append(r1)
    buf.append(r0)
    return "".join(buf)
