"""``python -m e2e.realapi up``: run a hub and N member API servers until Ctrl-C or SIGTERM.

For trying the controller by hand against real API servers, and for scripts: the kubeconfig
paths are printed one per line (``NAME SERVER KUBECONFIG READONLY_KUBECONFIG``) and written to
``DIR/clusters.json``. Every server is stopped when this process exits, however it exits.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path
from types import FrameType

import anyio

from e2e.realapi.cluster import DEFAULT_BIN_DIR, RealApiError, RealCluster, RealClusters
from e2e.realapi.status_agent import DEFAULT_DELAY, StatusAgent, api_client


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m e2e.realapi", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start a hub and member clusters and keep them running")
    up.add_argument("--members", type=int, default=2, help="member clusters (default 2)")
    up.add_argument("--dir", type=Path, required=True, help="work directory (created)")
    up.add_argument(
        "--bin-dir",
        type=Path,
        default=DEFAULT_BIN_DIR,
        help=f"where kube-apiserver and etcd are (default {DEFAULT_BIN_DIR})",
    )
    up.add_argument("--timeout", type=float, default=120.0, help="startup timeout, seconds")
    up.add_argument(
        "--status-agent",
        action="store_true",
        help="also run the status agent on every cluster (workloads become healthy)",
    )
    up.add_argument(
        "--agent-delay",
        type=float,
        default=DEFAULT_DELAY,
        help="seconds before the agent writes a status",
    )
    up.add_argument(
        "--fail",
        action="append",
        default=[],
        metavar="NAME",
        help="workload name (or namespace/name) the agent marks as failing",
    )
    return parser


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


async def _serve(
    harness: RealClusters, clusters: list[RealCluster], args: argparse.Namespace
) -> int:
    """Run until SIGINT/SIGTERM (0) or until a server dies (1)."""
    code = 0
    apis = [api_client(c.server, c.ca_file, c.token or "") for c in clusters]
    try:
        async with anyio.create_task_group() as tg:
            if args.status_agent:
                for api in apis:
                    agent = StatusAgent(api, delay=args.agent_delay, failing=args.fail)
                    await tg.start(agent.run)
                print("status agents running", flush=True)

            async def watchdog() -> None:
                nonlocal code
                while not harness.dead():
                    await anyio.sleep(1.0)
                print(
                    f"server(s) exited: {', '.join(harness.dead())}; stopping",
                    file=sys.stderr,
                    flush=True,
                )
                code = 1
                tg.cancel_scope.cancel()

            tg.start_soon(watchdog)
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for _ in signals:
                    break
            tg.cancel_scope.cancel()
    finally:
        for api in apis:
            with anyio.move_on_after(5, shield=True):
                await api.close()
    return code


def _up(args: argparse.Namespace) -> int:
    harness = RealClusters(args.members, args.dir, args.bin_dir, start_timeout=args.timeout)
    manifest = Path(args.dir) / "clusters.json"
    # SIGTERM during startup must still clean up: turn it into KeyboardInterrupt until the
    # event loop takes the signals over.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        began = time.monotonic()
        clusters = harness.start()
        for cluster in clusters:
            print(
                cluster.name,
                cluster.server,
                cluster.kubeconfig,
                cluster.readonly_kubeconfig,
                flush=True,
            )
        manifest.write_text(
            json.dumps(
                [
                    {
                        "name": c.name,
                        "server": c.server,
                        "kubeconfig": str(c.kubeconfig),
                        "readonlyKubeconfig": str(c.readonly_kubeconfig),
                        "caFile": str(c.ca_file),
                    }
                    for c in clusters
                ],
                indent=2,
            )
            + "\n"
        )
        print(
            f"{len(clusters)} clusters ready in {time.monotonic() - began:.1f} s; Ctrl-C to stop",
            flush=True,
        )
        return anyio.run(_serve, harness, clusters, args)
    except KeyboardInterrupt:
        return 0
    except RealApiError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        harness.stop()
        manifest.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "up":
        return _up(args)
    return 2  # pragma: no cover - argparse rejects other commands


if __name__ == "__main__":
    sys.exit(main())
