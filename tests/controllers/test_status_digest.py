"""The controller skips a status write that changes only timestamps; what it compares is a
digest of the last status written, made without touching the (shared) hub object."""

from __future__ import annotations

import copy

from fleet.controllers.application import ApplicationController

BASE = {
    "sync": {"status": "Synced"},
    "reconciledAt": "2026-12-06T10:00:00Z",
    "conditions": [{"type": "SyncError", "message": "m", "lastTransitionTime": "t1"}],
}


def test_statuses_that_differ_only_in_timestamps_compare_equal() -> None:
    later = copy.deepcopy(BASE)
    later["reconciledAt"] = "2026-12-06T11:00:00Z"
    later["conditions"][0]["lastTransitionTime"] = "t2"
    assert ApplicationController._comparable(BASE) == ApplicationController._comparable(later)


def test_a_changed_message_compares_different() -> None:
    changed = copy.deepcopy(BASE)
    changed["conditions"][0]["message"] = "other"
    assert ApplicationController._comparable(BASE) != ApplicationController._comparable(changed)


def test_comparing_leaves_the_status_it_was_given_unchanged() -> None:
    given = copy.deepcopy(BASE)
    ApplicationController._comparable(given)
    assert given == BASE
