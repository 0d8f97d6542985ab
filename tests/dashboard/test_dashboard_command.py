"""`fleet dashboard` as a process: one hub watch feeds the pages and the event stream."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest

from fleet.api.crds import install_crds
from fleet.api.resources import APPLICATION
from fleet.kube import Credentials, build_api_client, request_json
from tests.clusters.harness import create_namespace, simulated_env

pytestmark = pytest.mark.anyio


def application(name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": APPLICATION.api_version,
        "kind": "Application",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "project": "default",
            "source": {"repoURL": "https://git.example/config.git", "path": "apps/web"},
            "destination": {"name": "m1", "namespace": "web"},
        },
    }


async def test_the_dashboard_command_serves_the_hub_and_streams_its_changes(
    tmp_path: Path,
) -> None:
    async with simulated_env(tmp_path, []) as env:
        creds = Credentials(server=env.hub.server, token=env.hub.token, ca_pem=env.hub.ca_pem)
        async with build_api_client(creds) as hub:
            await install_crds(hub)
            namespace = await create_namespace(hub, "dash")
            await request_json(
                hub, "POST", APPLICATION.collection(namespace), body=application("web", namespace)
            )
            command = [
                sys.executable,
                "-m",
                "fleet.cli",
                "dashboard",
                "--hub-kubeconfig",
                str(env.hub.kubeconfig),
                "-n",
                namespace,
                "--listen",
                "127.0.0.1:0",
            ]
            async with await anyio.open_process(command) as process:
                assert process.stdout is not None
                with anyio.fail_after(60):
                    url = (await process.stdout.receive()).decode().strip().splitlines()[0]
                assert url.startswith("http://127.0.0.1:") and url.endswith("/dashboard/")
                async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(60)) as session:
                    async with session.get(url + "apps") as page:
                        assert page.status == 200
                        assert 'data-app="web"' in await page.text()
                    async with session.get(url + "events") as stream:
                        lines = stream.content.__aiter__()
                        assert (await anext(lines)).startswith(b"retry:")
                        await request_json(
                            hub,
                            "PATCH",
                            APPLICATION.status(namespace, "web"),
                            body={"status": {"sync": {"status": "OutOfSync"}}},
                            content_type="application/merge-patch+json",
                        )
                        with anyio.fail_after(30):
                            async for raw in lines:
                                line = raw.decode()
                                if line.startswith("data: ") and "OutOfSync" in line:
                                    change = json.loads(line[6:])
                                    break
                assert change["app"]["web"]["sync"] == "OutOfSync"
                process.send_signal(signal.SIGTERM)
                with anyio.fail_after(30):
                    assert await process.wait() == 0
