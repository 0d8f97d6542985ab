"""Trigger conditions: a safe, bounded evaluator of the part of expr-lang Argo CD users write.

Why our own: Argo CD evaluates `when` and `oncePer` with expr-lang (Go). The only PyPI
package of that name is an empty placeholder, and evaluating user text with Python's `eval`
is out of the question. The subset here is what Argo CD's catalog and typical hand-written
triggers use: literals ('..', "..", numbers, true, false, nil), member access `a.b`, optional
`a?.b`, index `a["x"]` and `a[0]`, comparisons, `in` / `not in`, `and or not && || !`,
`contains startsWith endsWith matches` (RE2, as Go's regexp), `??`, `cond ? a : b`, `+ -`,
list literals, parentheses, and a whitelist of functions (`len`, `lower`, `upper`, `trim`,
`time.Now()`, `time.Parse(s)` with `.Before .After .Sub .Add`, durations with `.Minutes()`,
`strings.*`). Nothing else can be named: there is no attribute access on Python objects.

Bounds: source length, node count and nesting at compile time; evaluation steps and string
sizes at run time. `ExprSyntaxError` (compile) is a configuration error naming the trigger;
`ExprRuntimeError` (e.g. a field of nil, as expr-lang) makes the condition false, as Argo CD
treats an execution error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from generators.safe_regex import RegexSyntaxError, compile_linear

MAX_SOURCE = 4096
"""Characters of one expression."""
MAX_NODES = 512
"""Syntax nodes of one expression."""
MAX_DEPTH = 64
"""Nesting of one expression (parentheses, operators, calls)."""
MAX_STEPS = 20_000
"""Evaluation steps (nodes visited, list items compared) of one evaluation."""
MAX_STRING = 1 << 16
"""Characters of a string an expression may build (`+`)."""


class ExprError(ValueError):
    """An expression could not be compiled or evaluated."""


class ExprSyntaxError(ExprError):
    """The expression is not valid in the supported subset (position in the message)."""


class ExprRuntimeError(ExprError):
    """Evaluation failed (nil member, wrong operand types, a limit)."""


# -- time values -------------------------------------------------------------------------------


class Duration(int):
    """Go's time.Duration: integer nanoseconds, with its accessor methods."""

    def Hours(self) -> float:
        return int(self) / 3.6e12

    def Minutes(self) -> float:
        return int(self) / 6e10

    def Seconds(self) -> float:
        return int(self) / 1e9

    def Milliseconds(self) -> int:
        return int(self) // 1_000_000


@dataclass(frozen=True, slots=True)
class Time:
    """Go's time.Time, as far as conditions use it."""

    at: dt.datetime

    def Before(self, other: Any) -> bool:
        return self.at < _time(other).at

    def After(self, other: Any) -> bool:
        return self.at > _time(other).at

    def Equal(self, other: Any) -> bool:
        return self.at == _time(other).at

    def Sub(self, other: Any) -> Duration:
        delta = self.at - _time(other).at
        return Duration(round(delta.total_seconds() * 1e9))

    def Add(self, duration: Any) -> Time:
        if not isinstance(duration, int) or isinstance(duration, bool):
            raise ExprRuntimeError("Time.Add wants a duration")
        return Time(self.at + dt.timedelta(microseconds=int(duration) / 1000))

    def Unix(self) -> int:
        return int(self.at.timestamp())


def _time(value: Any) -> Time:
    if not isinstance(value, Time):
        raise ExprRuntimeError(f"want a time, got {_type(value)}")
    return value


