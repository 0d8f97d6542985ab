"""The git generator: parameter sets from a repository's directories or from its JSON/YAML files.

Directories are matched with Go's `path.Match` (`*` stays within one segment) and listed in the
order Argo CD walks a checkout; a directory any `exclude: true` pattern matches is left out even if
another pattern includes it. Files are matched as `git ls-files` pathspecs (`*` crosses `/`), read
at the resolved commit, and sorted by path; a file holding a list yields one parameter set per
element. Nested keys are flattened with dots in the default mode and kept nested in goTemplate mode.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import yaml

from generators.base import ParamSet
from generators.errors import GitReadError, InvalidApplicationSetError
from generators.fields import (
    expect_mapping,
    expect_str,
    optional_bool,
    optional_list,
    optional_str,
    reject_unknown,
    string_map,
    type_name,
)
from generators.govalue import flatten, go_sprint
from generators.normalize import sanitize_name
from generators.pathmatch import check_pattern, git_pathspec_match, go_path_match
from generators.repos import RepoReader
from generators.yamlio import describe_yaml_error, load

if TYPE_CHECKING:
    from generators.evaluate import Evaluation

_FIELDS = frozenset(
    {
        "repoURL",
        "revision",
        "directories",
        "files",
        "template",
        "requeueAfterSeconds",
        "pathParamPrefix",
        "values",
    }
)
_ITEM_FIELDS = frozenset({"path", "exclude"})


class GitGenerator:
    kind = "git"

    def validate(self, spec: Mapping[str, Any], path: str) -> None:
        reject_unknown(spec, _FIELDS, path)
        if not isinstance(spec.get("repoURL"), str) or not spec["repoURL"]:
            raise InvalidApplicationSetError(f"{path}.repoURL", "a repository URL is required")
        optional_str(spec, "revision", path)
        optional_str(spec, "pathParamPrefix", path)
        string_map(spec, "values", path)
        directories = optional_list(spec, "directories", path)
        files = optional_list(spec, "files", path)
        if not directories and not files:
            raise InvalidApplicationSetError(path, "needs `directories` or `files`")
        field = "directories" if directories else "files"
        for index, item in enumerate(directories or files):
            _parse_item(item, f"{path}.{field}[{index}]", go_path=bool(directories))

    def generate(self, spec: Mapping[str, Any], path: str, run: Evaluation) -> list[ParamSet]:
        if run.env.repos is None:
            raise GitReadError(f"{path}: no repository access configured for the git generator")
        repo_url = expect_str(spec.get("repoURL"), f"{path}.repoURL")
        reader = run.env.repos.reader(repo_url)
        commit = reader.resolve(optional_str(spec, "revision", path))
        prefix = optional_str(spec, "pathParamPrefix", path)
        values = string_map(spec, "values", path)
        directories = optional_list(spec, "directories", path)
        if directories:
            items = [
                _parse_item(d, f"{path}.directories[{i}]", go_path=True)
                for i, d in enumerate(directories)
            ]
            params = [
                _directory_params(p, commit, prefix, run.go_template)
                for p in _select(reader.directories(commit), items, go_path_match)
            ]
        else:
            files = optional_list(spec, "files", path)
            items = [
                _parse_item(f, f"{path}.files[{i}]", go_path=False) for i, f in enumerate(files)
            ]
            params = []
            for file_path in _select(reader.files(commit), items, git_pathspec_match):
                run.budget.check_time(path)  # every file is read and parsed: look at the clock
                params.extend(_file_params(reader, commit, file_path, prefix, run.go_template))
                run.budget.check_parameter_sets(len(params), path)
        return [run.with_values(values, param_set, path) for param_set in params]


def _parse_item(raw: Any, path: str, *, go_path: bool) -> tuple[str, bool]:
    item = expect_mapping(raw, path)
    reject_unknown(item, _ITEM_FIELDS, path)
    pattern = expect_str(item.get("path"), f"{path}.path")
    check_pattern(pattern, f"{path}.path", go_path=go_path)
    return pattern, optional_bool(item, "exclude", path)


def _select(candidates: list[str], items: list[tuple[str, bool]], match: Any) -> list[str]:
    includes = [pattern for pattern, exclude in items if not exclude]
    excludes = [pattern for pattern, exclude in items if exclude]
    return [
        candidate
        for candidate in candidates
        if any(match(p, candidate) for p in includes)
        and not any(match(p, candidate) for p in excludes)
    ]


def _directory_params(directory: str, commit: str, prefix: str, go_template: bool) -> ParamSet:
    if go_template:
        path_value = {
            "path": directory,
            "basename": posixpath.basename(directory),
            "basenameNormalized": sanitize_name(posixpath.basename(directory)),
            "segments": directory.split("/"),
        }
        return _nest_path(path_value, commit, prefix)
    name = f"{prefix}.path" if prefix else "path"
    params: ParamSet = {
        f"{prefix}.commitSHA" if prefix else "commitSHA": commit,
        name: directory,
        f"{name}.basename": posixpath.basename(directory),
        f"{name}.basenameNormalized": sanitize_name(posixpath.basename(directory)),
    }
    _add_segments(params, name, directory)
    return params


def _file_params(
    reader: RepoReader, commit: str, file_path: str, prefix: str, go_template: bool
) -> list[ParamSet]:
    directory = posixpath.dirname(file_path) or "."
    filename = posixpath.basename(file_path)
    result: list[ParamSet] = []
    for document in _parse_parameter_file(reader.read(commit, file_path), file_path):
        if go_template:
            params: ParamSet = dict(document)
            path_value = {
                "path": directory,
                "basename": posixpath.basename(directory),
                "filename": filename,
                "basenameNormalized": sanitize_name(posixpath.basename(directory)),
                "filenameNormalized": sanitize_name(filename),
                "segments": directory.split("/"),
            }
            params.update(_nest_path(path_value, commit, prefix))
        else:
            params = {key: go_sprint(value) for key, value in flatten(document).items()}
            name = f"{prefix}.path" if prefix else "path"
            params[f"{prefix}.commitSHA" if prefix else "commitSHA"] = commit
            params[name] = directory
            params[f"{name}.basename"] = posixpath.basename(directory)
            params[f"{name}.filename"] = filename
            params[f"{name}.basenameNormalized"] = sanitize_name(posixpath.basename(directory))
            params[f"{name}.filenameNormalized"] = sanitize_name(filename)
            _add_segments(params, name, directory)
        result.append(params)
    return result


def _nest_path(path_value: dict[str, Any], commit: str, prefix: str) -> ParamSet:
    if prefix:
        return {prefix: {"path": path_value, "commitSHA": commit}}
    return {"path": path_value, "commitSHA": commit}


def _add_segments(params: ParamSet, name: str, directory: str) -> None:
    for index, segment in enumerate(directory.split("/")):
        if segment:
            params[f"{name}[{index}]"] = segment


def _parse_parameter_file(content: bytes, file_path: str) -> list[Mapping[str, Any]]:
    """A list of objects, or one object; anything else names the file in the error."""
    try:
        parsed = load(content)
    except yaml.YAMLError as error:
        raise GitReadError(
            f"unable to process file '{file_path}': {describe_yaml_error(error)}"
        ) from error
    if parsed is None:
        return []
    if isinstance(parsed, Mapping):
        return [parsed]
    if isinstance(parsed, list) and all(isinstance(item, Mapping) for item in parsed):
        return parsed
    raise GitReadError(
        f"unable to process file '{file_path}': expected a mapping or a list of mappings, "
        f"got {type_name(parsed)}"
    )
