"""Turning rendered or committed text into Kubernetes objects, with errors that name the file."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from generators.yamlio import MAX_NODES, describe_yaml_error, load_all, load_json

from .errors import INVALID_MANIFEST, RenderError


def _check_object(doc: Any, where: str) -> dict[str, Any]:
    if not isinstance(doc, Mapping):
        raise RenderError(INVALID_MANIFEST, f"{where}: not a Kubernetes object (not a mapping)")
    missing = [
        field
        for field, value in (
            ("apiVersion", doc.get("apiVersion")),
            ("kind", doc.get("kind")),
            (
                "metadata.name",
                (doc.get("metadata") or {}).get("name")
                if isinstance(doc.get("metadata"), Mapping | None)
                else None,
            ),
        )
        if not isinstance(value, str) or not value
    ]
    if missing:
        raise RenderError(
            INVALID_MANIFEST, f"{where}: not a Kubernetes object (missing {', '.join(missing)})"
        )
    return dict(doc)


def _is_list(doc: Mapping[str, Any]) -> bool:
    # client-go's IsList: the kind is a list kind ("List", "ConfigMapList") with an items array.
    kind = doc.get("kind")
    return isinstance(kind, str) and kind.endswith("List") and isinstance(doc.get("items"), list)


def objects_from_documents(docs: list[Any], where: str) -> list[dict[str, Any]]:
    """Validate documents, expanding `List` kinds into their items (each item validated)."""
    objects: list[dict[str, Any]] = []
    for index, doc in enumerate(docs):
        label = f"{where} (document {index + 1})" if len(docs) > 1 else where
        if isinstance(doc, Mapping) and _is_list(doc):
            for position, item in enumerate(doc["items"]):
                objects.append(_check_object(item, f"{label} items[{position}]"))
            continue
        objects.append(_check_object(doc, label))
    return objects


def parse_yaml_stream(text: str | bytes, where: str) -> list[dict[str, Any]]:
    """A multi-document YAML stream (empty documents skipped) -> validated objects."""
    try:
        docs = load_all(text)
    except yaml.YAMLError as error:
        raise RenderError(INVALID_MANIFEST, f"{where}: {describe_yaml_error(error)}") from None
    return objects_from_documents(docs, where)


def parse_json(text: str | bytes, where: str) -> list[dict[str, Any]]:
    """One JSON document (an object or a List) -> validated objects; an array is not accepted."""
    try:
        doc = load_json(text, max_nodes=MAX_NODES)
    except ValueError as error:
        raise RenderError(INVALID_MANIFEST, f"{where}: invalid JSON: {error}") from None
    return objects_from_documents([doc], where)
