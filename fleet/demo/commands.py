"""The arguments of `fleet demo`, apart from its (heavy) implementation.

Cheap to import: every `fleet` invocation builds the whole parser. The handler loads
`fleet.demo.run` (the simulator, the controller, rich) only when the demo runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

DEFAULT_TIMEOUT = 300.0


def register(subparsers: Any) -> None:
    """Add `demo` to fleet's top-level subparsers."""
    demo = subparsers.add_parser(
        "demo",
        help="a hub, three simulated member clusters, a git repo and the controller, live",
        description=(
            "Start a simulated hub and three member clusters, a local git config repository "
            "and an ApplicationSet, run the controller, show every Application until all are "
            "Synced and Healthy, then revert a manual edit on a member and roll out a commit."
        ),
    )
    demo.add_argument(
        "--once",
        action="store_true",
        help="plain progress lines instead of the live view; exit 0 when every step converges, "
        "1 on a timeout (for scripts)",
    )
    demo.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help="seconds the whole demo may take before it gives up (default %(default)s)",
    )
    demo.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="where kubeconfigs, the git repositories, caches and the log go "
        "(default: a temporary folder, removed at the end unless --keep)",
    )
    demo.add_argument(
        "--keep",
        action="store_true",
        help="keep the temporary workdir (kubeconfigs, repos, log) after the demo",
    )
    demo.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from fleet.demo.run import main

    return main(args)
