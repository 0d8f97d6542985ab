"""Kustomize sources: Argo CD's `spec.source.kustomize` edits, then `kustomize build`.

As Argo CD does, the options are applied with `kustomize edit` on the application's
kustomization; fleet does it in a temporary copy of the repository content so the (shared,
cached) checkout is never modified. Without a kustomize binary, `kubectl kustomize` builds a
source that needs no edits; one that needs edits reports ToolMissing.

Argo CD options not implemented (InvalidSource when set): `patches`, `components`,
`commonAnnotationsEnvsubst`, `labelWithoutSelector`, `labelIncludeTemplates`, `kubeVersion`,
`apiVersions`. `version` is ignored (one kustomize).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

import anyio

from .errors import INVALID_SOURCE, TOOL_MISSING, RenderError
from .manifests import parse_yaml_stream
from .reach import KUSTOMIZATION_FILES, RenderReach, check_kustomization
from .tools import Confinement, RenderTools, run_tool

__all__ = ["KUSTOMIZATION_FILES", "edit_commands", "is_kustomization", "render_kustomize"]
_UNSUPPORTED = (
    "patches",
    "components",
    "commonAnnotationsEnvsubst",
    "labelWithoutSelector",
    "labelIncludeTemplates",
    "kubeVersion",
    "apiVersions",
)


def is_kustomization(directory: Path) -> bool:
    return any((directory / name).is_file() for name in KUSTOMIZATION_FILES)


def _string_map(value: Any, field: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
        raise RenderError(INVALID_SOURCE, f"kustomize.{field}: expected a map of strings")
    return {str(k): v for k, v in value.items()}


def edit_commands(options: Mapping[str, Any]) -> list[list[str]]:
    """The `kustomize edit` argument lists Argo CD would run, in its order."""
    for name in _UNSUPPORTED:
        if options.get(name):
            raise RenderError(INVALID_SOURCE, f"kustomize.{name} is not supported by fleet yet")
    commands: list[list[str]] = []
    for field, sub in (("namePrefix", "nameprefix"), ("nameSuffix", "namesuffix")):
        value = options.get(field)
        if value:
            if not isinstance(value, str):
                raise RenderError(INVALID_SOURCE, f"kustomize.{field}: expected a string")
            commands.append(["edit", "set", sub, "--", value])
    images = options.get("images") or []
    if not isinstance(images, list) or not all(isinstance(i, str) for i in images):
        raise RenderError(INVALID_SOURCE, "kustomize.images: expected a list of strings")
    if images:
        commands.append(["edit", "set", "image", *images])
    replicas = options.get("replicas") or []
    if not isinstance(replicas, list):
        raise RenderError(INVALID_SOURCE, "kustomize.replicas: expected a list")
    if replicas:
        pairs = []
        for index, item in enumerate(replicas):
            if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
                raise RenderError(INVALID_SOURCE, f"kustomize.replicas[{index}]: needs a name")
            count = item.get("count")
            if isinstance(count, bool) or not isinstance(count, int | str):
                raise RenderError(INVALID_SOURCE, f"kustomize.replicas[{index}].count: a number")
            pairs.append(f"{item['name']}={count}")
        commands.append(["edit", "set", "replicas", *pairs])
    for field, noun, force_field in (
        ("commonLabels", "label", "forceCommonLabels"),
        ("commonAnnotations", "annotation", "forceCommonAnnotations"),
    ):
        values = _string_map(options.get(field), field)
        if values:
            force = ["--force"] if options.get(force_field) else []
            pairs = [f"{key}:{value}" for key, value in sorted(values.items())]
            commands.append(["edit", "add", noun, *force, *pairs])
    target = options.get("namespace")
    if target:
        if not isinstance(target, str):
            raise RenderError(INVALID_SOURCE, "kustomize.namespace: expected a string")
        commands.append(["edit", "set", "namespace", "--", target])
    return commands


async def render_kustomize(
    root: Path,
    app_dir: Path,
    source: Mapping[str, Any],
    tools: RenderTools,
    reach: RenderReach | None = None,
) -> list[dict[str, Any]]:
    """Objects from `kustomize build` of the application directory, after Argo CD's edits.

    `reach`: the repositories remote bases may come from (default: none)."""
    options = source.get("kustomize") or {}
    if not isinstance(options, Mapping):
        raise RenderError(INVALID_SOURCE, "kustomize: expected a mapping")
    commands = edit_commands(options)
    label = app_dir.relative_to(root.resolve()).as_posix() or "."
    reach = reach or RenderReach()
    ports = await anyio.to_thread.run_sync(check_kustomization, root, app_dir, reach)
    confine = Confinement(read=(root,), connect=ports, source_repos=reach.source_repos)
    if tools.kustomize is None:
        if tools.kubectl is None:
            raise RenderError(TOOL_MISSING, "neither kustomize nor kubectl is installed")
        if commands:
            raise RenderError(
                TOOL_MISSING, "spec.source.kustomize options need the kustomize binary"
            )
        out = await run_tool(
            tools.kubectl, "kubectl", ["kustomize", "."], cwd=app_dir, tools=tools, confine=confine
        )
        return parse_yaml_stream(out, f"kubectl kustomize {label}")
    if not commands:
        out = await run_tool(
            tools.kustomize, "kustomize", ["build", "."], cwd=app_dir, tools=tools, confine=confine
        )
        return parse_yaml_stream(out, f"kustomize build {label}")
    with tempfile.TemporaryDirectory(prefix="fleet-kustomize-") as scratch:
        copy = Path(scratch) / "repo"
        # symlinks=True: links are copied as links (already checked to stay inside the root).
        await anyio.to_thread.run_sync(
            partial(shutil.copytree, root.resolve(), copy, symlinks=True)
        )
        work = copy / app_dir.relative_to(root.resolve())
        editing = Confinement(read=(copy,), write=(copy,))
        for args in commands:
            await run_tool(
                tools.kustomize, "kustomize", args, cwd=work, tools=tools, confine=editing
            )
        building = Confinement(read=(copy,), connect=ports, source_repos=reach.source_repos)
        out = await run_tool(
            tools.kustomize, "kustomize", ["build", "."], cwd=work, tools=tools, confine=building
        )
    return parse_yaml_stream(out, f"kustomize build {label}")
