#!/usr/bin/env bash
# Build the real kube-apiserver, kube-controller-manager and etcd from their Go modules into
# CACHE_DIR, and, from the same pinned module and Go build cache, the binaries the kind harness
# (e2e/kind) puts into its node and control-plane images: kubelet, kubeadm, kubectl,
# kube-scheduler, kube-proxy.
#
# Why from source: no binaries in git, no downloads outside the package registries (the Go module
# proxy serves both projects' sources), and the same result on any machine with Go >= 1.26.
# Debian's etcd-server (3.4) is too old for kube-apiserver 1.36, which wants etcd >= 3.5.
#
# Versions are pinned by the two modules beside this script (kube/go.mod, etcd/go.mod, each with
# its go.sum). A stamp file records what was built; a rerun with the same inputs only checks the
# stamp (well under a second). Usage: e2e/apiserver/build.sh CACHE_DIR   (e.g. .cache/bin)
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 CACHE_DIR" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
start=$(date +%s.%N)

elapsed() { awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }'; }

# The version a go.mod requires of module $1 (inside or outside a require block).
required() {
    awk -v m="$1" '$1 == m { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' "$2"
}
kube_version=$(required k8s.io/kubernetes "$here/kube/go.mod")
etcd_version=$(required go.etcd.io/etcd/server/v3 "$here/etcd/go.mod")
if [ -z "$kube_version" ] || [ -z "$etcd_version" ]; then
    echo "build.sh: cannot read the pinned versions from kube/go.mod and etcd/go.mod" >&2
    exit 1
fi

# One build at a time per CACHE_DIR (two `make test` runs may start together).
if command -v flock >/dev/null; then
    exec 9>"$out/.build.lock"
    flock 9
fi

inputs=$(cat "$here/kube/go.mod" "$here/kube/go.sum" "$here/etcd/go.mod" "$here/etcd/go.sum" \
    "$0" | sha256sum | cut -c1-16)
stamp="kube-apiserver $kube_version kube-controller-manager etcd $etcd_version"
stamp="$stamp $(uname -s)/$(uname -m) inputs $inputs"
node_tools="kubelet kubeadm kubectl kube-scheduler kube-proxy"
stamp="$stamp $node_tools"
have_all=1
for tool in kube-apiserver kube-controller-manager etcd $node_tools; do
    [ -x "$out/$tool" ] || have_all=0
done
if [ "$have_all" = 1 ] &&
    [ -f "$out/.kube-binaries.stamp" ] &&
    [ "$(cat "$out/.kube-binaries.stamp")" = "$stamp" ]; then
    echo "kube-apiserver $kube_version and etcd $etcd_version are up to date in $out ($(elapsed) s)"
    exit 0
fi
rm -f "$out/.kube-binaries.stamp"
command -v go >/dev/null || { echo "build.sh: go not found (Go >= 1.26 is needed)" >&2; exit 1; }

# Static binaries (no cgo), reproducible paths, no module downloads beyond go.sum's pins.
export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -mod=readonly"

major=${kube_version#v}
major=${major%%.*}
minor=${kube_version#v*.}
minor=${minor%%.*}
pkg=k8s.io/component-base/version
ldflags="-s -w -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
ldflags="$ldflags -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"

echo "building kube-apiserver $kube_version into $out ..."
(cd "$here/kube" && go build -trimpath -ldflags "$ldflags" -o "$out/.kube-apiserver.new" \
    k8s.io/kubernetes/cmd/kube-apiserver)
# The garbage collector, namespace and aggregation controllers: without them owner references
# and namespace deletion never take effect, which the contract suite checks on both backends.
echo "building kube-controller-manager $kube_version into $out ... ($(elapsed) s so far)"
(cd "$here/kube" && go build -trimpath -ldflags "$ldflags" -o "$out/.kube-controller-manager.new" \
    k8s.io/kubernetes/cmd/kube-controller-manager)
# One go build for the rest: it compiles their shared packages once, two at a time.
echo "building $node_tools $kube_version into $out ... ($(elapsed) s so far)"
rm -rf "$out/.node-tools.new" && mkdir "$out/.node-tools.new"
(cd "$here/kube" && go build -trimpath -ldflags "$ldflags" -o "$out/.node-tools.new/" \
    $(for tool in $node_tools; do printf 'k8s.io/kubernetes/cmd/%s ' "$tool"; done))
echo "building etcd $etcd_version into $out ... ($(elapsed) s so far)"
(cd "$here/etcd" && go build -trimpath -ldflags "-s -w" -o "$out/.etcd.new" \
    go.etcd.io/etcd/server/v3)

# Check what was built before it replaces anything.
got=$("$out/.kube-apiserver.new" --version)
[ "$got" = "Kubernetes $kube_version" ] || { echo "unexpected version: $got" >&2; exit 1; }
got=$("$out/.kube-controller-manager.new" --version)
[ "$got" = "Kubernetes $kube_version" ] || { echo "unexpected version: $got" >&2; exit 1; }
# Whole outputs are captured before they are matched: `cmd | grep -q` or `cmd | head` under
# pipefail fails at random with SIGPIPE (exit 141) when the reader exits before the writer is done.
got=$("$out/.etcd.new" --version)
case $'\n'"$got"$'\n' in
*$'\n'"etcd Version: ${etcd_version#v}"$'\n'*) ;;
*) echo "unexpected etcd version: $got" >&2; exit 1 ;;
esac

for tool in $node_tools; do
    case $tool in
    kubectl) got=$("$out/.node-tools.new/$tool" version --client) && got=${got%%$'\n'*} ;;
    kubeadm) got=$("$out/.node-tools.new/$tool" version -o short) ;;
    *) got=$("$out/.node-tools.new/$tool" --version) ;;
    esac
    case $got in
    *"$kube_version") ;;
    *) echo "unexpected $tool version: $got" >&2; exit 1 ;;
    esac
done
for tool in $node_tools; do mv -f "$out/.node-tools.new/$tool" "$out/$tool"; done
rmdir "$out/.node-tools.new"
mv -f "$out/.kube-apiserver.new" "$out/kube-apiserver"
mv -f "$out/.kube-controller-manager.new" "$out/kube-controller-manager"
mv -f "$out/.etcd.new" "$out/etcd"
echo "$stamp" >"$out/.kube-binaries.stamp"
echo "built kube-apiserver, kube-controller-manager $kube_version and etcd $etcd_version" \
    "in $out ($(elapsed) s)"
