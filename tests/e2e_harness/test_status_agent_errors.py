"""The status agent keeps retrying, with backoff, when its cluster cannot be reached."""

from __future__ import annotations

import socket
from pathlib import Path

import anyio
import pytest

from e2e.realapi.pki import make_cluster_pki
from e2e.realapi.status_agent import StatusAgent, api_client


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.anyio
async def test_agent_retries_with_backoff_instead_of_failing(tmp_path: Path) -> None:
    pki = make_cluster_pki(tmp_path, "nowhere", "nobody")
    async with api_client(f"https://127.0.0.1:{_closed_port()}", pki.ca_cert, "token") as api:
        agent = StatusAgent(api, kinds={"Deployment"}, request_timeout=1.0, max_backoff=0.4)
        with anyio.move_on_after(2.0):
            await agent.run()  # never reports started: the first list never succeeds
        # 0.2 + 0.4 + 0.4 + ... seconds apart: several attempts, not a busy loop, no exception.
        assert 3 <= agent.errors <= 10
        assert agent.writes == 0


def test_unknown_kinds_are_refused() -> None:
    with pytest.raises(ValueError, match="CronJob"):
        StatusAgent(object(), kinds={"CronJob"})  # type: ignore[arg-type]
