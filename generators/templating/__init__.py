"""Template modes behind one small interface.

An `Engine` turns one template string into a function of the parameter map, or says the string is
constant. `compile_tree` builds, once per template, a renderer for a whole document (an Application
template, a generator spec) so that rendering 50,000 Applications touches only the templated
strings. Two engines: Argo CD's default `{{param}}` mode (`fasttemplate`) and `goTemplate: true`
(`gotemplate`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

Params = Mapping[str, Any]
StringRender = Callable[[Params], str]


class Engine(Protocol):
    def compile(self, source: str, field: str) -> StringRender | None:
        """A renderer for `source`, or None when the string renders to itself for any params."""
        ...
