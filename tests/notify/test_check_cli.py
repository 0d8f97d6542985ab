"""`fleet notifications check`: a ConfigMap reviewed offline, and what it would send."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fleet.cli import main

CONFIGMAP = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "argocd-notifications-cm"},
    "data": {
        "service.slack": "token: $slack-token",
        "template.app-sync-failed": (
            "message: '{{.app.metadata.name}} failed: {{.app.status.operationState.message}}'"
        ),
    },
}
SECRET = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "argocd-notifications-secret"},
    "stringData": {"slack-token": "xoxb-never-printed"},
}
APP = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Application",
    "metadata": {
        "name": "web",
        "annotations": {"notifications.argoproj.io/subscribe.on-sync-failed.slack": "ops"},
    },
    "status": {
        "operationState": {
            "phase": "Failed",
            "message": "one or more objects failed to apply",
            "syncResult": {"revision": "abc"},
        }
    },
}


def write(tmp_path: Path, name: str, doc: object) -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def test_prints_what_each_application_would_be_sent_without_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "notifications",
            "check",
            write(tmp_path, "cm.yaml", CONFIGMAP),
            "--secret",
            write(tmp_path, "secret.yaml", SECRET),
            "--app",
            write(tmp_path, "app.yaml", APP),
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    (report,) = yaml.safe_load_all(out)
    (sent,) = report["fires"]["on-sync-failed"]
    assert sent["destination"] == "slack:ops"
    assert sent["notification"]["message"] == "web failed: one or more objects failed to apply"
    assert "xoxb-never-printed" not in out + err


def test_problems_name_the_key_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = {**CONFIGMAP, "data": {"trigger.on-x": "- when: app.status ==\n  send: [a]"}}
    code = main(["notifications", "check", write(tmp_path, "cm.yaml", broken)])
    _, err = capsys.readouterr()
    assert code == 2
    assert "problem: trigger.on-x[0].when: unexpected end of expression" in err


def test_a_missing_file_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["notifications", "check", str(tmp_path / "nope.yaml")])
    _, err = capsys.readouterr()
    assert code == 2 and err.strip().endswith("nope.yaml: No such file or directory")
