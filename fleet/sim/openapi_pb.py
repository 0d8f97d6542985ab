"""OpenAPI v2 in protobuf (gnostic's `openapi.v2.Document`), the encoding client-go reads.

client-go's `OpenAPISchema()` (kubectl's v2 code paths, Argo CD's gitops-engine) asks for
`/openapi/v2` as `application/com.github.proto-openapi.spec.v2@v1.0+protobuf` and decodes the
body as protobuf whatever the Content-Type says, so JSON is no answer. The built-in part is the
real server's bytes (captured); CRDs add definitions. Protobuf merges a singular message field
that appears twice, so a document plus a second `definitions` field is the document with more
definitions: CRDs are appended without re-encoding the 2 MB the server captured.

Field numbers are gnostic-models v0.7.0's `openapiv2/OpenAPIv2.proto` (the version
kube-openapi 1.36 uses). `Any` values (defaults, enums, vendor extensions) are carried as YAML
text, as gnostic does.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import yaml

JSON = dict[str, Any]

DOCUMENT_PATHS = 8
DOCUMENT_DEFINITIONS = 9


class ProtobufError(ValueError):
    """Bytes that are not the protobuf this module expects (a corrupt data file)."""


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def delimited(number: int, payload: bytes) -> bytes:
    """A length-delimited field (strings, bytes, messages)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def fields(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(field number, payload) of a message whose fields are all length-delimited (the
    Document and Paths messages are)."""
    pos = 0
    while pos < len(data):
        key, pos = read_varint(data, pos)
        if key & 7 != 2:
            raise ProtobufError(f"field {key >> 3}: wire type {key & 7}, expected 2")
        length, pos = read_varint(data, pos)
        yield key >> 3, data[pos : pos + length]
        pos += length


def _string(number: int, value: str) -> bytes:
    return delimited(number, value.encode())


def _bool(number: int, value: bool) -> bytes:
    return _varint(number << 3) + (b"\x01" if value else b"\x00")


def _int(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value & 0xFFFFFFFFFFFFFFFF)


def _double(number: int, value: float) -> bytes:
    return _varint(number << 3 | 1) + struct.pack("<d", float(value))


_STR = "tag:yaml.org,2002:str"
_YAML_12_WORDS = {
    **dict.fromkeys(("true", "True", "TRUE", "false", "False", "FALSE"), "bool"),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), "null"),
    **dict.fromkeys(
        (".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), "float"
    ),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), "float"),
    "<<": "merge",
}
_YAML_INT = re.compile(r"[-+]?(0b[01]+|0o[0-7]+|0x[0-9a-fA-F]+|[0-9]+)")
_YAML_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_YAML_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ].*)?")


def _plain_tag(text: str) -> str:
    """What yaml.v3 (YAML 1.2, not PyYAML's 1.1: `on` and `yes` are strings) reads a plain
    scalar as."""
    if text in _YAML_12_WORDS:
        return "tag:yaml.org,2002:" + _YAML_12_WORDS[text]
    plain = text.replace("_", "")
    if text[:1] in "0123456789+-." and text:
        if _YAML_TIMESTAMP.fullmatch(text):
            return "tag:yaml.org,2002:timestamp"
        if _YAML_INT.fullmatch(plain):
            return "tag:yaml.org,2002:int"
        if _YAML_FLOAT.fullmatch(plain):
            return "tag:yaml.org,2002:float"
    return _STR


class _GoResolver(yaml.resolver.BaseResolver):
    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode and implicit[0]:
            return _plain_tag(str(value))
        return super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]


class _GoYAMLDumper(
    yaml.emitter.Emitter,
    yaml.serializer.Serializer,
    yaml.representer.SafeRepresenter,
    _GoResolver,
):
    """yaml.v3's Marshal of a YAML node, as gnostic makes `Any` values: YAML 1.2 resolution, a
    string that would read back as another type (`"True"`, `"1"`) double-quoted, one with line
    breaks a literal block; otherwise the emitter's choice (plain, or single quotes when it
    must be quoted), which both libraries share."""

    def __init__(self, stream: Any, **kwargs: Any) -> None:
        yaml.emitter.Emitter.__init__(
            self,
            stream,
            canonical=kwargs.get("canonical"),
            indent=kwargs.get("indent"),
            width=kwargs.get("width"),
            allow_unicode=kwargs.get("allow_unicode"),
            line_break=kwargs.get("line_break"),
        )
        yaml.serializer.Serializer.__init__(
            self,
            encoding=kwargs.get("encoding"),
            explicit_start=kwargs.get("explicit_start"),
            explicit_end=kwargs.get("explicit_end"),
            version=kwargs.get("version"),
            tags=kwargs.get("tags"),
        )
        yaml.representer.SafeRepresenter.__init__(
            self,
            default_style=kwargs.get("default_style"),
            default_flow_style=kwargs.get("default_flow_style", False),
            sort_keys=kwargs.get("sort_keys", True),
        )
        _GoResolver.__init__(self)

    def choose_scalar_style(self) -> str:
        event = self.event
        if isinstance(event, yaml.ScalarEvent) and event.tag == _STR:
            if "\n" in event.value and event.style == "|":
                return "|"
            if not event.implicit[0]:
                return '"'
        style: str = super().choose_scalar_style()
        return style


def _represent_str(dumper: yaml.representer.SafeRepresenter, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar(_STR, value, style=style)


_GoYAMLDumper.add_representer(str, _represent_str)


def _yaml(value: Any) -> str:
    """gnostic keeps `Any` values as YAML text (yaml.v3's Marshal: sorted keys, block style)."""
    text: str = yaml.dump(
        value, Dumper=_GoYAMLDumper, default_flow_style=False, sort_keys=True, width=1 << 30
    )
    return text[:-4] if text.endswith("\n...\n") else text


def _any(number: int, value: Any) -> bytes:
    return delimited(number, _string(2, _yaml(value)))


def _named_any(number: int, name: str, value: Any) -> bytes:
    return delimited(number, _string(1, name) + _any(2, value))


_STRINGS = {"$ref": 1, "format": 2, "title": 3, "description": 4, "pattern": 13}
_DOUBLES = {"multipleOf": 6, "maximum": 7, "minimum": 9}
_INTS = {
    "maxLength": 11,
    "minLength": 12,
    "maxItems": 14,
    "minItems": 15,
    "maxProperties": 17,
    "minProperties": 18,
}
_BOOLS = {"exclusiveMaximum": 8, "exclusiveMinimum": 10, "uniqueItems": 16, "readOnly": 27}


def schema(node: Mapping[str, Any]) -> bytes:
    """An OpenAPI v2 schema (JSON) as gnostic's `Schema` message, byte for byte as the API
    server encodes it: fields in number order, properties and extensions sorted by name."""
    parts = [(_number(key), key, _schema_field(key, value)) for key, value in node.items()]
    return b"".join(encoded for _, _, encoded in sorted(parts, key=lambda p: (p[0], p[1])))


def _number(key: str) -> int:
    for table in (_STRINGS, _DOUBLES, _INTS, _BOOLS, _MESSAGES):
        if key in table:
            return table[key]
    return 31  # vendor extensions


_MESSAGES = {
    "default": 5,
    "required": 19,
    "enum": 20,
    "additionalProperties": 21,
    "type": 22,
    "items": 23,
    "allOf": 24,
    "properties": 25,
    "discriminator": 26,
    "example": 30,
}


def _schema_field(key: str, value: Any) -> bytes:
    encoders: dict[str, Callable[[Any], bytes]] = {
        "default": lambda v: _any(5, v),
        "required": lambda v: b"".join(_string(19, str(x)) for x in v),
        "enum": lambda v: b"".join(_any(20, x) for x in v),
        "additionalProperties": lambda v: delimited(
            21, _bool(2, v) if isinstance(v, bool) else delimited(1, schema(v))
        ),
        "type": lambda v: delimited(22, b"".join(_string(1, t) for t in _list(v))),
        "items": lambda v: delimited(
            23, b"".join(delimited(1, schema(s)) for s in (v if isinstance(v, list) else [v]))
        ),
        "allOf": lambda v: b"".join(delimited(24, schema(s)) for s in v),
        "properties": lambda v: delimited(
            25,
            b"".join(
                delimited(1, _string(1, name) + delimited(2, schema(child)))
                for name, child in sorted(v.items())
            ),
        ),
        "discriminator": lambda v: _string(26, str(v)),
        "example": lambda v: _any(30, v),
    }
    if not isinstance(value, list | dict) and not value and value is not None and key != "default":
        return b""  # proto3 leaves zero scalars out (a JSON `minimum: 0` is lost, as in gnostic)
    if key in _STRINGS:
        return _string(_STRINGS[key], str(value))
    if key in _DOUBLES:
        return _double(_DOUBLES[key], value)
    if key in _INTS:
        return _int(_INTS[key], int(value))
    if key in _BOOLS:
        return _bool(_BOOLS[key], bool(value))
    if key in encoders:
        return encoders[key](value)
    if key.startswith("x-"):
        return _named_any(31, key, value)
    return b""  # not representable in OpenAPI v2 (the JSON document drops it too)


def _list(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def definitions(named: Mapping[str, Mapping[str, Any]]) -> bytes:
    """A Document `definitions` field holding `named` schemas (appended to a document)."""
    payload = b"".join(
        delimited(1, _string(1, name) + delimited(2, schema(node))) for name, node in named.items()
    )
    return delimited(DOCUMENT_DEFINITIONS, payload) if payload else b""


def filter_paths(document: bytes, keep: Callable[[str], bool]) -> bytes:
    """The document without the path items whose path `keep` refuses (wire-level: every other
    byte is kept as captured)."""
    out = bytearray()
    for number, payload in fields(document):
        if number != DOCUMENT_PATHS:
            out += delimited(number, payload)
            continue
        kept = bytearray()
        for inner, item in fields(payload):
            if inner == 2:  # NamedPathItem: name = 1, value = 2
                name = next((v for n, v in fields(item) if n == 1), b"").decode()
                if not keep(name):
                    continue
            kept += delimited(inner, item)
        out += delimited(number, bytes(kept))
    return bytes(out)
