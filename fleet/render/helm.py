"""Helm sources: `helm template` of a chart committed to the repository, as Argo CD runs it.

Argo CD's command line, reproduced: `helm template . --name-template RELEASE --namespace NS
[--values FILE]... [--values TMP(values|valuesObject)] [--set|--set-string K=V]...
[--set-file K=PATH]... --include-crds` (or `--skip-crds`), run in the chart directory.

Before helm runs, `reach.check_chart` refuses `file://` dependencies outside the repository;
helm itself runs confined (tools.py) with no network at all.

Not supported (no network, by design): charts from Helm repositories or OCI (`source.chart`),
value files given as URLs, and `helm dependency build`: dependencies must be vendored under the
chart's `charts/` directory, else helm's own "missing in charts/ directory" error is reported as
RenderFailed. `passCredentials` and `version` are ignored; `skipTests`, `skipSchemaValidation`,
`kubeVersion` and `apiVersions` are passed through as Argo CD does.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio

from .errors import INVALID_SOURCE, UNSUPPORTED, RenderError
from .manifests import parse_yaml_stream
from .paths import inside
from .reach import check_chart
from .tools import Confinement, RenderTools, run_tool


def is_chart(directory: Path) -> bool:
    return (directory / "Chart.yaml").is_file()


def _str(options: Mapping[str, Any], field: str, default: str = "") -> str:
    value = options.get(field, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise RenderError(INVALID_SOURCE, f"helm.{field}: expected a string")
    return value


def _value_file(root: Path, app_dir: Path, name: str, ignore_missing: bool) -> Path | None:
    if "://" in name:
        raise RenderError(UNSUPPORTED, f"helm.valueFiles: remote value file {name!r}")
    # Argo CD resolves value files against the application directory, inside the repository.
    candidate = app_dir / name if not name.startswith("/") else root / name.lstrip("/")
    if ignore_missing and not candidate.exists() and not candidate.is_symlink():
        return None
    return inside(root, candidate, f"helm value file {name!r}")


def _parameters(options: Mapping[str, Any], field: str) -> list[Mapping[str, Any]]:
    items = options.get(field) or []
    if not isinstance(items, list) or not all(
        isinstance(item, Mapping) and isinstance(item.get("name"), str) for item in items
    ):
        raise RenderError(INVALID_SOURCE, f"helm.{field}: expected a list of {{name, ...}}")
    return items


def helm_arguments(
    root: Path,
    app_dir: Path,
    options: Mapping[str, Any],
    *,
    app_name: str,
    namespace: str,
    values_file: Path,
) -> list[str]:
    """The `helm template` arguments; writes inline values to `values_file` when there are any."""
    release = _str(options, "releaseName") or app_name
    target = _str(options, "namespace") or namespace
    args = ["template", ".", "--name-template", release, "--namespace", target]
    kube_version = _str(options, "kubeVersion")
    if kube_version:
        args += ["--kube-version", kube_version]
    ignore_missing = bool(options.get("ignoreMissingValueFiles"))
    value_files = options.get("valueFiles") or []
    if not isinstance(value_files, list) or not all(isinstance(v, str) for v in value_files):
        raise RenderError(INVALID_SOURCE, "helm.valueFiles: expected a list of strings")
    for name in value_files:
        path = _value_file(root, app_dir, name, ignore_missing)
        if path is not None:
            args += ["--values", str(path)]
    # Argo CD: valuesObject wins over values; either is written to a file and passed last.
    values_object = options.get("valuesObject")
    values = _str(options, "values")
    if values_object is not None:
        if not isinstance(values_object, Mapping):
            raise RenderError(INVALID_SOURCE, "helm.valuesObject: expected a mapping")
        values_file.write_text(json.dumps(values_object))
        args += ["--values", str(values_file)]
    elif values.strip():
        values_file.write_text(values)
        args += ["--values", str(values_file)]
    for item in _parameters(options, "parameters"):
        flag = "--set-string" if item.get("forceString") else "--set"
        args += [flag, f"{item['name']}={item.get('value', '')}"]
    for item in _parameters(options, "fileParameters"):
        path = inside(
            root, app_dir / str(item.get("path", "")), f"helm file parameter {item['name']!r}"
        )
        args += ["--set-file", f"{item['name']}={path}"]
    for api_version in options.get("apiVersions") or []:
        args += ["--api-versions", str(api_version)]
    if options.get("skipTests"):
        args.append("--skip-tests")
    if options.get("skipSchemaValidation"):
        args.append("--skip-schema-validation")
    args.append("--skip-crds" if options.get("skipCrds") else "--include-crds")
    return args


async def render_helm(
    root: Path,
    app_dir: Path,
    source: Mapping[str, Any],
    *,
    app_name: str,
    namespace: str,
    tools: RenderTools,
) -> list[dict[str, Any]]:
    """Objects from `helm template` of the chart in the application directory."""
    if source.get("chart"):
        raise RenderError(
            UNSUPPORTED,
            "charts from Helm repositories (spec.source.chart) need the network; "
            "commit the chart to git and use spec.source.path",
        )
    options = source.get("helm") or {}
    if not isinstance(options, Mapping):
        raise RenderError(INVALID_SOURCE, "helm: expected a mapping")
    if not is_chart(app_dir):
        raise RenderError(INVALID_SOURCE, "spec.source.helm is set but the path has no Chart.yaml")
    await anyio.to_thread.run_sync(check_chart, root, app_dir)
    with tempfile.TemporaryDirectory(prefix="fleet-helm-values-") as scratch:
        args = helm_arguments(
            root,
            app_dir,
            options,
            app_name=app_name,
            namespace=namespace,
            values_file=Path(scratch) / "values.yaml",
        )
        # helm template never needs the network: no TCP at all, whatever the Project allows.
        confine = Confinement(read=(root, Path(scratch)))
        out = await run_tool(tools.helm, "helm", args, cwd=app_dir, tools=tools, confine=confine)
    label = app_dir.relative_to(root.resolve()).as_posix() or "."
    return parse_yaml_stream(out, f"helm template {label}")
