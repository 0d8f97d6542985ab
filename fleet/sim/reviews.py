"""TokenReview and SubjectAccessReview, as a real API server answers them.

Why the simulator has them: the dashboard asks the hub who a token is and whether that user may
do a write, so its tests need a hub that answers. The simulator's authorizer is its two roles
(fleet/sim/auth.py): the admin token may do everything, the read-only token may get, list and
watch. Only the admin may create reviews (a real server needs RBAC `create` on them, which the
read-only identity does not have). tests/contract checks these answers against the real server.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fleet.sim import errors
from fleet.sim.api import decode_body
from fleet.sim.auth import ADMIN_USER, READ_VERBS, READONLY_USER, Role, Tokens, user_of
from fleet.sim.errors import ApiError

TOKEN_REVIEWS = "apis/authentication.k8s.io/v1/tokenreviews"
ACCESS_REVIEWS = "apis/authorization.k8s.io/v1/subjectaccessreviews"
PATHS = frozenset({TOKEN_REVIEWS, ACCESS_REVIEWS})
AUTHENTICATED = "system:authenticated"
MAX_BODY = 64 * 1024


def _forbidden(role: Role, resource: str, group: str) -> ApiError:
    return ApiError(
        403,
        f'{resource}.{group} is forbidden: User "{user_of(role)}" cannot create resource '
        f'"{resource}" in API group "{group}" at the cluster scope',
        details={"group": group, "kind": resource},
    )


def review(tokens: Tokens, cluster: str, role: Role, path: str, raw: bytes) -> dict[str, Any]:
    """The created review (spec echoed, status filled), or ApiError."""
    group, _, resource = path.removeprefix("apis/").partition("/v1/")
    if role != "admin":
        raise _forbidden(role, resource, group)
    if len(raw) > MAX_BODY:
        raise errors.bad_request("the review is too large")
    body = decode_body(raw)
    if not isinstance(body, Mapping) or not isinstance(body.get("spec"), Mapping):
        raise errors.bad_request("spec: Required value")
    spec = dict(body["spec"])
    token = path == TOKEN_REVIEWS
    status = _token_status(tokens, cluster, spec) if token else _access_status(spec)
    return {
        "kind": "TokenReview" if path == TOKEN_REVIEWS else "SubjectAccessReview",
        "apiVersion": f"{group}/v1",
        "metadata": {"creationTimestamp": None},
        "spec": spec,
        "status": status,
    }


def _token_status(tokens: Tokens, cluster: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    token = spec.get("token")
    if not isinstance(token, str) or not token:
        raise errors.bad_request("spec.token: Required value")
    role = tokens.identify(cluster, f"Bearer {token}")
    if role is None:
        return {"user": {}, "error": "invalid bearer token"}
    return {
        "authenticated": True,
        "user": {"username": user_of(role), "groups": [AUTHENTICATED]},
    }


def _access_status(spec: Mapping[str, Any]) -> dict[str, Any]:
    user = spec.get("user")
    if not isinstance(user, str) or not user:
        raise errors.bad_request(
            "spec.user: Invalid value: at least one of user or group is required"
        )
    attributes = spec.get("resourceAttributes")
    if not isinstance(attributes, Mapping):
        raise errors.bad_request("spec.resourceAttributes: Required value")
    verb = str(attributes.get("verb") or "")
    if user == ADMIN_USER:
        return {"allowed": True, "reason": "fleet-sim: the admin may do everything"}
    if user == READONLY_USER and verb in READ_VERBS:
        return {"allowed": True, "reason": "fleet-sim: the read-only user may read"}
    return {"allowed": False}
