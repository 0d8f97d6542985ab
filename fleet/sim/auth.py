"""Bearer tokens of the simulated clusters: one admin and one read-only token per cluster.

Tokens are derived from a per-process secret with HMAC, so 1,000 clusters need no token table
and a token of one cluster is worthless on another.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Literal

Role = Literal["admin", "readonly"]

READ_VERBS = frozenset({"get", "list", "watch"})
ADMIN_USER = "fleet-sim:admin"
READONLY_USER = "fleet-sim:readonly"


class Tokens:
    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret or secrets.token_bytes(32)

    def token(self, cluster: str, role: Role) -> str:
        digest = hmac.new(self._secret, f"{cluster}\0{role}".encode(), hashlib.sha256)
        return f"{role}-{digest.hexdigest()[:40]}"

    def identify(self, cluster: str, authorization: str | None) -> Role | None:
        """The role of an `Authorization: Bearer ...` header, None when it is missing or bad."""
        if not authorization or not authorization.startswith("Bearer "):
            return None
        presented = authorization[7:].strip()
        role: Role
        for role in ("admin", "readonly"):
            if hmac.compare_digest(presented, self.token(cluster, role)):
                return role
        return None


def user_of(role: Role) -> str:
    return ADMIN_USER if role == "admin" else READONLY_USER
