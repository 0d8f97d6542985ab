"""Fixtures for the install manifests: the rendered kustomize base (once per session)."""

from __future__ import annotations

import pytest

from tests.deploy.manifests import Obj, render_base


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def rendered() -> list[Obj]:
    return render_base()
