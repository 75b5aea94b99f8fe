#!/usr/bin/env bash
# Builds the client-go peer (benches/peers/client_go.go) into $1 with the Go toolchain and the
# Kubernetes source tree that scripts/install-control-plane.sh left in its build directory
# (client-go as vendored by Kubernetes 1.20). Exits 3 when that build directory is missing.
set -euo pipefail
out="$1"
WORK="${KUBESCALE_BUILD_DIR:-$HOME/.cache/kubescale/build/v1.20.2}"
go=$(ls -d "$WORK"/go/usr/lib/go-*/bin/go 2>/dev/null | head -n1 || true)
if [ -z "$go" ] || [ ! -d "$WORK/gopath/src/k8s.io/kubernetes/vendor/k8s.io/client-go" ]; then
    echo "no control-plane build directory with Go and the Kubernetes source at $WORK" >&2
    exit 3
fi
export GOROOT="$(dirname "$(dirname "$go")")" GOPATH="$WORK/gopath" GO111MODULE=off GOFLAGS="" CGO_ENABLED=0
export GOCACHE="$WORK/gocache"
pkg="$GOPATH/src/k8s.io/kubernetes/kubescalebenchpeer"
mkdir -p "$pkg"
cp "$(dirname "$0")/client_go.go" "$pkg/main.go"
cd "$pkg" && "$go" build -o "$out" .
