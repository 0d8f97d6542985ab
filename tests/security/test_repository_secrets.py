"""Repository Secrets on the hub are untrusted: a malformed one is skipped, named, and reported
once per version; the others keep serving their repositories."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from structlog.testing import capture_logs

from fleet.controllers.repos import RepositorySecrets
from fleet.git.secrets import RepositorySecretError, parse_repository_secret

LABELS = {"argocd.argoproj.io/secret-type": "repository"}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def secret(name: str, data: dict[str, Any], version: str = "1") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": LABELS, "resourceVersion": version},
        "data": data,
    }


@pytest.mark.parametrize("value", [5, None, ["a"], {"a": 1}, True])
def test_a_repository_secret_value_that_is_not_a_string_is_named_not_a_crash(value: Any) -> None:
    with pytest.raises(RepositorySecretError, match="Secret bad: key `password`"):
        parse_repository_secret("bad", LABELS, {"url": b64("https://x/a.git"), "password": value})


def test_a_malformed_repository_secret_does_not_hide_the_good_ones() -> None:
    good = secret("good", {"url": b64("https://git.example/a.git"), "password": b64("p")})
    bad = secret("bad", {"url": 5})
    with capture_logs() as logs:
        accesses = RepositorySecrets().accesses([bad, good])
    assert [a.url for a in accesses] == ["https://git.example/a.git"]
    assert [(e["event"], e["secret"]) for e in logs] == [("repos.bad_secret", "bad")]


def test_a_malformed_repository_secret_is_reported_once_per_version_not_per_lookup() -> None:
    parsed = RepositorySecrets()
    bad = secret("bad", {"url": ["x"]})
    with capture_logs() as logs:
        for _ in range(100):  # one lookup per Application reconcile
            parsed.accesses([bad])
        parsed.accesses([secret("bad", {"url": ["y"]}, version="2")])
    assert len(logs) == 2


def test_a_changed_repository_secret_is_read_again() -> None:
    parsed = RepositorySecrets()
    first = secret("s", {"url": b64("https://git.example/a.git")}, version="1")
    moved = secret("s", {"url": b64("https://git.example/b.git")}, version="2")
    assert [a.url for a in parsed.accesses([first])] == ["https://git.example/a.git"]
    assert [a.url for a in parsed.accesses([moved])] == ["https://git.example/b.git"]
    assert parsed.accesses([]) == []
