"""TokenReview and SubjectAccessReview: who a token is and what it may do, asked of the server.

The dashboard relies on these answers to let hub RBAC decide its writes (fleet/server/dashboard/
auth.py); fleet.sim answers them from its two roles (fleet/sim/reviews.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes_asyncio import client

from fleet.kube import Forbidden, request_json
from tests.contract.backends import Backend
from tests.contract.conftest import TIMEOUT, api_client

pytestmark = pytest.mark.anyio


async def _token_review(api: client.ApiClient, token: str) -> dict[str, Any]:
    review: dict[str, Any] = await request_json(
        api,
        "POST",
        "/apis/authentication.k8s.io/v1/tokenreviews",
        body={
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "spec": {"token": token},
        },
        timeout=TIMEOUT,
    )
    return review


async def _may(api: client.ApiClient, user: dict[str, Any], verb: str, namespace: str) -> bool:
    review = await request_json(
        api,
        "POST",
        "/apis/authorization.k8s.io/v1/subjectaccessreviews",
        body={
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {
                "user": user["username"],
                "groups": user.get("groups") or [],
                "resourceAttributes": {
                    "namespace": namespace,
                    "verb": verb,
                    "group": "",
                    "resource": "configmaps",
                },
            },
        },
        timeout=TIMEOUT,
    )
    return bool(review["status"].get("allowed"))


async def test_a_token_review_names_the_user_of_a_valid_token(backend: Backend) -> None:
    async with api_client(backend) as admin:
        review = await _token_review(admin, backend.readonly_token)
    assert review["status"]["authenticated"] is True
    assert review["status"]["user"]["username"]
    assert "system:authenticated" in review["status"]["user"]["groups"]


async def test_a_token_review_of_a_bad_token_is_not_authenticated(backend: Backend) -> None:
    async with api_client(backend) as admin:
        review = await _token_review(admin, "not-a-token")
    assert not review["status"].get("authenticated")


async def test_an_access_review_allows_reads_and_denies_writes_of_a_read_only_user(
    backend: Backend, namespace: str
) -> None:
    async with api_client(backend) as admin:
        user = (await _token_review(admin, backend.readonly_token))["status"]["user"]
        assert await _may(admin, user, "list", namespace)
        assert not await _may(admin, user, "create", namespace)


async def test_an_access_review_allows_the_admin_to_write(backend: Backend, namespace: str) -> None:
    async with api_client(backend) as admin:
        user = (await _token_review(admin, backend.token))["status"]["user"]
        assert await _may(admin, user, "update", namespace)


async def test_a_read_only_token_may_not_create_reviews(backend: Backend) -> None:
    async with api_client(backend, token=backend.readonly_token) as reader:
        with pytest.raises(Forbidden):
            await _token_review(reader, backend.token)
