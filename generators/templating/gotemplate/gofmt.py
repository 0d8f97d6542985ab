"""Go's fmt package for the values templates handle: Sprint, Sprintln and Sprintf.

Users write `printf "%05.1f"` and expect Go's output, including Go's peculiar error text
(`%!d(string=x)`) instead of an exception, so verbs are re-implemented rather than mapped
onto Python's `%` operator blindly.
"""

from __future__ import annotations

import math
from typing import Any

from .meter import check_size
from .values import MISSING, Int64, bounded_join, format_float_g, format_value, type_name

_TOO_LARGE = 1_000_000
"""fmt's tooLarge: a width or precision above a million is not a number to Go either."""


def go_quote(s: str, ascii_only: bool = False) -> str:
    """strconv.Quote (or QuoteToASCII): Go escapes, printable runes kept."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\a":
            out.append("\\a")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\f":
            out.append("\\f")
        elif ch == "\v":
            out.append("\\v")
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        elif o < 0x80 or (ch.isprintable() and not ascii_only):
            out.append(ch)
        elif o < 0x10000:
            out.append(f"\\u{o:04x}")
        else:
            out.append(f"\\U{o:08x}")
    out.append('"')
    return "".join(out)


def sprint(args: list[Any]) -> str:
    """fmt.Sprint: a space between operands when neither side is a string."""
    parts: list[str] = []
    prev_string = False
    for i, a in enumerate(args):
        is_string = type(a) is str
        if i > 0 and not is_string and not prev_string:
            parts.append(" ")
        parts.append(format_value(a))
        prev_string = is_string
    return bounded_join("", parts, "", "")


def sprintln(args: list[Any]) -> str:
    """fmt.Sprintln: always a space between operands, and a trailing newline."""
    return bounded_join("", (format_value(a) for a in args), "\n")


class _Spec:
    __slots__ = ("minus", "plus", "prec", "sharp", "space", "verb", "width", "zero")

    def __init__(self) -> None:
        self.minus = False
        self.plus = False
        self.sharp = False
        self.space = False
        self.zero = False
        self.width: int | None = None
        self.prec: int | None = None
        self.verb = "v"


def _pad(s: str, spec: _Spec, numeric: bool = False) -> str:
    w = spec.width
    if w is None or len(s) >= w:
        return s
    check_size(w, "printf width")
    n = w - len(s)
    if spec.minus:
        return s + " " * n
    if spec.zero:
        if numeric and s and s[0] in "+- ":
            return s[0] + "0" * n + s[1:]
        return "0" * n + s
    return " " * n + s


def _bad(spec: _Spec, v: Any) -> str:
    if v is None or v is MISSING:
        return f"%!{spec.verb}(<nil>)"
    return f"%!{spec.verb}({type_name(v)}={format_value(v)})"


def _fmt_int(n: int, spec: _Spec) -> str:
    verb = spec.verb
    if verb == "c":
        return _pad(chr(n) if 0 <= n <= 0x10FFFF else "\ufffd", spec)
    if verb == "q":
        ch = chr(n) if 0 <= n <= 0x10FFFF else "\ufffd"
        q = go_quote(ch, spec.plus)[1:-1]
        return _pad("'" + q.replace('\\"', '"').replace("'", "\\'") + "'", spec)
    if verb == "U":
        s = f"U+{n:04X}"
        return _pad(s + (f" '{chr(n)}'" if spec.sharp else ""), spec)
    base = {"d": "d", "v": "d", "b": "b", "o": "o", "O": "o", "x": "x", "X": "X"}[verb]
    digits = format(abs(n), base)
    if spec.prec is not None:
        digits = digits.rjust(spec.prec, "0")
        if spec.prec == 0 and n == 0:
            digits = ""
    prefix = ""
    if spec.sharp or verb == "O":
        prefix = {"b": "0b", "o": "0", "O": "0o", "x": "0x", "X": "0X"}.get(verb, "")
    sign = "-" if n < 0 else ("+" if spec.plus else (" " if spec.space else ""))
    body = prefix + digits
    if spec.zero and not spec.minus and spec.width is not None and spec.prec is None:
        fill = spec.width - len(sign) - len(body)
        if fill > 0:
            body = "0" * fill + body
        return sign + body
    return _pad(sign + body, spec)


def _fmt_float(f: float, spec: _Spec) -> str:
    verb = spec.verb
    if math.isinf(f) or math.isnan(f):
        s = "NaN" if math.isnan(f) else ("+Inf" if f > 0 else "-Inf")
        if s == "+Inf" and not spec.plus:
            s = "Inf" if spec.space else "+Inf"
            s = " Inf" if spec.space else s
        saved = spec.zero
        spec.zero = False
        out = _pad(s, spec)
        spec.zero = saved
        return out
    if verb in "vgG" and spec.prec is None:
        s = format_float_g(f)
        if verb == "G":
            s = s.upper()
    elif verb in "gG":
        s = format(f, f".{spec.prec}{verb}")
    elif verb in "xX":
        s = _hex_float(f, spec.prec)
        if verb == "X":
            s = s.upper()
    elif verb in "eEfF":
        prec = 6 if spec.prec is None else spec.prec
        s = format(f, f".{prec}{verb.lower() if verb == 'F' else verb}")
    else:
        return _bad(spec, f)
    if s[0] != "-":
        if spec.plus:
            s = "+" + s
        elif spec.space:
            s = " " + s
    return _pad(s, spec, numeric=True)


def _hex_float(f: float, prec: int | None) -> str:
    """strconv's 'x' format: 0x1.cp+01 (no trailing zeros, two-digit exponent)."""
    if prec is not None:
        raise ValueError("precision")
    h = f.hex()
    sign = "-" if h.startswith("-") else ""
    mant, _, exp = h.lstrip("-").removeprefix("0x").partition("p")
    if "." in mant:
        mant = mant.rstrip("0").rstrip(".")
    e = int(exp)
    return f"{sign}0x{mant}p{'-' if e < 0 else '+'}{abs(e):02d}"


