"""Errors raised by the generators library.

Every error names where the problem is (a field path, a file, a template position) so that a user
can fix their ApplicationSet without reading our code. Callers that must never act on a partial
result (the ApplicationSet controller, `fleet appset render`) catch `GeneratorError` as a whole.
"""

from __future__ import annotations


class GeneratorError(Exception):
    """Base class: the ApplicationSet could not be evaluated. Never read as "no Applications"."""


class InvalidApplicationSetError(GeneratorError):
    """The ApplicationSet document does not have the shape Argo CD's schema requires."""

    def __init__(self, path: str, detail: str) -> None:
        self.path = path
        self.detail = detail
        super().__init__(f"{path}: {detail}" if path else detail)


class TemplateError(GeneratorError):
    """A template could not be parsed or executed.

    `field` is the templated field (e.g. `spec.template.metadata.name`); `position` is
    `line:column` inside that field's template when known.
    """

    def __init__(self, detail: str, *, field: str = "", position: str = "") -> None:
        self.detail = detail
        self.field = field
        self.position = position
        where = field
        if position:
            where = f"{where}:{position}" if where else position
        super().__init__(f"{where}: {detail}" if where else detail)


class GitReadError(GeneratorError):
    """A repository, revision, directory or file could not be read."""


class UnsafePathError(GitReadError):
    """A path would leave the repository (`..`, absolute path, or a symlink pointing outside)."""


class ApplicationNameError(GeneratorError):
    """A parameter set rendered an Application name Kubernetes would refuse, or a duplicate."""


class LimitExceededError(TemplateError):
    """An expansion hit one of its bounds (time, template memory, Application or expansion size).

    A hostile or runaway ApplicationSet must fail, named, instead of freezing or exhausting the
    controller: `field` names where the limit was hit and `limit` which one (see
    `generators.limits.ExpansionLimits`), so the status condition tells the user what to shrink.
    """

    def __init__(
        self, detail: str, *, field: str = "", position: str = "", limit: str = ""
    ) -> None:
        super().__init__(detail, field=field, position=position)
        self.limit = limit
