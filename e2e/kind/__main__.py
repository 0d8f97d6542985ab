"""`python -m e2e.kind build|up|down|stop-engine`: the kind harness by hand.

build        build (or check) everything and print the stage times; the private engine is
             stopped again unless it was already running (--if-possible: where the harness
             cannot run, say why and exit 0)
up NAME...   build, then create kind clusters NAME... and print their kubeconfig paths
             (the engine keeps running: `down`, then `stop-engine`)
down NAME... delete those kind clusters (only those)
stop-engine  stop the private dockerd (by the PID in its pidfile)

The test suite (tests/e2e_harness/test_kind_harness.py) runs the whole scenario; see e2e/README.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from e2e.kind.clusters import create_clusters, delete_clusters
from e2e.kind.engine import PrivateEngine
from e2e.kind.host import HostError, missing_reason
from e2e.kind.images import Builder, ImageError
from e2e.kind.layout import Layout, harness_lock
from e2e.kind.prepare import prepare
from e2e.kind.proc import CommandError
from e2e.kind.stamps import Stages


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m e2e.kind",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=["build", "up", "down", "stop-engine"])
    parser.add_argument("names", nargs="*")
    parser.add_argument("--if-possible", action="store_true")
    args = parser.parse_args(argv)
    layout = Layout()
    stages = Stages(layout.stamps)
    if args.command == "stop-engine":
        PrivateEngine(layout).stop()
        return 0
    if args.command == "down":
        delete_clusters(Builder(layout, PrivateEngine(layout)), args.names)
        return 0
    reason = missing_reason()
    if reason is not None:
        print(
            f"kind harness cannot run here: {reason}; the kind suite "
            "(tests/e2e_harness/test_kind_scenario.py) skips with this reason",
            file=sys.stderr,
        )
        return 0 if args.if_possible else 3
    with harness_lock(layout):
        try:
            builder, started = prepare(layout, stages, build_only=args.command == "build")
        except HostError as error:
            print(
                f"kind harness cannot run here: {error}; the kind suite "
                "(tests/e2e_harness/test_kind_scenario.py) skips with this reason",
                file=sys.stderr,
            )
            return 0 if args.if_possible else 3
        except (CommandError, ImageError) as error:
            print(f"kind harness build failed: {error}", file=sys.stderr)
            return 1
        if args.command == "up":
            workdir = Path(tempfile.mkdtemp(prefix="fleet-kind-", dir=layout.cache))
            stages.timed(
                "clusters: create",
                lambda: print(
                    *(
                        f"{c.name}: {c.kubeconfig}"
                        for c in create_clusters(builder, args.names, workdir)
                    ),
                    sep="\n",
                ),
            )
        elif started:
            builder.engine.stop()
    print(stages.times.table(), file=sys.stderr)
    stages.times.write(layout.logs / f"{args.command}-stages.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
