"""Health tests are pure; the anyio backend fixture is here for consistency with other suites."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
