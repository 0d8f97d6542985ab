"""Hub RBAC decides the dashboard's writes, on a real kube-apiserver: a ServiceAccount token
bound to a Role that may update Applications is allowed, one without it is refused, and a
token the apiserver does not know is not signed in."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient

from fleet.api.crds import install_crds
from fleet.api.resources import APPLICATION
from fleet.kube import Credentials, build_api_client, request_json
from fleet.server.dashboard.auth import Access, Refused, Session, Sessions
from tests.clusters.harness import Env, create_namespace

pytestmark = pytest.mark.anyio


@pytest.fixture
async def hub(shared_real: Env) -> AsyncIterator[ApiClient]:
    real = shared_real.hub
    creds = Credentials(server=real.server, token=real.token, ca_pem=real.ca_pem)
    async with build_api_client(creds) as api:
        await install_crds(api)
        yield api


async def service_account_token(
    hub: ApiClient, namespace: str, name: str, rules: list[dict[str, Any]] | None
) -> str:
    await request_json(
        hub,
        "POST",
        f"/api/v1/namespaces/{namespace}/serviceaccounts",
        body={"metadata": {"name": name}},
    )
    if rules is not None:
        rbac = "/apis/rbac.authorization.k8s.io/v1"
        await request_json(
            hub,
            "POST",
            f"{rbac}/namespaces/{namespace}/roles",
            body={"metadata": {"name": name}, "rules": rules},
        )
        await request_json(
            hub,
            "POST",
            f"{rbac}/namespaces/{namespace}/rolebindings",
            body={
                "metadata": {"name": name},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
                "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
            },
        )
    reply = await request_json(
        hub,
        "POST",
        f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
        body={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}},
    )
    token: str = reply["status"]["token"]
    return token


def session() -> Session:
    return Session(uuid.uuid4().hex, "csrf", 0.0, 0.0)


def update_app(namespace: str, name: str = "web") -> Access:
    return Access("update", APPLICATION.group, APPLICATION.plural, namespace, name)


async def test_a_token_with_a_role_to_update_applications_may_sync(hub: ApiClient) -> None:
    namespace = await create_namespace(hub, "dash")
    rules = [{"apiGroups": [APPLICATION.group], "resources": ["applications"], "verbs": ["update"]}]
    token = await service_account_token(hub, namespace, "syncer", rules)
    sessions, signed = Sessions(hub), session()
    await sessions.sign_in(signed, token)
    assert signed.user == f"system:serviceaccount:{namespace}:syncer"
    await sessions.authorise(signed, update_app(namespace))


async def test_a_token_without_that_role_is_refused_by_hub_rbac(hub: ApiClient) -> None:
    namespace = await create_namespace(hub, "dash")
    token = await service_account_token(hub, namespace, "viewer", None)
    sessions, signed = Sessions(hub), session()
    await sessions.sign_in(signed, token)
    with pytest.raises(Refused) as refused:
        await sessions.authorise(signed, update_app(namespace))
    assert refused.value.status == 403
    assert f"system:serviceaccount:{namespace}:viewer may not update applications" in str(
        refused.value
    )


async def test_a_role_for_another_application_name_does_not_cover_this_one(
    hub: ApiClient,
) -> None:
    namespace = await create_namespace(hub, "dash")
    rules = [
        {
            "apiGroups": [APPLICATION.group],
            "resources": ["applications"],
            "resourceNames": ["api"],
            "verbs": ["update"],
        }
    ]
    token = await service_account_token(hub, namespace, "api-only", rules)
    sessions, signed = Sessions(hub), session()
    await sessions.sign_in(signed, token)
    await sessions.authorise(signed, update_app(namespace, "api"))
    with pytest.raises(Refused):
        await sessions.authorise(signed, update_app(namespace, "web"))


async def test_an_unknown_token_is_not_signed_in(hub: ApiClient) -> None:
    sessions, signed = Sessions(hub), session()
    with pytest.raises(Refused) as refused:
        await sessions.sign_in(signed, "eyJhbGciOiJSUzI1NiJ9.bm90LWEtdG9rZW4.c2ln")
    assert refused.value.status == 401
    assert not signed.signed_in
