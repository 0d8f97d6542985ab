"""The multi-cluster end-to-end scenario, independent of how the clusters were made.

Given a hub kubeconfig, member kubeconfigs (as the controller sees them), a hub namespace and a
git URL the controller can reach, `run_scenario` registers the members with the real
`fleet cluster add`, applies an example ApplicationSet (members x directories of the example
config repo) and waits until every generated Application is Synced and Healthy. The kind
harness (`e2e/kind/run.sh`) and the real-apiserver test
(`tests/e2e_harness/test_scenario_realapi.py`) both run it, so the scenario itself is tested
on every `pytest` run that has the real binaries.
"""

from e2e.scenario.repo import APPS, example_files, write_repo
from e2e.scenario.run import (
    MemberSpec,
    ScenarioConfig,
    ScenarioError,
    ScenarioTimeout,
    application_set,
    expected_applications,
    run_scenario,
)

__all__ = [
    "APPS",
    "MemberSpec",
    "ScenarioConfig",
    "ScenarioError",
    "ScenarioTimeout",
    "application_set",
    "example_files",
    "expected_applications",
    "run_scenario",
    "write_repo",
]
