"""What was already sent, kept on the Application as Argo CD keeps it, so a restart, a new
leader or a migration from Argo CD does not send it again.

The annotation `notified.notifications.argoproj.io` holds a JSON map from a key to the Unix
time it was sent. A key is
`[<oncePer value>:]<trigger>:[<index>].<sha1 of when>:<service>:<recipient>`, Argo CD's
format, so keys Argo CD wrote are honoured. A condition that turns false removes its key
(re-arming it) unless it has an oncePer value: those stay, one per value, the oldest dropped
past 100 keys.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from fleet.notify.subscriptions import NOTIFIED, Destination

MAX_KEYS = 100


def condition_key(index: int, when: str) -> str:
    digest = hashlib.sha1(when.encode(), usedforsecurity=False).digest()
    return f"[{index}].{base64.urlsafe_b64encode(digest).decode().rstrip('=')}"


def state_key(trigger: str, condition: str, once_per: str, destination: Destination) -> str:
    key = f"{trigger}:{condition}:{destination.service}:{destination.recipient}"
    return f"{once_per}:{key}" if once_per else key


def load_state(annotations: Mapping[str, Any] | None) -> dict[str, int]:
    """The sent map of an Application; anything unreadable counts as nothing sent."""
    raw = (annotations or {}).get(NOTIFIED)
    if not isinstance(raw, str) or len(raw) > 256 * 1024:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {str(k): int(v) for k, v in value.items() if isinstance(v, int | float)}


def dump_state(state: Mapping[str, int]) -> str | None:
    """The annotation value (the newest MAX_KEYS keys), or None to remove the annotation."""
    if not state:
        return None
    kept = sorted(state.items(), key=lambda kv: kv[1])[-MAX_KEYS:]
    return json.dumps(dict(sorted(kept)), separators=(",", ":"))
