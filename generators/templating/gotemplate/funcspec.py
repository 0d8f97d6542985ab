"""Function signatures in Go terms, so arguments are checked and converted as Go would.

Go's executor converts each argument to the declared parameter type (an int literal can be a
float64 parameter, a float64 value cannot be an int one); recording the Go parameter kinds
lets the interpreter reproduce those rules and Go's error messages.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum
from typing import Any, TypeVar


class Kind(IntEnum):
    ANY = 0  # interface{}: a missing value becomes nil
    VALUE = 1  # reflect.Value (builtins like eq): a missing value stays missing
    STR = 2
    INT = 3
    INT64 = 4
    FLOAT = 5
    BOOL = 6
    MAP = 7  # map[string]interface{}
    LIST = 8  # []interface{}


GO_TYPE = {
    Kind.ANY: "interface {}",
    Kind.VALUE: "reflect.Value",
    Kind.STR: "string",
    Kind.INT: "int",
    Kind.INT64: "int64",
    Kind.FLOAT: "float64",
    Kind.BOOL: "bool",
    Kind.MAP: "map[string]interface {}",
    Kind.LIST: "[]interface {}",
}


class FuncSpec:
    __slots__ = ("fn", "params", "variadic")

    def __init__(
        self, fn: Callable[..., Any], params: tuple[Kind, ...], variadic: Kind | None
    ) -> None:
        self.fn = fn
        self.params = params
        self.variadic = variadic


REGISTRY: dict[str, FuncSpec] = {}

F = TypeVar("F", bound=Callable[..., Any])


def register(
    names: str | tuple[str, ...], *params: Kind, variadic: Kind | None = None
) -> Callable[[F], F]:
    """Declare a template function under one or more names with its Go parameter kinds."""

    def deco(fn: F) -> F:
        for n in (names,) if isinstance(names, str) else names:
            REGISTRY[n] = FuncSpec(fn, params, variadic)
        return fn

    return deco
