"""goTemplate mode behind the `Engine` interface: Go text/template with Sprig, compiled once."""

from __future__ import annotations

from generators.templating import StringRender
from generators.templating.gotemplate import compile_template


class GoTemplateEngine:
    def __init__(self, missingkey: str = "default") -> None:
        self.missingkey = missingkey

    def compile(self, source: str, field: str) -> StringRender | None:
        if "{{" not in source:
            return None
        return compile_template(source, name=field, missingkey=self.missingkey).execute
