from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.generators.support import OPEN_RESOLVERS


@pytest.fixture(autouse=True)
def _close_resolvers() -> Iterator[None]:
    yield
    while OPEN_RESOLVERS:
        OPEN_RESOLVERS.pop().close()
