"""Go text/template + Sprig, rendered exactly as Argo CD's ApplicationSet `goTemplate: true`.

Users paste templates from Argo CD unchanged, so output must match Go byte for byte; see
tests/templating/go_oracle_cases.json for the behaviour checked against real Go.
"""

from __future__ import annotations

from .errors import GoTemplateError
from .template import GoTemplate, compile_template

__all__ = ["GoTemplate", "GoTemplateError", "compile_template"]
