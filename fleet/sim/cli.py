"""`fleet sim serve`: run simulated clusters until SIGTERM or Ctrl-C.

Writes `<kubeconfig-dir>/<cluster>.kubeconfig` for every cluster (server URL, CA data, admin
token as the current context, the read-only token as context `<cluster>-readonly`) before
announcing readiness on stderr, so a script can wait for the files and go.
`set_faults` backs `fleet sim faults`: fault injection from the command line.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import signal
import ssl
import sys
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from fleet.logging import configure_logging
from fleet.sim import kubeconfig
from fleet.sim.profile import DEFAULT_PROFILE, get_profile
from fleet.sim.server import DEFAULT_BOOKMARK_INTERVAL, SimServer


def _write_kubeconfigs(sim: SimServer, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for cluster in sim.clusters.values():
        kubeconfig.write(directory / f"{cluster.name}.kubeconfig", cluster.kubeconfig_text())


async def run(
    clusters: int,
    port: int | None,
    kubeconfig_dir: Path,
    *,
    port_per_cluster: bool = False,
    profile: str = DEFAULT_PROFILE,
    bookmark_interval: float = DEFAULT_BOOKMARK_INTERVAL,
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with SimServer(
        clusters,
        port=port,
        kubeconfig_dir=kubeconfig_dir,
        port_per_cluster=port_per_cluster,
        profile=profile,
        bookmark_interval=bookmark_interval,
    ) as sim:
        await asyncio.to_thread(_write_kubeconfigs, sim, kubeconfig_dir)
        print(
            f"fleet-sim: serving {clusters} cluster(s) at {sim.url}/clusters/<name>; "
            f"kubeconfigs in {kubeconfig_dir}; profile {sim.profile.name}",
            file=sys.stderr,
            flush=True,
        )
        await stop.wait()


def serve(
    clusters: int,
    port: int | None,
    kubeconfig_dir: Path,
    *,
    port_per_cluster: bool = False,
    profile: str = DEFAULT_PROFILE,
    bookmark_interval: float = DEFAULT_BOOKMARK_INTERVAL,
) -> None:
    """Serve `clusters` simulated clusters on `port` (a free one if None) until signalled.

    `port_per_cluster` also gives each cluster a port of its own (its kubeconfig points there),
    so the refuse fault makes connections fail with "connection refused". `profile` is what
    each cluster serves and starts with (`fleet.sim.profile`: minimal or realistic).
    `bookmark_interval`: seconds between the bookmarks of a watch that asks for them.
    """
    if clusters < 1:
        raise ValueError("clusters must be at least 1")
    get_profile(profile)  # an unknown name fails here, before anything listens
    configure_logging()  # idempotent: keeps the fleet CLI's configuration if it made one
    asyncio.run(
        run(
            clusters,
            port,
            kubeconfig_dir,
            port_per_cluster=port_per_cluster,
            profile=profile,
            bookmark_interval=bookmark_interval,
        )
    )


def set_faults(kubeconfig_path: Path, values: dict[str, Any], *, clear: bool = False) -> Any:
    """Set a running simulated cluster's faults through the server's admin endpoint.

    The cluster is the kubeconfig's current context; its admin token authorises the change.
    `clear` resets every fault before applying `values` (PUT instead of PATCH). Returns the
    faults now in force.
    """
    config = yaml.safe_load(kubeconfig_path.read_text())
    context = next(c for c in config["contexts"] if c["name"] == config["current-context"])
    name = context["context"]["cluster"]
    cluster = next(c for c in config["clusters"] if c["name"] == name)["cluster"]
    user = next(u for u in config["users"] if u["name"] == context["context"]["user"])["user"]
    origin = urllib.parse.urlsplit(cluster["server"])
    ca = base64.b64decode(cluster["certificate-authority-data"]).decode()
    request = urllib.request.Request(
        f"{origin.scheme}://{origin.netloc}/_sim/clusters/{name}/faults",
        data=json.dumps(values).encode(),
        headers={"Authorization": f"Bearer {user['token']}", "Content-Type": "application/json"},
        method="PUT" if clear else "PATCH",
    )
    context_ssl = ssl.create_default_context(cadata=ca)
    with urllib.request.urlopen(request, timeout=10, context=context_ssl) as response:
        return json.loads(response.read())
