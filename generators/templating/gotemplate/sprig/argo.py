"""Argo CD's own additions to the function map: normalize, slugify, toYaml, fromYaml(Array)."""

from __future__ import annotations

import re
from typing import Any

import yaml

from ..errors import FuncError
from ..funcspec import Kind, register
from ..meter import ITEM_COST, charge, check_size
from ..values import Int64
from . import gojson

_INVALID_DNS = re.compile(r"[^-a-z0-9.]")


@register("normalize", Kind.STR)
def normalize(name: str) -> str:
    """SanitizeName: a DNS-1123-ish name, at most 253 bytes, trimmed of `-` and `.`."""
    name = _INVALID_DNS.sub("-", name.lower())
    if len(name) > 253:
        name = name[:253]
    return name.strip("-.")


@register("slugify", variadic=Kind.ANY)
def slugify(*args: Any) -> str:
    """SlugifyName: `slugify [maxSize] [smartTruncate] name` via gosimple/slug."""
    max_size, smart, name = 50, True, ""
    for i, a in enumerate(args):
        if i == len(args) - 1:
            if type(a) is not str:
                raise FuncError(f"interface conversion: interface {{}} is {type(a).__name__}")
            name = a
        elif i == 0:
            if type(a) is not int:
                raise FuncError("interface conversion: interface {} is not int")
            max_size = a
        elif i == 1:
            if type(a) is not bool:
                raise FuncError("interface conversion: interface {} is not bool")
            smart = a
    s = normalize(name).strip().lower()
    if not smart and len(s) >= max_size:
        s = s[: max(max_size, 0)]
    s = re.sub(r"[^a-zA-Z0-9\-_]", "-", s)
    s = re.sub(r"-+", "-", s)
    s = s.strip("-_")
    if max_size > 0 and smart and len(s) > max_size:
        for i in range(max_size, -1, -1):
            if s[i] == "-":
                return s[:i]
        return s[:max_size]
    return s


class _Dumper(yaml.SafeDumper):
    pass


def _repr_str(dumper: yaml.SafeDumper, s: str) -> yaml.ScalarNode:
    if "\n" in s:
        return dumper.represent_scalar("tag:yaml.org,2002:str", s, style="|")
    resolved = dumper.resolve(yaml.ScalarNode, s, (True, False))  # type: ignore[no-untyped-call]
    if resolved != "tag:yaml.org,2002:str":
        return dumper.represent_scalar("tag:yaml.org,2002:str", s, style='"')
    return dumper.represent_scalar("tag:yaml.org,2002:str", s)


def _repr_float(dumper: yaml.SafeDumper, f: float) -> yaml.ScalarNode:
    text = gojson.go_json_float(f)
    if re.fullmatch(r"-?\d+", text):
        return dumper.represent_scalar("tag:yaml.org,2002:int", text)
    return dumper.represent_scalar("tag:yaml.org,2002:float", repr(float(text)))


_Dumper.add_representer(str, _repr_str)
_Dumper.add_representer(float, _repr_float)
_Dumper.add_representer(Int64, lambda d, v: d.represent_int(int(v)))


@register("toYaml", Kind.ANY)
def to_yaml(v: Any) -> str:
    """sigs.k8s.io/yaml.Marshal (JSON first, then YAML), without the final newline."""
    plain = gojson.decode(gojson.encode(v)) if v is not None else None
    out = yaml.dump(
        _ints_back(plain),
        Dumper=_Dumper,
        default_flow_style=False,
        allow_unicode=True,
        sort_keys=True,
    )
    if out.endswith("\n...\n"):
        out = out[: -len("...\n")]
    check_size(len(out), "toYaml")
    return out.removesuffix("\n")


def _ints_back(v: Any) -> Any:
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e21:
        return int(v)
    if isinstance(v, dict):
        return {k: _ints_back(e) for k, e in v.items()}
    if isinstance(v, list):
        return [_ints_back(e) for e in v]
    return v


class _Loader(yaml.SafeLoader):
    pass


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

# go-yaml v2 (YAML 1.1) also reads y/Y/n/N as booleans; PyYAML does not.
_YN = re.compile(r"^(?:y|Y|n|N)$")
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", _YN, list("yYnN"))
_Dumper.add_implicit_resolver("tag:yaml.org,2002:bool", _YN, list("yYnN"))


def _bool_yn(loader: yaml.SafeLoader, node: yaml.Node) -> bool:
    value = str(loader.construct_scalar(node))  # type: ignore[arg-type]
    return value.lower() in ("y", "yes", "true", "on")


_Loader.add_constructor("tag:yaml.org,2002:bool", _bool_yn)


def _jsonish(v: Any) -> Any:
    """YAML to JSON values, charged node by node: an alias ("billion laughs") document is a
    few hundred bytes of YAML sharing one list 10^9 times, and walking it as a tree stops
    at the execution's memory budget instead of building it."""
    charge(ITEM_COST, "fromYaml")
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, dict):
        return {
            (k if isinstance(k, str) else gojson.encode(_jsonish(k)).strip('"')): _jsonish(e)
            for k, e in v.items()
        }
    if isinstance(v, list):
        return [_jsonish(e) for e in v]
    return str(v)


def _load(s: str) -> Any:
    try:
        return _jsonish(yaml.load(s, Loader=_Loader))
    except yaml.YAMLError as exc:
        raise FuncError(f"error converting YAML to JSON: {exc}") from exc


@register("fromYaml", Kind.STR)
def from_yaml(s: str) -> dict[str, Any]:
    v = _load(s)
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise FuncError("json: cannot unmarshal into Go value of type map[string]interface {}")
    return v


@register("fromYamlArray", Kind.STR)
def from_yaml_array(s: str) -> list[Any]:
    v = _load(s)
    if v is None:
        return []
    if not isinstance(v, list):
        raise FuncError("json: cannot unmarshal into Go value of type []interface {}")
    return v
