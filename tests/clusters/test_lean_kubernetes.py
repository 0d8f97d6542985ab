"""kubernetes_asyncio without its generated API classes and models until one is used
(fleet.lean_kubernetes): a fresh process importing the controller loads a handful of its
modules, and everything else it offers still works on first use."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap


def _run(code: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_the_controller_loads_only_the_client_core_of_kubernetes_asyncio() -> None:
    found = _run(
        """
        import json, sys
        import fleet.cli, fleet.controllers.main
        ours = sorted(m for m in sys.modules if m.startswith("kubernetes_asyncio"))
        print(json.dumps({"modules": ours}))
        """
    )
    modules = found["modules"]
    assert isinstance(modules, list)
    assert "kubernetes_asyncio.client.api_client" in modules
    assert len(modules) < 20, modules


def test_generated_apis_models_and_subpackages_still_load_on_first_use() -> None:
    found = _run(
        """
        import asyncio, json
        import fleet.kube
        from kubernetes_asyncio.client import CoreV1Api, V1ConfigMap
        from kubernetes_asyncio import config, watch
        import kubernetes_asyncio.client as client

        async def main():
            async with client.ApiClient() as api:
                class Response:
                    data = json.dumps({"metadata": {"name": "cm"}, "data": {"k": "v"}})
                cm = api.deserialize(Response(), "V1ConfigMap")
                return type(cm).__name__, cm.metadata.name, cm.data

        kind, name, data = asyncio.run(main())
        print(json.dumps({
            "api": CoreV1Api.__name__, "model": V1ConfigMap.__name__, "kind": kind,
            "name": name, "data": data, "config": hasattr(config, "load_kube_config"),
            "watch": hasattr(watch, "Watch"),
        }))
        """
    )
    assert found == {
        "api": "CoreV1Api",
        "model": "V1ConfigMap",
        "kind": "V1ConfigMap",
        "name": "cm",
        "data": {"k": "v"},
        "config": True,
        "watch": True,
    }
