"""`fleet sim serve`: run simulated clusters until SIGTERM or Ctrl-C.

Writes `<kubeconfig-dir>/<cluster>.kubeconfig` for every cluster (server URL, CA data, admin
token as the current context, the read-only token as context `<cluster>-readonly`) before
announcing readiness on stderr, so a script can wait for the files and go.
Usable standalone as `python -m fleet.sim.cli serve --clusters N`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path

from fleet.logging import configure_logging
from fleet.sim import kubeconfig
from fleet.sim.server import SimServer


def _write_kubeconfigs(sim: SimServer, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for cluster in sim.clusters.values():
        kubeconfig.write(directory / f"{cluster.name}.kubeconfig", cluster.kubeconfig_text())


async def run(
    clusters: int, port: int | None, kubeconfig_dir: Path, *, port_per_cluster: bool = False
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with SimServer(
        clusters, port=port, kubeconfig_dir=kubeconfig_dir, port_per_cluster=port_per_cluster
    ) as sim:
        await asyncio.to_thread(_write_kubeconfigs, sim, kubeconfig_dir)
        print(
            f"fleet-sim: serving {clusters} cluster(s) at {sim.url}/clusters/<name>; "
            f"kubeconfigs in {kubeconfig_dir}",
            file=sys.stderr,
            flush=True,
        )
        await stop.wait()


def serve(
    clusters: int, port: int | None, kubeconfig_dir: Path, *, port_per_cluster: bool = False
) -> None:
    """Serve `clusters` simulated clusters on `port` (a free one if None) until signalled.

    `port_per_cluster` also gives each cluster a port of its own (its kubeconfig points there),
    so the refuse fault makes connections fail with "connection refused".
    """
    if clusters < 1:
        raise ValueError("clusters must be at least 1")
    configure_logging()  # idempotent: keeps the fleet CLI's configuration if it made one
    asyncio.run(run(clusters, port, kubeconfig_dir, port_per_cluster=port_per_cluster))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fleet sim")
    sub = parser.add_subparsers(dest="command", required=True)
    serve_parser = sub.add_parser("serve", help="serve simulated clusters")
    serve_parser.add_argument("--clusters", type=int, default=1)
    serve_parser.add_argument("--port", type=int, default=None)
    serve_parser.add_argument("--kubeconfig-dir", type=Path, default=Path("sim-kubeconfigs"))
    serve_parser.add_argument("--port-per-cluster", action="store_true")
    args = parser.parse_args(argv)
    serve(args.clusters, args.port, args.kubeconfig_dir, port_per_cluster=args.port_per_cluster)
    return 0


if __name__ == "__main__":
    sys.exit(main())
