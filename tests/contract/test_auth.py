"""Authentication and authorisation: fleet must tell a bad credential from a missing right."""

from __future__ import annotations

import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from tests.contract.backends import Backend
from tests.contract.conftest import TIMEOUT, api_client

pytestmark = pytest.mark.anyio


async def test_a_bad_token_is_unauthorized(backend: Backend) -> None:
    async with api_client(backend, token="not-a-token") as bad:
        with pytest.raises(ApiException) as caught:
            await client.CoreV1Api(bad).list_namespace(_request_timeout=TIMEOUT)
    assert caught.value.status == 401


async def test_a_read_only_token_can_list(backend: Backend, namespace: str) -> None:
    async with api_client(backend, token=backend.readonly_token) as reader:
        listed = await client.CoreV1Api(reader).list_namespaced_config_map(
            namespace, _request_timeout=TIMEOUT
        )
    assert listed.items is not None


async def test_a_read_only_token_is_forbidden_to_write(backend: Backend, namespace: str) -> None:
    async with api_client(backend, token=backend.readonly_token) as reader:
        with pytest.raises(ApiException) as caught:
            await client.CoreV1Api(reader).create_namespaced_config_map(
                namespace, {"metadata": {"name": "nope"}}, _request_timeout=TIMEOUT
            )
    assert caught.value.status == 403
