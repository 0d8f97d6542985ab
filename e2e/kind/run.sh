#!/usr/bin/env bash
# fleet's end-to-end run on kind: a hub and two member clusters, the controller image built from
# this checkout and installed from crds/ and deploy/ (e2e/kind/overlay), the example config repo
# served by a git daemon container on the kind network, then the shared scenario
# (e2e/scenario: `fleet cluster add`, an ApplicationSet, wait for Synced/Healthy).
#
# Usage: e2e/kind/run.sh [--keep] [--check-tools] [--help]
#   --keep         leave the clusters and the git container running (default: delete on exit)
#   --check-tools  only check that kind, kubectl and a running Docker engine are there
# Environment: FLEET_E2E_TIMEOUT (seconds to wait for convergence, default 300),
#   KIND_NODE_IMAGE (a kindest/node image; default: kind's own),
#   KIND_EXPERIMENTAL_DOCKER_NETWORK (kind's network, default "kind").
# Exit codes: 0 passed, 1 a step failed, 2 bad usage, 3 a required tool is missing.
set -euo pipefail

# Builtins only until the tools are checked, so the checks run with any PATH.
HERE="$(cd -- "${BASH_SOURCE[0]%/*}" && pwd)"
ROOT="$(cd -- "$HERE/../.." && pwd)"

HUB=fleet-hub
MEMBERS=(fleet-member-1 fleet-member-2)
IMAGE=fleet:e2e
NAMESPACE=fleet-system
GIT_CONTAINER=fleet-e2e-git
NETWORK="${KIND_EXPERIMENTAL_DOCKER_NETWORK:-kind}"
TIMEOUT="${FLEET_E2E_TIMEOUT:-300}"
KIND_CONFIG="$HERE/cluster.yaml"
OVERLAY="$HERE/overlay"
CRDS="$ROOT/crds"
SCENARIO="$ROOT/e2e/scenario"

KEEP=0
CHECK_ONLY=0
WORK=""
PASSED=0

usage() {
    sed -n '2,13p' "$HERE/run.sh" | sed 's/^# \{0,1\}//'
}

say() {
    printf '==> %s\n' "$*" >&2
}

die() {
    printf 'e2e/kind/run.sh: %s\n' "$*" >&2
    exit 1
}

missing() {
    printf 'e2e/kind/run.sh: %s\n' "$*" >&2
    exit 3
}

check_tools() {
    local tool
    for tool in kind kubectl docker; do
        if ! command -v "$tool" >/dev/null 2>&1; then
            case "$tool" in
            kind) missing "kind is not installed (https://kind.sigs.k8s.io/docs/user/quick-start/#installation)" ;;
            kubectl) missing "kubectl is not installed (https://kubernetes.io/docs/tasks/tools/)" ;;
            docker) missing "the docker CLI is not installed (https://docs.docker.com/engine/install/)" ;;
            esac
        fi
    done
    local info
    if ! info="$(docker info 2>&1)"; then
        missing "kind e2e needs a running Docker engine: \`docker info\` failed: ${info}"
    fi
}

cluster_exists() {
    kind get clusters 2>/dev/null | grep -qx -- "$1"
}

create_cluster() {
    local name="$1"
    if cluster_exists "$name"; then
        say "kind cluster $name exists: reusing it"
        return
    fi
    say "creating kind cluster $name"
    local args=(create cluster --name "$name" --config "$KIND_CONFIG" --wait 180s)
    if [[ -n "${KIND_NODE_IMAGE:-}" ]]; then
        args+=(--image "$KIND_NODE_IMAGE")
    fi
    kind "${args[@]}"
}

diagnostics() {
    say "diagnostics"
    kubectl --context "kind-$HUB" -n "$NAMESPACE" get applicationsets,applications,clusters -o wide >&2 || true
    kubectl --context "kind-$HUB" -n "$NAMESPACE" logs deployment/fleet-controller --tail 200 >&2 || true
    docker logs --tail 50 "$GIT_CONTAINER" >&2 || true
}

cleanup() {
    local code=$?
    if [[ "$PASSED" != 1 && "$CHECK_ONLY" != 1 ]]; then
        diagnostics
    fi
    if [[ "$KEEP" == 1 ]]; then
        say "--keep: leaving clusters $HUB ${MEMBERS[*]} and container $GIT_CONTAINER"
        say "kubeconfigs: $WORK (hub: kubectl --context kind-$HUB)"
        say "clean up: kind delete cluster --name NAME; docker rm -f $GIT_CONTAINER"
    else
        say "deleting the clusters and the git container"
        docker rm -f "$GIT_CONTAINER" >/dev/null 2>&1 || true
        local name
        for name in "$HUB" "${MEMBERS[@]}"; do
            kind delete cluster --name "$name" >/dev/null 2>&1 || true
        done
        if [[ -n "$WORK" ]]; then
            rm -rf -- "$WORK"
        fi
    fi
    exit "$code"
}

# Python from the image, as this user (the work directory is private to them), on the kind
# network, with e2e/ from this checkout importable.
in_image() {
    docker run --rm --network "$NETWORK" --user "$(id -u):$(id -g)" -e HOME=/tmp \
        -v "$WORK:/work" -v "$ROOT/e2e:/opt/fleet-e2e/e2e:ro" -e PYTHONPATH=/opt/fleet-e2e \
        --entrypoint python "$IMAGE" "$@"
}

main() {
    while [[ $# -gt 0 ]]; do
        case "$1" in
        --keep) KEEP=1 ;;
        --check-tools) CHECK_ONLY=1 ;;
        -h | --help)
            usage
            exit 0
            ;;
        *)
            usage >&2
            exit 2
            ;;
        esac
        shift
    done

    check_tools
    if [[ "$CHECK_ONLY" == 1 ]]; then
        say "kind, kubectl and a running Docker engine: ok"
        exit 0
    fi
    for path in "$KIND_CONFIG" "$OVERLAY/kustomization.yaml" "$CRDS" "$SCENARIO/__main__.py" "$ROOT/Dockerfile"; do
        [[ -e "$path" ]] || die "$path is missing: run this from a fleet checkout"
    done

    WORK="$(mktemp -d "${TMPDIR:-/tmp}/fleet-kind-e2e.XXXXXX")"
    trap cleanup EXIT

    local name
    for name in "$HUB" "${MEMBERS[@]}"; do
        create_cluster "$name"
    done

    say "building $IMAGE from $ROOT"
    DOCKER_BUILDKIT=1 docker build -t "$IMAGE" "$ROOT"
    kind load docker-image "$IMAGE" --name "$HUB"

    say "installing the CRDs and the controller into $HUB"
    kubectl --context "kind-$HUB" apply --server-side -f "$CRDS"
    kubectl --context "kind-$HUB" wait --for condition=Established --timeout 60s -f "$CRDS"
    kubectl --context "kind-$HUB" apply -k "$OVERLAY"
    # A re-run with a rebuilt image under the same tag needs a new pod to pick it up.
    kubectl --context "kind-$HUB" -n "$NAMESPACE" rollout restart deployment/fleet-controller
    kubectl --context "kind-$HUB" -n "$NAMESPACE" rollout status deployment/fleet-controller --timeout 180s

    say "serving the example config repo from container $GIT_CONTAINER"
    mkdir -p "$WORK/git"
    local revision
    revision="$(in_image -m e2e.scenario write-repo /work/git | tail -n 1)"
    docker rm -f "$GIT_CONTAINER" >/dev/null 2>&1 || true
    docker run -d --name "$GIT_CONTAINER" --network "$NETWORK" --user "$(id -u):$(id -g)" \
        -e HOME=/tmp -v "$WORK/git:/srv/git:ro" --entrypoint git "$IMAGE" \
        daemon --reuseaddr --export-all --base-path=/srv/git --listen=0.0.0.0 --port=9418 /srv/git \
        >/dev/null
    local git_ip
    git_ip="$(docker inspect -f "{{(index .NetworkSettings.Networks \"$NETWORK\").IPAddress}}" "$GIT_CONTAINER")"
    [[ -n "$git_ip" ]] || die "container $GIT_CONTAINER has no address on network $NETWORK"
    local repo_url="git://$git_ip:9418/config.git"

    say "internal kubeconfigs (the addresses the controller and the scenario use on $NETWORK)"
    local member_args=()
    kind get kubeconfig --internal --name "$HUB" >"$WORK/$HUB.yaml"
    for name in "${MEMBERS[@]}"; do
        kind get kubeconfig --internal --name "$name" >"$WORK/$name.yaml"
        member_args+=(--member "$name=/work/$name.yaml")
    done

    say "running the scenario (repo $repo_url at ${revision:0:12}, timeout ${TIMEOUT}s)"
    in_image -m e2e.scenario run --hub-kubeconfig "/work/$HUB.yaml" "${member_args[@]}" \
        --repo-url "$repo_url" --expected-revision "$revision" --namespace "$NAMESPACE" \
        --timeout "$TIMEOUT"
    for name in "${MEMBERS[@]}"; do
        kubectl --context "kind-$name" -n fleet-e2e get configmaps,services
    done
    PASSED=1
    say "kind e2e passed"
}

main "$@"
