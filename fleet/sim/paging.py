"""`limit`/`continue` pagination of lists.

The continue token names the last key served (namespace, name) and the resourceVersion of the
first page, base64-encoded like the API server's opaque tokens; the next page starts after that
key. Pages are not a snapshot: objects created meanwhile after the key appear on later pages.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from fleet.sim import errors

JSON = dict[str, Any]


def sort_key(obj: JSON) -> tuple[str, str]:
    m = obj.get("metadata") or {}
    return (m.get("namespace", "") or "", m.get("name", ""))


def encode_continue(after: tuple[str, str], rv: int) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": list(after)})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_continue(token: str) -> tuple[str, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        doc = json.loads(raw)
        namespace, name = doc["start"]
        return (str(namespace), str(name))
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise errors.bad_request(f"continue key is not valid: {token}") from None
