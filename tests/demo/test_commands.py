"""`fleet demo` arguments, declared without loading the demo's heavy modules."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from fleet.demo.commands import DEFAULT_TIMEOUT, register


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="fleet")
    register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["demo", *argv])


def test_defaults_are_the_live_demo_with_a_temporary_workdir() -> None:
    args = _parse()
    assert (args.once, args.timeout, args.workdir, args.keep) == (
        False,
        DEFAULT_TIMEOUT,
        None,
        False,
    )
    assert callable(args.handler)


def test_once_timeout_workdir_and_keep_are_parsed() -> None:
    args = _parse("--once", "--timeout", "60", "--workdir", "/tmp/x", "--keep")
    assert (args.once, args.timeout, args.workdir, args.keep) == (True, 60.0, Path("/tmp/x"), True)


def test_declaring_the_command_loads_neither_simulator_nor_controller() -> None:
    code = (
        "import sys, argparse\n"
        "from fleet.demo.commands import register\n"
        "register(argparse.ArgumentParser().add_subparsers())\n"
        "heavy = [m for m in ('fleet.sim', 'fleet.controllers.runtime', 'rich', 'fleet.demo.run')"
        " if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_workdir_holding_a_previous_demo_is_refused_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fleet.demo.run import EXIT_BAD_INPUT, main

    (tmp_path / "config").mkdir()
    code = main(_parse("--once", "--workdir", str(tmp_path)))
    assert code == EXIT_BAD_INPUT
    assert "already holds a demo" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config"], "nothing started"
