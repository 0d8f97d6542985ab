# Two entry points for a fresh machine: `make test` and (with the controller) `make demo`.
PYTHON ?= python3
VENV := .venv
KUBE_BIN := $(CURDIR)/.cache/bin
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench clean kube-binaries render-binaries kind-images

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# The real kube-apiserver and etcd, built from their Go modules (no binaries in git): about 8 min
# the first time on 2 cores, seconds with a warm Go build cache, instant when up to date.
kube-binaries:
	e2e/apiserver/build.sh $(KUBE_BIN)

# kustomize and helm from the Go module proxy: about 2.5 min cold on 2 cores, instant when current.
render-binaries:
	tools/render-binaries/build.sh $(KUBE_BIN)

# The kind harness's binaries and images (e2e/kind, all from package registries, stamped): 23 min
# cold on 2 busy cores (15 of them the Kubernetes binaries kube-binaries needs anyway), 3 s warm. Where it cannot run (not root, no apt-get or
# go) it says why and succeeds; the kind suite then skips with the same reason.
kind-images: $(STAMP)
	PYTHONPATH=. $(BIN)/python -m e2e.kind build --if-possible

# Debian's chromium + chromium-driver for the dashboard's browser tests (apt-get; skipped with
# a reason where apt cannot run). Instant when installed.
.PHONY: browser
browser:
	tools/browser/install.sh

# The embedded demo: fleet.sim hub + 3 members, a git config repo, the controller, a live view.
# Needs kustomize for the repo's overlays (built like the test binaries; ~2.5 min the first time).
demo: $(STAMP) render-binaries
	FLEET_RENDER_BIN_DIR=$(KUBE_BIN) $(BIN)/fleet demo

lint: $(STAMP)
	$(BIN)/ruff check fleet generators tests bench e2e
	$(BIN)/ruff format --check fleet generators tests bench e2e

typecheck: $(STAMP)
	$(BIN)/mypy

# FLEET_REQUIRE_*=1: a missing kube-apiserver, helm or kustomize fails the run instead of skipping.
# Two pytest lanes at once (tools/test-lanes.sh): SLOW_LANE is mostly waiting (Docker, a git
# server down for a minute, fuzzers on a clock) and shares the cores with everything else.
SLOW_LANE := tests/e2e_harness/test_kind_scenario.py tests/drills tests/fuzz
unit: $(STAMP) kube-binaries render-binaries kind-images browser
	FLEET_KUBE_BIN_DIR=$(KUBE_BIN) FLEET_RENDER_BIN_DIR=$(KUBE_BIN) \
	FLEET_REQUIRE_REAL_APISERVER=1 FLEET_REQUIRE_RENDER_TOOLS=1 \
	tools/test-lanes.sh $(BIN)/pytest -- $(SLOW_LANE)

test: lint typecheck unit

bench: $(STAMP) kube-binaries
	$(BIN)/python bench/generators_bench.py
	$(BIN)/python bench/git_bench.py
	PYTHONPATH=. $(BIN)/python bench/clusters_registry_bench.py
	PYTHONPATH=. $(BIN)/python bench/sync_bench.py
	PYTHONPATH=. $(BIN)/python bench/clusters_bench.py --bin-dir $(KUBE_BIN)
	PYTHONPATH=. $(BIN)/python bench/drills_bench.py
	PYTHONPATH=. $(BIN)/python bench/dashboard_bench.py --apps 10000
	PYTHONPATH=. $(BIN)/python bench/fleet_bench.py --clusters 200 --apps 5 --objects 10 --steady-seconds 300
	PYTHONPATH=. $(BIN)/python bench/fleet_bench.py --clusters 1000 --apps 2 --objects 10 --skip-commit --steady-seconds 0
	PYTHONPATH=. $(BIN)/python bench/memory_bench.py --clusters 1000 --apps 2 --objects 10

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
