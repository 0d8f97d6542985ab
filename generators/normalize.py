"""Name normalisation exactly as Argo CD's `utils.SanitizeName` (nameNormalized and the like).

Users put these values into Application names, so fleet must produce the same characters Argo CD
does, or an ApplicationSet migrated from Argo CD would rename (delete and recreate) Applications.
"""

from __future__ import annotations

import re

_INVALID_DNS_NAME_CHARS = re.compile(r"[^-a-z0-9.]")
_MAX_DNS_NAME_LENGTH = 253


def sanitize_name(name: str) -> str:
    """Lower-case, replace anything but `[-a-z0-9.]` with `-`, cut to 253, trim `-` and `.`."""
    name = _INVALID_DNS_NAME_CHARS.sub("-", name.lower())
    return name[:_MAX_DNS_NAME_LENGTH].strip("-.")
