"""What fleet reads from an API server's JSON: the fast decoder changes nothing it accepts."""

from __future__ import annotations

import json

import pytest

from fleet.kube import jsonbody


def test_an_object_decodes_to_plain_dicts_and_lists() -> None:
    body = b'{"metadata": {"name": "web", "labels": {"a": "1"}}, "items": [1, 2.5, true, null]}'
    assert jsonbody.loads(body) == json.loads(body)


def test_an_integer_beyond_64_bits_in_a_custom_resource_is_kept_exactly() -> None:
    assert jsonbody.loads(b'{"spec": {"n": 123456789012345678901234567890}}') == {
        "spec": {"n": 123456789012345678901234567890}
    }


def test_a_lone_surrogate_escape_decodes_as_the_standard_library_does() -> None:
    assert jsonbody.loads(b'{"s": "\\ud800"}') == {"s": "\ud800"}


def test_nesting_beyond_the_standard_librarys_depth_is_a_recursion_error() -> None:
    with pytest.raises(RecursionError):
        jsonbody.loads(b"[" * 5000 + b"]" * 5000)


def test_a_body_that_is_not_json_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        jsonbody.loads(b"<html>502 Bad Gateway</html>")


def test_a_number_beyond_a_double_decodes_as_the_standard_library_does() -> None:
    assert jsonbody.loads(b'{"x": 1e400}') == {"x": float("inf")}


def test_equal_short_string_values_of_two_documents_become_one_object() -> None:
    body = b'{"status": {"sync": "Synced", "resources": [{"kind": "ConfigMap"}]}}'
    first = jsonbody.share_strings(jsonbody.loads(body))
    second = jsonbody.share_strings(jsonbody.loads(body))
    assert first == jsonbody.loads(body)
    assert first["status"]["sync"] is second["status"]["sync"]
    assert first["status"]["resources"][0]["kind"] is second["status"]["resources"][0]["kind"]


def test_long_string_values_are_left_as_they_are() -> None:
    text = "x" * (jsonbody.SHARED_MAX + 1)
    body = json.dumps({"data": {"big": text}}).encode()
    first, second = (jsonbody.share_strings(jsonbody.loads(body)) for _ in range(2))
    assert first["data"]["big"] == second["data"]["big"] == text
    assert first["data"]["big"] is not second["data"]["big"]


def test_sharing_walks_nesting_deeper_than_the_recursion_limit() -> None:
    doc: list[object] = ["leaf"]
    for _ in range(20_000):
        doc = [doc]
    assert jsonbody.share_strings(doc) is doc


# -- what fleet sends ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "doc",
    [
        {"metadata": {"name": "web", "labels": {"a": "1"}}, "data": {"k": "ü ✓ \u2028"}},
        {"spec": {"replicas": 3, "ratio": 0.25, "on": True, "items": [1, "two", [3]]}},
        {"spec": {"n": 123456789012345678901234567890}},  # beyond 64 bits: exact
        {"data": {1: "one", False: "no", 2.5: "x"}},  # non-string keys (YAML allows them)
        {"spec": {"empty": None}},
    ],
)
def test_a_request_body_is_the_document_the_standard_library_would_send(doc: object) -> None:
    assert json.loads(jsonbody.dumps(doc)) == json.loads(json.dumps(doc))


def test_nan_in_a_manifest_is_sent_as_nan_for_the_api_server_to_refuse_not_as_null() -> None:
    sent = jsonbody.dumps({"spec": {"x": float("nan"), "y": float("inf")}})
    assert sent == json.dumps({"spec": {"x": float("nan"), "y": float("inf")}}).encode()
    assert b"null" not in sent


def test_a_fingerprint_does_not_depend_on_key_order() -> None:
    assert jsonbody.canonical({"b": 1, "a": {"d": 2, "c": 3}}) == jsonbody.canonical(
        {"a": {"c": 3, "d": 2}, "b": 1}
    )


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ({"x": None}, {"x": float("nan")}),
        ({"x": 1}, {"x": "1"}),
        ({"x": 1}, {"x": 1.5}),
        ({"x": [1, 2]}, {"x": [2, 1]}),
    ],
)
def test_different_documents_have_different_fingerprints(one: object, other: object) -> None:
    assert jsonbody.canonical(one) != jsonbody.canonical(other)
