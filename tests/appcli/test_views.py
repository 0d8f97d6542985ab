"""Formatting helpers of `fleet app` (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fleet.appcli.views import history_table, human_duration, short, table


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (5, "5s"),
        (119, "119s"),
        (200, "3m20s"),
        (45 * 60, "45m"),
        (3 * 3600 + 20 * 60, "3h20m"),
        (20 * 3600, "20h"),
        (3 * 86400 + 4 * 3600, "3d4h"),
        (300 * 86400, "300d"),
        (-3, "0s"),
    ],
)
def test_human_duration_matches_kubectl(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text


def test_short_shortens_only_full_commit_shas() -> None:
    assert short("0123456789abcdef0123456789abcdef01234567") == "0123456"
    assert short("1.2.3") == "1.2.3"
    assert short(None) == ""


def test_table_pads_columns_and_strips_trailing_space() -> None:
    assert table([["A", "BB"], ["ccc", ""]]) == "A     BB\nccc\n"


def test_history_without_started_has_three_columns() -> None:
    text = history_table([{"id": 3, "deployedAt": "2026-11-20T10:00:05Z", "revision": "abc"}])
    assert text.splitlines() == [
        "ID   DATE                   REVISION",
        "3    2026-11-20T10:00:05Z   abc",
    ]


def test_aware_datetime_is_used_for_age() -> None:
    from fleet.appcli.views import age

    now = datetime(2026, 11, 20, 10, 0, 30, tzinfo=UTC)
    assert age({"metadata": {"creationTimestamp": "2026-11-20T10:00:00Z"}}, now) == "30s"
    assert age({"metadata": {}}, now) == "<unknown>"
