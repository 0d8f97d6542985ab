"""`python -m e2e.scenario write-repo DIR` and `python -m e2e.scenario run ...`.

`write-repo` commits the example config repository to DIR/config.git (served with
`git daemon --base-path=DIR`); `run` runs the scenario against clusters made by anything.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import anyio

from e2e.scenario.repo import write_repo
from e2e.scenario.run import MemberSpec, ScenarioConfig, ScenarioError, run_scenario
from fleet.logging import configure_logging


def _pair(text: str, what: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key or not value:
        raise argparse.ArgumentTypeError(f"{what} must look like KEY=VALUE, got {text!r}")
    return key, value


def _member(text: str) -> tuple[str, str]:
    return _pair(text, "--member (NAME=KUBECONFIG)")


def _label(text: str) -> tuple[str, str]:
    return _pair(text, "--label (KEY=VALUE)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m e2e.scenario", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    repo = commands.add_parser("write-repo", help="commit the example repo to DIR/config.git")
    repo.add_argument("dir", type=Path)
    run = commands.add_parser("run", help="register members, apply the ApplicationSet, wait")
    run.add_argument("--hub-kubeconfig", type=Path, required=True)
    run.add_argument(
        "--member",
        type=_member,
        action="append",
        required=True,
        metavar="NAME=KUBECONFIG",
        help="a member and its kubeconfig as the controller reaches it (repeatable)",
    )
    run.add_argument(
        "--label",
        type=_label,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a label for every member (default: env=e2e)",
    )
    run.add_argument("--repo-url", required=True, help="the config repo as the controller sees it")
    run.add_argument("--namespace", "-n", default="fleet-system")
    run.add_argument("--dest-namespace", default="fleet-e2e")
    run.add_argument("--expected-revision", default=None)
    run.add_argument("--install-crds", action="store_true")
    run.add_argument("--timeout", type=float, default=300.0)
    run.add_argument(
        "--fleet",
        default=None,
        metavar="COMMAND",
        help="the fleet executable (default: this Python's `-m fleet.cli`)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging("info")
    if args.command == "write-repo":
        print(write_repo(args.dir))
        return 0
    labels = dict(args.label) or {"env": "e2e"}
    config = ScenarioConfig(
        hub_kubeconfig=args.hub_kubeconfig,
        members=[MemberSpec(name, Path(path), labels) for name, path in args.member],
        repo_url=args.repo_url,
        namespace=args.namespace,
        dest_namespace=args.dest_namespace,
        expected_revision=args.expected_revision,
        install_crds=args.install_crds,
        timeout=args.timeout,
    )
    if args.fleet:
        config = replace(config, fleet_command=(args.fleet,))
    try:
        apps = anyio.run(run_scenario, config)
    except ScenarioError as error:
        print(f"scenario failed: {error}", file=sys.stderr)
        return 1
    for name, app in apps.items():
        status = app.get("status") or {}
        print(
            f"{name}: {(status.get('sync') or {}).get('status')} "
            f"{(status.get('health') or {}).get('status')}"
        )
    print(f"scenario passed: {len(apps)} Applications Synced and Healthy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
