"""The list generator: literal parameter sets from `elements` and `elementsYaml`.

In the default mode an element's values must be strings, except a `values` mapping, which becomes
`values.<key>` parameters; in goTemplate mode an element is passed through as it is, nested values
included. Elements from `elementsYaml` are appended as parsed, in both modes, as Argo CD does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import yaml

from generators.base import ParamSet
from generators.errors import InvalidApplicationSetError
from generators.fields import (
    expect_mapping,
    optional_list,
    optional_str,
    reject_unknown,
    type_name,
)
from generators.yamlio import describe_yaml_error, load

if TYPE_CHECKING:
    from generators.evaluate import Evaluation

_FIELDS = frozenset({"elements", "elementsYaml", "template"})


class ListGenerator:
    kind = "list"

    def validate(self, spec: Mapping[str, Any], path: str) -> None:
        reject_unknown(spec, _FIELDS, path)
        for index, element in enumerate(optional_list(spec, "elements", path)):
            expect_mapping(element, f"{path}.elements[{index}]")
        optional_str(spec, "elementsYaml", path)

    def generate(self, spec: Mapping[str, Any], path: str, run: Evaluation) -> list[ParamSet]:
        params: list[ParamSet] = []
        for index, element in enumerate(optional_list(spec, "elements", path)):
            where = f"{path}.elements[{index}]"
            element = expect_mapping(element, where)
            params.append(dict(element) if run.go_template else _flat_element(element, where))
        elements_yaml = optional_str(spec, "elementsYaml", path)
        if elements_yaml:
            params.extend(_parse_elements_yaml(elements_yaml, f"{path}.elementsYaml"))
        return params


def _flat_element(element: Mapping[str, Any], path: str) -> ParamSet:
    params: ParamSet = {}
    for key, value in element.items():
        if key == "values":
            values = expect_mapping(value, f"{path}.values")
            for name, item in values.items():
                if not isinstance(item, str):
                    raise InvalidApplicationSetError(
                        f"{path}.values.{name}",
                        f"expected a string, got {type_name(item)} "
                        "(nested values need goTemplate: true)",
                    )
                params[f"values.{name}"] = item
        elif isinstance(value, str):
            params[key] = value
        else:
            raise InvalidApplicationSetError(
                f"{path}.{key}",
                f"expected a string, got {type_name(value)} (nested values need goTemplate: true)",
            )
    return params


def _parse_elements_yaml(text: str, path: str) -> list[ParamSet]:
    try:
        parsed = load(text)
    except yaml.YAMLError as error:
        raise InvalidApplicationSetError(path, describe_yaml_error(error)) from error
    if parsed is None:
        return []
    if not isinstance(parsed, list):
        raise InvalidApplicationSetError(
            path, f"expected a list of mappings, got {type_name(parsed)}"
        )
    result: list[ParamSet] = []
    for index, element in enumerate(parsed):
        result.append(dict(expect_mapping(element, f"{path}[{index}]")))
    return result
