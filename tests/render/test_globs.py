"""Argo CD's include/exclude globs (gobwas/glob, no separators)."""

from __future__ import annotations

from fleet.render.globs import glob_match


def test_star_crosses_slashes() -> None:
    assert glob_match("*.yaml", "a/b/c.yaml")


def test_brace_alternatives() -> None:
    assert glob_match("{config.json,env-usw2/*}", "env-usw2/a.yaml")
    assert not glob_match("{config.json,env-usw2/*}", "env-use1/a.yaml")


def test_nested_braces() -> None:
    assert glob_match("{a,b{1,2}}.yaml", "b2.yaml")


def test_character_class_and_negation() -> None:
    assert glob_match("[ab].yaml", "a.yaml") and glob_match("[!ab].yaml", "c.yaml")


def test_question_mark_is_one_character() -> None:
    assert glob_match("?.yaml", "a.yaml") and not glob_match("?.yaml", "ab.yaml")


def test_malformed_glob_matches_nothing() -> None:
    assert not glob_match("{a,b", "a")
