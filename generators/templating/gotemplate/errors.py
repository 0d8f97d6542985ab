"""The error type every parse and execution failure of a Go template is reported as."""

from __future__ import annotations

from generators.errors import LimitExceededError, TemplateError


class GoTemplateError(TemplateError):
    """A Go template failed to parse or execute.

    Subclassing `TemplateError` lets callers that already handle the default templating mode
    treat both modes alike, while `position` keeps Go's `line:col` so users can find the spot.
    """


class GoTemplateLimitError(GoTemplateError, LimitExceededError):
    """A Go template hit a limit (time, memory, output size): both error types at once, so
    callers handling either see it."""


class FuncError(Exception):
    """Raised by template functions; the executor turns it into `error calling NAME: ...`.

    Functions do not know their call site, so they raise this plain exception and let the
    interpreter attach the position, exactly as Go's `safeCall` wraps a function's error.
    """
