#!/usr/bin/env bash
# fleet's kind harness from a shell: builds whatever is missing (stamped, seconds when warm),
# starts the private Docker engine, creates a hub and two member clusters with names unique to
# the run, runs the kind suite, deletes what it created. The logic is Python (e2e/kind/*.py);
# this is only the entry point. Usage: e2e/kind/run.sh [pytest options, e.g. -x -s]
# Build only: .venv/bin/python -m e2e.kind build; stop the engine: ... -m e2e.kind stop-engine
set -euo pipefail
root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
exec "${PYTHON:-.venv/bin/python}" -m pytest -p no:cacheprovider -rs --tb=short \
    tests/e2e_harness/test_kind_scenario.py "$@"
