"""Notifications in Argo CD mode (`--api argocd`), taking over from Argo CD's notifications
controller: its ConfigMap in Argo CD's namespace works as it is, and what Argo CD already sent
(recorded in `notified.notifications.argoproj.io`) is not sent again."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import anyio
import pytest

from fleet.kube import request_json
from fleet.notify.delivery import RetryPolicy
from fleet.notify.runner import NotifySettings
from fleet.notify.subscriptions import NOTIFIED
from tests.argocd.takeover import Takeover
from tests.clusters.harness import Env
from tests.controllers.harness import configmap
from tests.notify.receiver import Receiver

pytestmark = pytest.mark.anyio

FAST = NotifySettings(retry=RetryPolicy(attempts=3, backoff=0.05, max_backoff=0.2))
SUBSCRIBE = "notifications.argoproj.io/subscribe."


def argocd_key(once_per: str, trigger: str, when: str, service: str, recipient: str) -> str:
    """A key as Argo CD's notifications controller writes it."""
    digest = hashlib.sha1(when.encode(), usedforsecurity=False).digest()
    condition = f"[0].{base64.urlsafe_b64encode(digest).decode().rstrip('=')}"
    return f"{once_per}:{trigger}:{condition}:{service}:{recipient}"


async def test_what_argo_cd_already_sent_is_not_sent_again(
    sim_env: Env, tmp_path: Path, sink: Receiver
) -> None:
    async with Takeover.open(sim_env, tmp_path) as hub:
        hub.upstream.commit(
            {"apps/web/configmap.yaml": configmap("web-config", {"color": "blue"})}, "first"
        )
        await hub.put_default_project()
        created_by_argocd = argocd_key("web", "on-created", "true", "old", "")
        await request_json(
            hub.hub,
            "POST",
            f"/api/v1/namespaces/{hub.namespace}/configmaps",
            body={
                "metadata": {"name": "argocd-notifications-cm"},
                "data": {
                    "service.webhook.old": f"url: {sink.url}/old",
                    "service.webhook.new": f"url: {sink.url}/new",
                    "template.app-created": (
                        "webhook:\n"
                        "  old: {method: POST, path: '/{{.app.metadata.name}}'}\n"
                        "  new: {method: POST, path: '/{{.app.metadata.name}}'}\n"
                    ),
                },
            },
        )
        await hub.create_application(
            "web",
            hub.app_spec("apps/web"),
            annotations={
                SUBSCRIBE + "on-created.old": "",
                SUBSCRIBE + "on-created.new": "",
                NOTIFIED: json.dumps({created_by_argocd: 1_700_000_000}),
            },
        )
        async with hub.fleet(notifications=FAST):
            await sink.wait_for(1, "/new/web")
            with anyio.fail_after(60):
                while True:
                    app = (await hub.applications())["web"]
                    state = json.loads(app["metadata"]["annotations"][NOTIFIED])
                    if any(":on-created:" in k and k.endswith(":new:") for k in state):
                        break
                    await anyio.sleep(0.2)
    assert sink.on("/old/") == []
    assert created_by_argocd in state
