"""The Kubernetes protobuf envelope decoded into JSON objects."""

from __future__ import annotations

import pytest

from fleet.sim.errors import ApiError
from fleet.sim.protobuf import MAGIC, decode


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _bytes(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _int(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    type_meta = _bytes(1, api_version.encode()) + _bytes(2, kind.encode())
    return MAGIC + _bytes(1, type_meta) + _bytes(2, raw)


def test_configmap_with_labels_and_data() -> None:
    entry = _bytes(1, b"app") + _bytes(2, b"web")
    meta = _bytes(1, b"cfg") + _bytes(3, b"") + _int(7, 0) + _bytes(11, entry)
    raw = _bytes(1, meta) + _bytes(2, _bytes(1, b"k") + _bytes(2, b"v"))
    assert decode(_envelope("v1", "ConfigMap", raw)) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cfg", "labels": {"app": "web"}},
        "data": {"k": "v"},
    }


def test_pointer_zero_is_kept() -> None:
    spec = _int(1, 0)  # replicas: 0 set on purpose
    raw = _bytes(1, _bytes(1, b"d")) + _bytes(2, spec)
    assert decode(_envelope("apps/v1", "Deployment", raw))["spec"] == {"replicas": 0}


def test_unknown_nonzero_field_is_415() -> None:
    raw = _bytes(1, _bytes(1, b"cfg")) + _bytes(99, b"surprise")
    with pytest.raises(ApiError) as info:
        decode(_envelope("v1", "ConfigMap", raw))
    assert info.value.code == 415
