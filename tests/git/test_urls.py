"""URL identity, redaction and cache paths."""

from __future__ import annotations

import pytest

from fleet.git.urls import (
    cache_key,
    normalize_url,
    redact_text,
    redact_url,
    repo_identity,
    split_credentials,
)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:tok@github.com/org/repo.git", "https://github.com/org/repo.git"),
        ("https://tok@github.com/org/repo", "https://github.com/org/repo"),
        ("http://u:p@127.0.0.1:8080/r.git", "http://127.0.0.1:8080/r.git"),
        ("ssh://git@github.com/org/repo.git", "ssh://git@github.com/org/repo.git"),
        ("ssh://git:pw@github.com:2222/org/repo.git", "ssh://github.com:2222/org/repo.git"),
        ("git@github.com:org/repo.git", "git@github.com:org/repo.git"),
        ("https://github.com/org/repo", "https://github.com/org/repo"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_same_repository_spelt_differently_shares_an_identity() -> None:
    spellings = [
        "https://GitHub.com/Org/Repo.git",
        "https://user:tok@github.com/Org/Repo/",
        "git@github.com:Org/Repo.git",
        "ssh://git@github.com:22/Org/Repo",
    ]
    assert len({repo_identity(url) for url in spellings}) == 1
    assert (
        normalize_url(spellings[0]) == normalize_url(spellings[1]) == "https://github.com/Org/Repo"
    )
    assert normalize_url(spellings[2]) == "ssh://git@github.com/Org/Repo"
    assert cache_key(spellings[0]) == cache_key(spellings[1])
    assert cache_key(spellings[0]) != cache_key(spellings[2])
    assert "tok" not in cache_key(spellings[1]) and len(cache_key(spellings[1])) == 40


def test_split_credentials_and_redact_text() -> None:
    assert split_credentials("https://u:p@h/r.git") == ("https://h/r.git", "u", "p")
    assert split_credentials("git@h:r.git") == ("git@h:r.git", None, None)
    text = "fatal: unable to access 'https://u:hunter22@h/r.git/': denied hunter22"
    assert (
        redact_text(text, "hunter22")
        == "fatal: unable to access 'https://***@h/r.git/': denied ***"
    )