def _parse_time(text: Any) -> Time:
    if not isinstance(text, str):
        raise ExprRuntimeError(f"time.Parse wants a string, got {_type(text)}")
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ExprRuntimeError(f"time.Parse: {text[:64]!r} is not an RFC 3339 time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return Time(parsed)


def _now() -> Time:
    return Time(dt.datetime.now(dt.UTC))


METHODS: dict[type, frozenset[str]] = {
    Time: frozenset({"Before", "After", "Equal", "Sub", "Add", "Unix"}),
    Duration: frozenset({"Hours", "Minutes", "Seconds", "Milliseconds"}),
}
"""The only methods an expression may call, by value type."""


def _str_arg(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ExprRuntimeError(f"{name} wants a string, got {_type(value)}")
    return value


def _bounded(text: str) -> str:
    if len(text) > MAX_STRING:
        raise ExprRuntimeError(f"a string over {MAX_STRING} characters")
    return text


def _len(value: Any) -> int:
    if isinstance(value, str | list | dict):
        return len(value)
    raise ExprRuntimeError(f"len of {_type(value)}")


NAMESPACES: dict[str, dict[str, Any]] = {
    "time": {
        "Now": _now,
        "Parse": _parse_time,
        "Nanosecond": Duration(1),
        "Millisecond": Duration(1_000_000),
        "Second": Duration(1_000_000_000),
        "Minute": Duration(60_000_000_000),
        "Hour": Duration(3_600_000_000_000),
    },
    "strings": {
        "ToUpper": lambda s: _str_arg("strings.ToUpper", s).upper(),
        "ToLower": lambda s: _str_arg("strings.ToLower", s).lower(),
        "TrimSpace": lambda s: _str_arg("strings.TrimSpace", s).strip(),
        "HasPrefix": lambda s, p: _str_arg("strings.HasPrefix", s).startswith(
            _str_arg("strings.HasPrefix", p)
        ),
        "HasSuffix": lambda s, p: _str_arg("strings.HasSuffix", s).endswith(
            _str_arg("strings.HasSuffix", p)
        ),
        "Contains": lambda s, p: _str_arg("strings.Contains", p) in _str_arg("strings.Contains", s),
        "ReplaceAll": lambda s, old, new: _bounded(
            _str_arg("strings.ReplaceAll", s).replace(
                _str_arg("strings.ReplaceAll", old), _str_arg("strings.ReplaceAll", new)
            )
        ),
    },
}
"""Go-package-like names Argo CD puts beside `app` (time, strings)."""

FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": _len,
    "lower": lambda s: _str_arg("lower", s).lower(),
    "upper": lambda s: _str_arg("upper", s).upper(),
    "trim": lambda s: _str_arg("trim", s).strip(),
    "hasPrefix": lambda s, p: _str_arg("hasPrefix", s).startswith(_str_arg("hasPrefix", p)),
    "hasSuffix": lambda s, p: _str_arg("hasSuffix", s).endswith(_str_arg("hasSuffix", p)),
    "string": lambda v: _bounded(_format(v)),
    "now": _now,
}
"""expr-lang built-ins supported (called as `len(x)`)."""


def _type(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, Duration):
        return "duration"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "map"
    if isinstance(value, Time):
        return "time"
    return "function"


def _format(value: Any) -> str:
    """Go's %v of a value (what oncePer keys are made of)."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Time):
        return value.at.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# -- lexer -------------------------------------------------------------------------------------

_PUNCT: tuple[str, ...] = ("?.", "??", "==", "!=", "<=", ">=", "&&", "||", "<", ">", "!")
_PUNCT += ("(", ")", "[", "]", ",", ".", "?", ":", "+", "-")
_WORD_OPS = frozenset({"and", "or", "not", "in", "contains", "startsWith", "endsWith", "matches"})
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"'}


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # num, str, name, op, end
    value: Any
    pos: int


def _lex(source: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    i, n = 0, len(source)
    while i < n:
        c = source[i]
        if c.isspace():
            i += 1
            continue
        if c.isdigit():
            j = i
            while j < n and (source[j].isdigit() or source[j] in "._"):
                j += 1
            text = source[i:j].replace("_", "")
            try:
                number: int | float = float(text) if "." in text else int(text)
            except ValueError:
                raise ExprSyntaxError(f"bad number {source[i:j]!r} at {i}") from None
            tokens.append(_Tok("num", number, i))
            i = j
            continue
        if c in "'\"":
            j, out = i + 1, []
            while j < n and source[j] != c:
                if source[j] == "\\" and j + 1 < n:
                    out.append(_ESCAPES.get(source[j + 1], source[j + 1]))
                    j += 2
                else:
                    out.append(source[j])
                    j += 1
            if j >= n:
                raise ExprSyntaxError(f"unterminated string at {i}")
            tokens.append(_Tok("str", "".join(out), i))
            i = j + 1
            continue
        if c.isalpha() or c in "_$":
            j = i
            while j < n and (source[j].isalnum() or source[j] in "_$"):
                j += 1
            word = source[i:j]
            tokens.append(_Tok("op" if word in _WORD_OPS else "name", word, i))
            i = j
            continue
        for punct in _PUNCT:
            if source.startswith(punct, i):
                if punct == "?." and i + 2 < n and source[i + 2].isdigit():
                    continue  # `a ?.5 : b` is a ternary, not an optional member
                tokens.append(_Tok("op", punct, i))
                i += len(punct)
                break
        else:
            raise ExprSyntaxError(f"unexpected character {c!r} at {i}")
    tokens.append(_Tok("end", None, n))
    return tokens


# -- parser (precedence climbing) -> nested tuples --------------------------------------------

Node = tuple[Any, ...]

_BINARY: dict[str, int] = {
    "??": 1,
    "or": 2,
    "||": 2,
    "and": 3,
    "&&": 3,
    "==": 4,
    "!=": 4,
    "<": 4,
    "<=": 4,
    ">": 4,
    ">=": 4,
    "in": 4,
    "not in": 4,
    "contains": 4,
    "startsWith": 4,
    "endsWith": 4,
    "matches": 4,
    "+": 5,
    "-": 5,
}


class _Parser:
    def __init__(self, source: str) -> None:
        self.tokens = _lex(source)
        self.i = 0
        self.nodes = 0
        self.depth = 0

    def peek(self, offset: int = 0) -> _Tok:
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def take(self) -> _Tok:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def expect(self, value: str) -> None:
        tok = self.take()
        if tok.kind != "op" or tok.value != value:
            raise ExprSyntaxError(f"expected {value!r} at {tok.pos}, found {_show(tok)}")

    def node(self, *parts: Any) -> Node:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ExprSyntaxError(f"more than {MAX_NODES} syntax nodes")
        return tuple(parts)

    def parse(self) -> Node:
        tree = self.expression()
        tok = self.peek()
        if tok.kind != "end":
            raise ExprSyntaxError(f"unexpected {_show(tok)} at {tok.pos}")
        return tree

    def expression(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprSyntaxError(f"nested more than {MAX_DEPTH} levels")
        try:
            cond = self.binary(1)
            if self.peek().kind == "op" and self.peek().value == "?":
                self.take()
                yes = self.expression()
                self.expect(":")
                no = self.expression()
                return self.node("if", cond, yes, no)
            return cond
        finally:
            self.depth -= 1

    def _binary_op(self) -> str | None:
        tok = self.peek()
        if tok.kind != "op":
            return None
        if tok.value == "not" and self.peek(1).kind == "op" and self.peek(1).value == "in":
            return "not in"
        return str(tok.value) if tok.value in _BINARY else None

    def binary(self, min_prec: int) -> Node:
        left = self.unary()
        while True:
            op = self._binary_op()
            if op is None or _BINARY[op] < min_prec:
                return left
            self.take()
            if op == "not in":
                self.take()
            right = self.binary(_BINARY[op] + 1)
            left = self.node("bin", op, left, right)

    def unary(self) -> Node:
        tok = self.peek()
        if tok.kind == "op" and tok.value in ("not", "!", "-"):
            self.take()
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise ExprSyntaxError(f"nested more than {MAX_DEPTH} levels")
            try:
                operand = self.unary()
            finally:
                self.depth -= 1
            return self.node("neg" if tok.value == "-" else "not", operand)
        return self.postfix(self.primary())

    def primary(self) -> Node:
        tok = self.take()
        if tok.kind in ("num", "str"):
            return self.node("lit", tok.value)
        if tok.kind == "name":
            if tok.value in ("true", "false"):
                return self.node("lit", tok.value == "true")
            if tok.value == "nil":
                return self.node("lit", None)
            return self.node("name", tok.value)
        if tok.kind == "op" and tok.value == "(":
            inner = self.expression()
            self.expect(")")
            return inner
        if tok.kind == "op" and tok.value == "[":
            items = self.arguments("]")
            return self.node("list", tuple(items))
        raise ExprSyntaxError(f"unexpected {_show(tok)} at {tok.pos}")

    def arguments(self, close: str) -> list[Node]:
        items: list[Node] = []
        if self.peek().kind == "op" and self.peek().value == close:
            self.take()
            return items
        while True:
            items.append(self.expression())
            tok = self.take()
            if tok.kind == "op" and tok.value == close:
                return items
            if tok.kind != "op" or tok.value != ",":
                raise ExprSyntaxError(f"expected ',' or {close!r} at {tok.pos}, found {_show(tok)}")

    def postfix(self, target: Node) -> Node:
        while True:
            tok = self.peek()
            if tok.kind != "op":
                return target
            if tok.value in (".", "?."):
                self.take()
                name = self.take()
                if name.kind not in ("name", "op") or not str(name.value).isidentifier():
                    raise ExprSyntaxError(f"expected a field name at {name.pos}")
                target = self.node("get", target, self.node("lit", name.value), tok.value == "?.")
            elif tok.value == "[":
                self.take()
                index = self.expression()
                self.expect("]")
                target = self.node("get", target, index, False)
            elif tok.value == "(":
                self.take()
                args = self.arguments(")")
                target = self.node("call", target, tuple(args))
            else:
                return target


def _show(tok: _Tok) -> str:
    return "end of expression" if tok.kind == "end" else repr(tok.value)


# -- evaluation --------------------------------------------------------------------------------


class _Run:
    __slots__ = ("env", "steps")

    def __init__(self, env: Mapping[str, Any]) -> None:
        self.env = env
        self.steps = 0

    def tick(self, units: int = 1) -> None:
        self.steps += units
        if self.steps > MAX_STEPS:
            raise ExprRuntimeError(f"evaluation took more than {MAX_STEPS} steps")

    def eval(self, node: Node) -> Any:
        self.tick()
        kind = node[0]
        if kind == "lit":
            return node[1]
        if kind == "name":
            name = node[1]
            if name in self.env:
                return self.env[name]
            if name in NAMESPACES:
                return _Namespace(name)
            if name in FUNCTIONS:
                return FUNCTIONS[name]
            raise ExprRuntimeError(f"unknown name {name!r}")
        if kind == "list":
            return [self.eval(item) for item in node[1]]
        if kind == "not":
            return not _bool(self.eval(node[1]), "not")
        if kind == "neg":
            value = self.eval(node[1])
            if not _is_number(value):
                raise ExprRuntimeError(f"cannot negate {_type(value)}")
            return -value
        if kind == "if":
            return self.eval(node[2]) if _bool(self.eval(node[1]), "?:") else self.eval(node[3])
        if kind == "get":
            return self._get(node)
        if kind == "call":
            return self._call(node)
        return self._binary(node[1], node[2], node[3])

    def _get(self, node: Node) -> Any:
        target = self.eval(node[1])
        key = self.eval(node[2])
        optional = node[3]
        if target is None:
            if optional:
                return None
            raise ExprRuntimeError(f"cannot fetch {_format(key)} from nil")
        if isinstance(target, _Namespace):
            members = NAMESPACES[target.name]
            if key not in members:
                raise ExprRuntimeError(f"{target.name}.{key} is not supported")
            return members[key]
        if isinstance(target, dict):
            return target.get(key) if isinstance(key, str) else None
        if isinstance(target, list):
            if not isinstance(key, int) or isinstance(key, bool):
                raise ExprRuntimeError(f"an array index must be a number, not {_type(key)}")
            index = key + len(target) if key < 0 else key
            if not 0 <= index < len(target):
                raise ExprRuntimeError(f"index {key} out of range (length {len(target)})")
            return target[index]
        if type(target) in METHODS and key in METHODS[type(target)]:
            return _Method(target, str(key))
        raise ExprRuntimeError(f"cannot fetch {_format(key)} from {_type(target)}")

    def _call(self, node: Node) -> Any:
        function = self.eval(node[1])
        args = [self.eval(arg) for arg in node[2]]
        if isinstance(function, _Method):
            bound = getattr(function.target, function.name)
            return _apply(function.name, bound, args)
        if callable(function) and not isinstance(function, type):
            return _apply("function", function, args)
        raise ExprRuntimeError(f"{_type(function)} is not callable")

    def _binary(self, op: str, left_node: Node, right_node: Node) -> Any:
        left = self.eval(left_node)
        if op in ("and", "&&"):
            return _bool(left, op) and _bool(self.eval(right_node), op)
        if op in ("or", "||"):
            return _bool(left, op) or _bool(self.eval(right_node), op)
        if op == "??":
            return left if left is not None else self.eval(right_node)
        right = self.eval(right_node)
        if op == "==":
            return _equal(left, right)
        if op == "!=":
            return not _equal(left, right)
        if op in ("in", "not in"):
            found = self._member(left, right)
            return found if op == "in" else not found
        if op in ("<", "<=", ">", ">="):
            return _compare(op, left, right)
        if op in ("contains", "startsWith", "endsWith", "matches"):
            text, other = _str_arg(op, left), _str_arg(op, right)
            if op == "contains":
                return other in text
            if op == "startsWith":
                return text.startswith(other)
            if op == "endsWith":
                return text.endswith(other)
            try:
                return compile_linear(other).search(text) is not None
            except RegexSyntaxError as error:
                raise ExprRuntimeError(f"matches: {error}") from None
        if op == "+":
            if isinstance(left, str) and isinstance(right, str):
                return _bounded(left + right)
            if _is_number(left) and _is_number(right):
                return left + right
            raise ExprRuntimeError(f"cannot add {_type(left)} and {_type(right)}")
        if _is_number(left) and _is_number(right):  # "-"
            return left - right
        raise ExprRuntimeError(f"cannot subtract {_type(right)} from {_type(left)}")

    def _member(self, item: Any, container: Any) -> bool:
        if isinstance(container, list):
            self.tick(len(container))
            return any(_equal(item, x) for x in container)
        if isinstance(container, dict):
            return isinstance(item, str) and item in container
        if container is None:
            return False
        raise ExprRuntimeError(f"'in' wants an array or map, got {_type(container)}")


@dataclass(frozen=True, slots=True)
class _Namespace:
    name: str


@dataclass(frozen=True, slots=True)
class _Method:
    target: Any
    name: str


def _apply(name: str, function: Callable[..., Any], args: Sequence[Any]) -> Any:
    try:
        return function(*args)
    except TypeError:
        raise ExprRuntimeError(f"{name}: wrong number or type of arguments") from None
    except (OverflowError, ValueError) as error:  # e.g. a time beyond year 9999
        raise ExprRuntimeError(f"{name}: {error}") from None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _bool(value: Any, op: str) -> bool:
    if not isinstance(value, bool):
        raise ExprRuntimeError(f"{op!r} wants a bool, got {_type(value)}")
    return value


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left is right
    if _is_number(left) and _is_number(right):
        return bool(left == right)
    if type(left) is not type(right):
        return False
    return bool(left == right)


def _compare(op: str, left: Any, right: Any) -> bool:
    comparable = (_is_number(left) and _is_number(right)) or (
        isinstance(left, str) and isinstance(right, str)
    )
    if isinstance(left, Time) and isinstance(right, Time):
        left, right, comparable = left.at, right.at, True
    if not comparable:
        raise ExprRuntimeError(f"cannot compare {_type(left)} {op} {_type(right)}")
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    return bool(left >= right)


@dataclass(frozen=True, slots=True)
class Expression:
    """A compiled condition; `evaluate` is safe to call with any (untrusted) document."""

    source: str
    tree: Node

    def evaluate(self, env: Mapping[str, Any]) -> Any:
        """The value of the expression with `env`'s names (e.g. `app`) bound."""
        try:
            return _Run(env).eval(self.tree)
        except RecursionError:
            raise ExprRuntimeError("the data is nested too deeply") from None


def _check_names(node: Node, names: frozenset[str]) -> None:
    """Every name is a variable, a function or a package member we support: a typo or an
    Argo CD helper fleet lacks (`repo.*`, `sync.*`) is a compile error, not a silent false."""
    kind = node[0]
    if kind == "name" and node[1] not in names | NAMESPACES.keys() | FUNCTIONS.keys():
        raise ExprSyntaxError(f"unknown name {node[1]!r}")
    if kind == "get" and node[1][0] == "name" and node[1][1] in NAMESPACES:
        member = node[2][1] if node[2][0] == "lit" else None
        if member not in NAMESPACES[node[1][1]]:
            raise ExprSyntaxError(f"{node[1][1]}.{member} is not supported")
    for part in node[1:]:
        if isinstance(part, tuple) and part and isinstance(part[0], str):
            _check_names(part, names)
        elif isinstance(part, tuple):
            for item in part:
                if isinstance(item, tuple):
                    _check_names(item, names)


def compile_expression(source: str, names: frozenset[str] = frozenset({"app"})) -> Expression:
    """Parse `source` with the variables `names`; ExprSyntaxError names what is wrong and
    where."""
    if not isinstance(source, str):
        raise ExprSyntaxError(f"an expression must be a string, not {type(source).__name__}")
    if len(source) > MAX_SOURCE:
        raise ExprSyntaxError(f"longer than {MAX_SOURCE} characters")
    if not source.strip():
        raise ExprSyntaxError("empty expression")
    tree = _Parser(source).parse()
    _check_names(tree, names)
    return Expression(source, tree)


def format_value(value: Any) -> str:
    """`fmt.Sprintf("%v", value)` as Argo CD keys oncePer values."""
    return _format(value)
