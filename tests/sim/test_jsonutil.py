"""The simulator's JSON encoding: orjson where it writes what the standard library would."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fleet.sim.jsonutil import dumps


def _stdlib(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def test_an_object_is_written_compact_and_reads_back_the_same() -> None:
    obj = {"metadata": {"name": "web", "labels": {"app": "é"}}, "data": {"n": 1, "f": 1.5}}
    assert json.loads(dumps(obj)) == obj
    assert b" " not in dumps(obj)


@pytest.mark.parametrize(
    "value",
    [
        {"spec": {"x": float("nan")}},
        {"spec": {"x": float("inf")}},
        {"spec": {"x": None}},
        {"spec": {"big": 2**70}},
        {1: "non-string key"},
    ],
    ids=["nan", "infinity", "null", "integer-beyond-64-bits", "non-string-key"],
)
def test_what_orjson_would_write_otherwise_is_written_by_the_standard_library(
    value: Any,
) -> None:
    assert dumps(value) == _stdlib(value)
