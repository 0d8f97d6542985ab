"""How probe failures become the reasons written into a Cluster's conditions."""

from __future__ import annotations

from fleet.clusters.probe import failure
from fleet.kube import Forbidden, ServerError, Unauthorized, Unreachable


def test_forbidden_is_reachable_but_not_ready() -> None:
    result = failure(Forbidden("namespaces is forbidden"))
    assert (result.reachable, result.ready, result.reason) == (True, False, "Forbidden")
    assert result.message == "namespaces is forbidden"


def test_unauthorized_is_reachable_but_not_ready() -> None:
    result = failure(Unauthorized())
    assert (result.reachable, result.ready, result.reason) == (True, False, "Unauthorized")


def test_a_server_error_is_reported_as_server_error() -> None:
    assert failure(ServerError("etcd down")).reason == "ServerError"


def test_a_timeout_is_unreachable_with_reason_timeout() -> None:
    result = failure(Unreachable("timed out", kind="timeout"))
    assert (result.reachable, result.reason) == (False, "Timeout")


def test_a_tls_failure_is_unreachable_with_reason_tls_error() -> None:
    assert failure(Unreachable("bad cert", kind="tls")).reason == "TLSError"
