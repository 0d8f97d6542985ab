#!/usr/bin/env bash
# Build kustomize and helm from their Go modules into CACHE_DIR, for fleet's renderers.
#
# Why from source: no binaries in git and no downloads outside the Go module proxy (the only
# registry reachable from the build machines). `go install module/cmd@version` pins each tool
# exactly (its own go.mod and go.sum). kustomize v5.8.2+ needs Go 1.27, so v5.8.1 (Go 1.24).
#
# A stamp file records the versions built; a rerun with the same versions and script only checks
# the stamp. Usage: tools/render-binaries/build.sh CACHE_DIR   (e.g. .cache/bin)
set -euo pipefail

KUSTOMIZE_VERSION=v5.8.1
HELM_VERSION=v3.22.0

if [ $# -ne 1 ]; then
    echo "usage: $0 CACHE_DIR" >&2
    exit 2
fi
mkdir -p "$1"
out=$(cd "$1" && pwd)
start=$(date +%s.%N)
elapsed() { awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }'; }

# One build at a time per CACHE_DIR.
if command -v flock >/dev/null; then
    exec 9>"$out/.render-build.lock"
    flock 9
fi

script_sum=$(sha256sum "$0" | cut -c1-16)
stamp="kustomize $KUSTOMIZE_VERSION helm $HELM_VERSION $(uname -s)/$(uname -m) script $script_sum"
if [ -x "$out/kustomize" ] && [ -x "$out/helm" ] && [ -f "$out/.render-binaries.stamp" ] &&
    [ "$(cat "$out/.render-binaries.stamp")" = "$stamp" ]; then
    echo "kustomize $KUSTOMIZE_VERSION and helm $HELM_VERSION are up to date in $out ($(elapsed) s)"
    exit 0
fi
rm -f "$out/.render-binaries.stamp"
command -v go >/dev/null || { echo "build.sh: go not found (Go >= 1.26 is needed)" >&2; exit 1; }

# Static binaries; trimpath for reproducible output; the proxy only (no VCS fallback).
export CGO_ENABLED=0 GOBIN="$out" GOFLAGS="-trimpath" GOPROXY="${GOPROXY:-https://proxy.golang.org}"

echo "building kustomize $KUSTOMIZE_VERSION ..."
go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
echo "kustomize done ($(elapsed) s); building helm $HELM_VERSION ..."
# helm's version string comes from ldflags in its Makefile; set the same variable here so
# `helm version` reports the pinned release rather than a placeholder.
go install -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"

"$out/kustomize" version >/dev/null
"$out/helm" version --short >/dev/null
echo "$stamp" >"$out/.render-binaries.stamp"
echo "built kustomize $KUSTOMIZE_VERSION and helm $HELM_VERSION into $out in $(elapsed) s"
