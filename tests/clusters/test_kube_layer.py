"""fleet.kube: typed errors from every failure, bounded clients with fleet's User-Agent."""

from __future__ import annotations

import json

import aiohttp
import pytest
from kubernetes_asyncio.client.exceptions import ApiException

from fleet.kube import (
    USER_AGENT,
    Conflict,
    Credentials,
    Forbidden,
    Gone,
    NotFound,
    ServerError,
    TooManyRequests,
    Unauthorized,
    Unreachable,
    build_api_client,
    get_version,
    request_json,
    translate,
)
from fleet.kube.calls import check_result
from fleet.kube.errors import from_status
from tests.clusters.harness import Env

pytestmark = pytest.mark.anyio


def _status(code: int, message: str) -> bytes:
    return json.dumps({"kind": "Status", "code": code, "message": message}).encode()


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (401, Unauthorized),
        (403, Forbidden),
        (404, NotFound),
        (409, Conflict),
        (410, Gone),
        (500, ServerError),
        (503, ServerError),
    ],
)
def test_each_http_status_maps_to_its_typed_error(code: int, cls: type[Exception]) -> None:
    error = from_status(code, _status(code, "boom"))
    assert isinstance(error, cls)
    assert error.message == "boom"


def test_too_many_requests_keeps_retry_after() -> None:
    error = from_status(429, _status(429, "slow down"), {"Retry-After": "7"})
    assert isinstance(error, TooManyRequests)
    assert error.retry_after == 7.0


def test_a_non_status_body_is_never_kept() -> None:
    body = json.dumps({"kind": "Secret", "data": {"token": "c2VjcmV0"}}).encode()
    error = from_status(500, body)
    assert "c2VjcmV0" not in str(error)
    assert str(error) == "HTTP 500"


def test_an_api_exception_becomes_a_typed_error_without_its_body() -> None:
    exc = ApiException(status=409, reason="Conflict")
    exc.body = _status(409, "already exists")
    exc.headers = None
    error = translate(exc)
    assert isinstance(error, Conflict)
    assert str(error) == "already exists"


def test_a_connection_error_is_unreachable_connection() -> None:
    error = translate(aiohttp.ServerDisconnectedError())
    assert isinstance(error, Unreachable)
    assert error.condition_reason == "ConnectionRefused"


async def test_a_request_on_a_client_closed_meanwhile_is_unreachable_not_a_crash() -> None:
    """A probe or sync still running when its client is retired (credentials rotated, shard
    moved): aiohttp's RuntimeError took the controller down (seen at 1,000 clusters)."""
    api = build_api_client(Credentials(server="https://127.0.0.1:9", token="t"))
    await api.close()
    with pytest.raises(Unreachable):
        await request_json(api, "GET", "/version", timeout=5)


def test_a_request_whose_connector_closed_under_it_is_unreachable_not_a_crash() -> None:
    # The same race one step later: the session was open when the request began, and its
    # connector closed before the request got a connection.
    error = translate(aiohttp.ClientConnectionError("Connector is closed."))
    assert isinstance(error, Unreachable)
    assert error.condition_reason == "ConnectionRefused"


def test_any_other_client_connection_error_is_unreachable() -> None:
    assert isinstance(translate(aiohttp.ClientConnectionError("odd")), Unreachable)


def test_a_timeout_is_unreachable_timeout() -> None:
    error = translate(TimeoutError())
    assert isinstance(error, Unreachable)
    assert error.condition_reason == "Timeout"


def test_a_dynamic_client_error_result_is_raised() -> None:
    class Result:
        code = 404

        def to_dict(self) -> dict[str, object]:
            return {"kind": "Status", "message": "gone missing"}

    with pytest.raises(NotFound, match="gone missing"):
        check_result(Result())


def test_credentials_repr_hides_secrets() -> None:
    creds = Credentials(server="https://x", token="s3cr3t", client_key_pem=b"KEY")
    assert "s3cr3t" not in repr(creds)
    assert "KEY" not in repr(creds)


def test_the_fingerprint_changes_with_the_token() -> None:
    a = Credentials(server="https://x", token="one")
    b = Credentials(server="https://x", token="two")
    assert a.fingerprint() != b.fingerprint()
    assert a.fingerprint() == Credentials(server="https://x", token="one").fingerprint()


async def test_a_client_has_bounded_requests_and_fleets_user_agent() -> None:
    async with build_api_client(Credentials(server="https://x", token="t"), pool_limit=3) as api:
        assert api.limit.settings.maximum == 3  # requests; watches are not counted
        assert api.default_headers["User-Agent"] == USER_AGENT


async def test_a_client_without_the_cluster_ca_fails_tls(sim_env: Env) -> None:
    member = sim_env.members[0]
    async with build_api_client(Credentials(server=member.server, token=member.token)) as api:
        with pytest.raises(Unreachable) as caught:
            await get_version(api, timeout=5)
    assert caught.value.kind == "tls"


async def test_insecure_skips_verification_only_when_asked(sim_env: Env) -> None:
    member = sim_env.members[0]
    creds = Credentials(server=member.server, token=member.token, insecure=True)
    async with build_api_client(creds) as api:
        assert (await get_version(api, timeout=5)).startswith("v1.")


async def test_a_refused_connection_is_unreachable(sim_env: Env) -> None:
    member = sim_env.members[0]
    member.sim.faults.refuse = True
    creds = Credentials(server=member.server, token=member.token, ca_pem=member.ca_pem)
    async with build_api_client(creds) as api:
        with pytest.raises(Unreachable) as caught:
            await get_version(api, timeout=5)
    assert caught.value.kind == "connection"
    member.sim.faults.refuse = False


async def test_building_a_client_makes_tls_connections_read_through_one_shared_buffer() -> None:
    import asyncio.sslproto

    from fleet.tlsbuffer import READ_CHUNK

    api = build_api_client(Credentials(server="https://127.0.0.1:1", token="t"))
    await api.close()
    assert asyncio.sslproto.SSLProtocol.max_size == READ_CHUNK
    assert asyncio.sslproto.SSLProtocol.get_buffer.__module__ == "fleet.tlsbuffer"
