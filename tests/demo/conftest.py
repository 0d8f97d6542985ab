"""Fixtures for the demo's tests: the render binaries (as tests/render finds them)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fleet.render import RenderTools

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN_DIR = Path(os.environ.get("FLEET_RENDER_BIN_DIR", REPO_ROOT / ".cache" / "bin"))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def kustomize_tools() -> RenderTools:
    """kustomize from FLEET_RENDER_BIN_DIR or PATH; skip without it (fail when required)."""
    tools = RenderTools.discover(BIN_DIR)
    if tools.kustomize is None and tools.kubectl is None:
        message = f"kustomize not found in {BIN_DIR} or PATH (run tools/render-binaries/build.sh)"
        if os.environ.get("FLEET_REQUIRE_RENDER_TOOLS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return tools