def _fmt_str(s: str, spec: _Spec) -> str:
    verb = spec.verb
    if verb in "sv":
        if spec.prec is not None:
            s = s[: spec.prec]
        return _pad(s, spec)
    if verb == "q":
        if spec.sharp and "`" not in s and all(c.isprintable() or c == "\t" for c in s):
            return _pad("`" + s + "`", spec)
        return _pad(go_quote(s, spec.plus), spec)
    if verb in "xX":
        data = s.encode()
        if spec.prec is not None:
            data = data[: spec.prec]
        sep = " " if spec.space else ""
        parts = [format(b, "02" + ("x" if verb == "x" else "X")) for b in data]
        if spec.sharp:
            parts = [("0x" if verb == "x" else "0X") + p for p in parts]
            if not spec.space:
                parts = [parts[0]] + [p[2:] for p in parts[1:]] if parts else parts
        return _pad(sep.join(parts), spec)
    return _bad(spec, s)


def format_arg(v: Any, spec: _Spec) -> str:
    """One `%verb` applied to one argument; containers apply the verb element-wise."""
    verb = spec.verb
    if verb == "T":
        return _pad(type_name(v) if v is not None and v is not MISSING else "<nil>", spec)
    t = type(v)
    if t is str:
        return _fmt_str(v, spec)
    if t is bool:
        if verb in "tv":
            return _pad("true" if v else "false", spec)
        return _bad(spec, v)
    if t is int or t is Int64:
        if verb in "vdboOxXcqU":
            return _fmt_int(int(v), spec)
        if verb in "eEfFgG":
            return _bad(spec, v)
        return _bad(spec, v)
    if t is float:
        if verb in "veEfFgGxX":
            try:
                return _fmt_float(v, spec)
            except ValueError:
                return _bad(spec, v)
        return _bad(spec, v)
    if v is None or v is MISSING:
        if verb == "v":
            return _pad("<nil>", spec)
        return _bad(spec, v)
    if t is dict:
        items = (f"{format_arg(k, spec)}:{format_arg(v[k], spec)}" for k in sorted(v))
        return bounded_join("map[", items, "]")
    if t is list or t is tuple:
        return bounded_join("[", (format_arg(e, spec) for e in v), "]")
    return _pad(format_value(v), spec)


def sprintf(fmt: str, args: list[Any]) -> str:
    """fmt.Sprintf with Go's verbs, flags, widths, `*` and Go's error annotations."""
    out: list[str] = []
    argn = 0
    i = 0
    n = len(fmt)
    while i < n:
        j = fmt.find("%", i)
        if j < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:j])
        i = j + 1
        spec = _Spec()
        while i < n and fmt[i] in "+-# 0":
            c = fmt[i]
            if c == "+":
                spec.plus = True
            elif c == "-":
                spec.minus = True
                spec.zero = False
            elif c == "#":
                spec.sharp = True
            elif c == " ":
                spec.space = True
            elif not spec.minus:
                spec.zero = True
            i += 1
        if i < n and fmt[i] == "*":
            i += 1
            if (
                argn < len(args)
                and type(args[argn]) in (int, Int64)
                and abs(args[argn]) <= _TOO_LARGE
            ):
                spec.width = int(args[argn])
                if spec.width < 0:
                    spec.minus = True
                    spec.width = -spec.width
                argn += 1
            else:
                out.append("%!(BADWIDTH)")
                argn += 1
        else:
            width, i = _parsenum(fmt, i)
            if width is not None:
                spec.width = width
        if i < n and fmt[i] == ".":
            i += 1
            if i < n and fmt[i] == "*":
                i += 1
                if (
                    argn < len(args)
                    and type(args[argn]) in (int, Int64)
                    and abs(args[argn]) <= _TOO_LARGE
                ):
                    spec.prec = max(int(args[argn]), 0)
                    argn += 1
                else:
                    out.append("%!(BADPREC)")
                    argn += 1
            else:
                prec, i = _parsenum(fmt, i)
                spec.prec = prec if prec is not None else 0
        if i >= n:
            out.append("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        if verb == "%":
            out.append("%")
            continue
        spec.verb = verb
        if argn >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        out.append(format_arg(args[argn], spec))
        argn += 1
    if argn < len(args):
        extra = bounded_join(
            "%!(EXTRA ",
            (
                "<nil>" if a is None or a is MISSING else f"{type_name(a)}={format_value(a)}"
                for a in args[argn:]
            ),
            ")",
            ", ",
        )
        out.append(extra)
    return bounded_join("", out, "", "")


def _parsenum(fmt: str, i: int) -> tuple[int | None, int]:
    """fmt's parsenum: digits from `i`; a number past a million consumes the rest of the
    format (Go then reports %!(NOVERB)), which also keeps widths from allocating gigabytes."""
    n = len(fmt)
    k = i
    num = 0
    while i < n and "0" <= fmt[i] <= "9":
        if num > _TOO_LARGE:
            return None, n
        num = num * 10 + int(fmt[i])
        i += 1
    return (num if i > k else None), i
