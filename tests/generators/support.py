"""Builders shared by the generator specifications."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from generators.base import Environment
from generators.model import ApplicationSet, parse_application_set
from generators.repos import LocalRepoResolver

OPEN_RESOLVERS: list[LocalRepoResolver] = []
"""Closed after each test by the autouse fixture in conftest.py (their git processes)."""


def application_set(spec: dict[str, Any], *, name: str = "demo") -> ApplicationSet:
    """An argoproj.io ApplicationSet document around `spec`, parsed."""
    return parse_application_set(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "ApplicationSet",
            "metadata": {"name": name},
            "spec": spec,
        }
    )


def repo_environment(repo_url: str, repo: Path, **kwargs: Any) -> Environment:
    """An Environment whose git generator reads `repo_url` from the local repository `repo`."""
    resolver = LocalRepoResolver({repo_url: str(repo)})
    OPEN_RESOLVERS.append(resolver)
    return Environment(repos=resolver, **kwargs)
