"""The two glob dialects: Go's path.Match (directories) and git pathspecs (files).

Expected results for Go's `path.Match` were checked against Go itself (`go run`).
"""

from __future__ import annotations

import pytest

from generators.errors import InvalidApplicationSetError
from generators.pathmatch import BadPatternError, check_pattern, git_pathspec_match, go_path_match


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("apps/*", "apps/web", True),
        ("apps/*", "apps/web/overlay", False),
        ("apps/?eb", "apps/web", True),
        ("apps/?", "apps//", False),
        ("apps/[a-c]*", "apps/beta", True),
        ("apps/[^a-c]*", "apps/web", True),
        ("apps/[^a-c]*", "apps/beta", False),
        ("apps/\\*", "apps/*", True),
        ("apps/\\*", "apps/web", False),
        ("*", "apps", True),
        ("*", "", True),
        ("apps/[!a-c]*", "apps/beta", True),  # Go negates only with ^
        ("apps/[!a-c]*", "apps/web", False),
        ("a[^x]b", "a/b", True),  # a negated class matches / in Go
    ],
)
def test_go_path_match_agrees_with_go(pattern: str, name: str, expected: bool) -> None:
    assert go_path_match(pattern, name) is expected


@pytest.mark.parametrize(
    "pattern",
    [
        "[abc",
        "apps/\\",
        "[a-]",
        "[]a]",
    ],
)
def test_go_path_match_refuses_patterns_go_calls_malformed(pattern: str) -> None:
    with pytest.raises(BadPatternError):
        go_path_match(pattern, "a")


def test_go_path_match_accepts_a_reversed_range_that_matches_nothing() -> None:
    assert go_path_match("apps/[z-a]", "apps/m") is False


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("apps/*.json", "apps/a.json", True),
        ("apps/*.json", "apps/a/b.json", True),
        ("apps/*.json", "other/a.json", False),
        ("apps", "apps/a/b.json", True),
        ("apps/", "apps/a.json", True),
        ("app", "apps/a.json", False),
        ("**/config.json", "a/b/config.json", True),
        ("*", "anything/at/all", True),
    ],
)
def test_git_pathspec_match(pattern: str, name: str, expected: bool) -> None:
    assert git_pathspec_match(pattern, name) is expected


def test_check_pattern_names_the_field_for_a_malformed_directory_pattern() -> None:
    with pytest.raises(InvalidApplicationSetError) as caught:
        check_pattern("[abc", "spec.generators[0].git.directories[0].path", go_path=True)
    assert caught.value.path == "spec.generators[0].git.directories[0].path"


def test_check_pattern_names_the_field_for_a_malformed_files_pattern() -> None:
    with pytest.raises(InvalidApplicationSetError) as caught:
        check_pattern("conf/[abc", "spec.generators[0].git.files[0].path", go_path=False)
    assert caught.value.path == "spec.generators[0].git.files[0].path"
