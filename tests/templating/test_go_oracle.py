"""Every case in go_oracle_cases.json was rendered by real Go text/template + Sprig (see
tools/gotemplate-oracle); the Python port must produce the same bytes, or also fail."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from generators.templating.gotemplate import GoTemplateError, compile_template

CASES: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "go_oracle_cases.json").read_text(encoding="utf-8")
)


def _render(case: dict[str, Any]) -> str:
    tpl = compile_template(
        case["template"], name="t", missingkey=case.get("missingkey") or "default"
    )
    return tpl.execute(case["data"])


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_python_matches_go(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(GoTemplateError):
            _render(case)
    else:
        assert _render(case) == case["output"]


def test_oracle_covers_at_least_150_cases() -> None:
    assert len(CASES) >= 150
