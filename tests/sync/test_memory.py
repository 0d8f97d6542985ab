"""What the sync engine keeps per object between reconciles is bounded and small: every
Application keeps it for every object it deploys (20,000 objects at 1,000 clusters x 2 x 10)."""

from __future__ import annotations

import pytest
from kubernetes_asyncio import client

from tests.sync.helpers import configmap, deployment, engine

pytestmark = pytest.mark.anyio


async def test_what_is_kept_per_verified_object_is_a_digest_not_the_document(
    api: client.ApiClient, namespace: str
) -> None:
    big = {f"key-{i}": "x" * 100 for i in range(50)}  # a 5 KB ConfigMap
    eng = engine(api, namespace)
    op = await eng.sync([configmap("big", big), deployment("web")], "rev1")
    assert op.phase == "Succeeded", op.message
    kept = [text for pair in eng.verified.values() for text in pair] + list(eng.shapes.values())
    assert len(eng.verified) == 2 and len(eng.shapes) == 1
    assert max(len(text) for text in kept) <= 40
