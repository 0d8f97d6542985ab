"""`fleet demo --once` end to end: the real controller on the simulated fleet.

Slow (seconds, a whole controller); the timeout test waits out its (short) --timeout.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import aiohttp
import anyio
import pytest

from fleet.demo.run import EXIT_OK, EXIT_TIMEOUT, LOG_NAME, Options, main, run_demo
from fleet.render import RenderTools

pytestmark = pytest.mark.slow


def logical_lines(out: str) -> list[str]:
    """The plain view's lines with their 80-column continuations joined back."""
    joined: list[str] = []
    for line in out.splitlines():
        if line.startswith(" ") and joined:
            joined[-1] += " " + line.strip()
        else:
            joined.append(line)
    return joined


def test_once_converges_reverts_the_drift_rolls_out_the_commit_and_exits_0(
    tmp_path: Path, kustomize_tools: RenderTools, capsys: pytest.CaptureFixture[str]
) -> None:
    workdir = tmp_path / "demo"
    args = argparse.Namespace(
        once=True, timeout=240.0, workdir=workdir, keep=False, log_level="info"
    )
    code = main(args)
    out, err = capsys.readouterr()
    assert code == EXIT_OK, err
    assert "\x1b" not in out
    assert all(len(line) <= 80 for line in out.splitlines() if str(tmp_path) not in line)
    lines = [line.split("] ", 1)[-1] for line in logical_lines(out)]
    assert any(
        line.startswith("+ 1. converge: 9 Applications Synced and Healthy") for line in lines
    )
    assert any(line.startswith("+ 2. drift:") and "reverted by fleet" in line for line in lines)
    assert any(
        line.startswith("+ 3. rollout: git commit") and "rolled out" in line for line in lines
    )
    assert lines[-1] == "fleet demo: every step converged"
    assert (workdir / LOG_NAME).stat().st_size > 0, "controller logs went to the workdir's file"


@pytest.mark.anyio
async def test_timeout_exits_1_naming_each_application_that_did_not_converge(
    tmp_path: Path,
) -> None:
    options = Options(
        workdir=tmp_path / "demo",
        timeout=12.0,
        live=False,
        log_path=tmp_path / LOG_NAME,
        render_tools=RenderTools(),  # no kustomize: the guestbook overlays cannot render
    )
    out, err = io.StringIO(), io.StringIO()
    code = await run_demo(options, out, err)
    assert code == EXIT_TIMEOUT
    report = err.getvalue().splitlines()
    assert report[0] == "fleet demo: timed out after 12 s in step 1 (converge)"
    apps = report[2:-1]
    named = {line.split(":", 1)[0].strip() for line in apps}
    assert named == {"guestbook-staging-eu", "guestbook-prod-eu", "guestbook-prod-us"}
    assert all("condition" in line for line in apps), report
    assert report[-1] == f"fleet demo: controller log in {options.log_path}"


@pytest.mark.anyio
async def test_live_view_ends_showing_every_application_and_all_steps_done(
    tmp_path: Path, kustomize_tools: RenderTools
) -> None:
    options = Options(
        workdir=tmp_path / "demo", timeout=240.0, live=True, log_path=tmp_path / LOG_NAME
    )
    out, err = io.StringIO(), io.StringIO()
    code = await run_demo(options, out, err)
    assert code == EXIT_OK, err.getvalue()
    lines = out.getvalue().splitlines()
    assert any(line.startswith("9/9 Synced and Healthy at ") for line in lines)
    assert all(len(line) <= 80 for line in lines if str(tmp_path) not in line), "80 columns"
    assert [line[:11] for line in lines if line[:1] == "+"][-3:] == [
        "+ 1. conver",
        "+ 2. drift:",
        "+ 3. rollou",
    ]
    rows = [line.split() for line in lines if line.startswith("guestbook-prod-us ")]
    assert rows and rows[-1][:4] == ["guestbook-prod-us", "prod-us", "Synced", "Healthy"]


@pytest.mark.anyio
async def test_after_the_steps_the_demo_stays_and_serves_the_dashboard(
    tmp_path: Path, kustomize_tools: RenderTools
) -> None:
    options = Options(
        workdir=tmp_path / "demo",
        timeout=240.0,
        live=False,
        log_path=tmp_path / LOG_NAME,
        stay=True,
    )
    out, err = io.StringIO(), io.StringIO()
    async with anyio.create_task_group() as tg:
        tg.start_soon(run_demo, options, out, err)
        with anyio.fail_after(240):
            while "dashboard: http://" not in out.getvalue():
                await anyio.sleep(0.2)
        assert options.stayed
        text = "\n".join(logical_lines(out.getvalue()))
        url = text.split("dashboard: ", 1)[1].split()[0]
        assert "export KUBECONFIG=" in text and "hub.kubeconfig" in text
        async with aiohttp.ClientSession() as session, session.get(url + "apps") as page:
            body = await page.text()
        assert page.status == 200
        assert body.count("data-app=") == 9
        await anyio.sleep(1.0)  # still running: the demo waits for Ctrl-C
        assert "every step converged" not in out.getvalue()
        tg.cancel_scope.cancel()
