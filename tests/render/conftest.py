"""Fixtures for the renderers: repository trees written in the test, and the render binaries.

Binaries come from FLEET_RENDER_BIN_DIR (default .cache/bin, built by
tools/render-binaries/build.sh) then PATH. Tests needing helm or kustomize skip when they are
absent, unless FLEET_REQUIRE_RENDER_TOOLS=1 makes that a failure.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from fleet.render import RenderTools

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN_DIR = Path(os.environ.get("FLEET_RENDER_BIN_DIR", REPO_ROOT / ".cache" / "bin"))

WriteTree = Callable[[Mapping[str, str]], Path]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def write_tree(tmp_path: Path) -> WriteTree:
    """Write `files` (relative path -> text) under a fresh repository root and return the root."""
    root = tmp_path / "repo"

    def write(files: Mapping[str, str]) -> Path:
        for relative, text in files.items():
            target = root / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        root.mkdir(exist_ok=True)
        return root

    return write


@pytest.fixture(scope="session")
def discovered_tools() -> RenderTools:
    return RenderTools.discover(BIN_DIR)


def _require(tools: RenderTools, name: str) -> None:
    if getattr(tools, name) is None:
        message = f"{name} not found in {BIN_DIR} or PATH (run tools/render-binaries/build.sh)"
        if os.environ.get("FLEET_REQUIRE_RENDER_TOOLS") == "1":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def helm_tools(discovered_tools: RenderTools) -> RenderTools:
    _require(discovered_tools, "helm")
    return discovered_tools


@pytest.fixture
def kustomize_tools(discovered_tools: RenderTools) -> RenderTools:
    _require(discovered_tools, "kustomize")
    return discovered_tools


@pytest.fixture
def no_tools(tmp_path: Path) -> RenderTools:
    """Discovery pointed at an empty directory and an empty PATH: nothing is installed."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    return RenderTools.discover(empty, path="")


@pytest.fixture
def fake_tool(tmp_path: Path) -> Callable[[str, str], Path]:
    """An executable shell script named `name` in a bin directory of its own."""

    def make(name: str, script: str) -> Path:
        bin_dir = tmp_path / "fake-bin"
        bin_dir.mkdir(exist_ok=True)
        path = bin_dir / name
        path.write_text("#!/bin/sh\n" + script)
        path.chmod(0o755)
        return path

    return make
