"""YAML and JSON loading with Kubernetes' (sigs.k8s.io/yaml) reading of scalars.

Argo CD parses YAML by converting it to JSON first, so timestamps stay strings. PyYAML's safe loader
would turn `2024-01-01` into a `date`, which neither JSON nor a template can hold; this loader keeps
it a string. The C loader is used when PyYAML was built with libyaml (an order of magnitude faster
on large ClusterSets and parameter files).
"""

from __future__ import annotations

from typing import Any

import yaml

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class KubeYAMLLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """Safe loader whose timestamps are plain strings."""


KubeYAMLLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load(text: str | bytes) -> Any:
    """Parse one YAML (or JSON) document. Raises `yaml.YAMLError` on malformed input."""
    return yaml.load(text, Loader=KubeYAMLLoader)


def load_all(text: str | bytes) -> list[Any]:
    """Parse every document of a YAML stream, skipping empty documents."""
    return [doc for doc in yaml.load_all(text, Loader=KubeYAMLLoader) if doc is not None]


def describe_yaml_error(error: yaml.YAMLError) -> str:
    """A one-line description with the line and column where PyYAML noticed the problem."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    if mark is not None:
        return f"line {mark.line + 1} column {mark.column + 1}: {problem}"
    return str(problem)
