#!/usr/bin/env bash
# Install the local Kubernetes control plane used by the demo and every test.
#
# Idempotent. Builds kube-apiserver and kube-controller-manager 1.20.2 from
# Debian's `kubernetes` source package with Debian bullseye's Go 1.15 and puts
# them, with a link to Debian's etcd, into a cache outside the checkout:
#
#   ${KUBESCALE_CACHE:-$HOME/.cache/kubescale}/control-plane/v1.20.2/
#
# Go 1.15 is required: Kubernetes 1.20 vendors modern-go/reflect2 v1.0.1, which
# is broken on Go >= 1.18 (the server dies under load). The machine's apt
# sources are never edited: a private sources list and lists directory are
# passed to apt-get with -o options, and the Go packages are unpacked with
# `dpkg -x` into the cache, not installed.
set -euo pipefail

K8S_VERSION=1.20.2
CACHE="${KUBESCALE_CACHE:-$HOME/.cache/kubescale}"
DEST="$CACHE/control-plane/v$K8S_VERSION"
WORK="$CACHE/build/v$K8S_VERSION"
MIRROR="${KUBESCALE_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

log() { printf '[install-control-plane] %s\n' "$*" >&2; }

if [ -x "$DEST/kube-apiserver" ] && [ -x "$DEST/kube-controller-manager" ] && [ -x "$DEST/etcd" ]; then
    log "cached: $DEST"
    exit 0
fi

# --- system packages: etcd and build tools (one apt-get call for the whole set-up) ---------
bash "$(dirname "$0")/install-debian-packages.sh"

# --- private apt configuration -----------------------------------------------------------
APT="$WORK/apt"
mkdir -p "$APT/lists/partial" "$APT/sources.list.d" "$APT/archives/partial"
cat >"$APT/sources.list" <<EOF
deb-src [signed-by=$KEYRING] $MIRROR bookworm main
deb [signed-by=$KEYRING] $MIRROR bullseye main
EOF
apt_opts=(
    -o "Dir::Etc::SourceList=$APT/sources.list"
    -o "Dir::Etc::SourceParts=$APT/sources.list.d"
    -o "Dir::State::Lists=$APT/lists"
    -o "Dir::Cache::Archives=$APT/archives"
    -o "Debug::NoLocking=1"
    -o "APT::Sandbox::User=root"
)
if [ ! -f "$APT/updated" ]; then
    log "fetching package lists (bookworm sources, bullseye binaries)"
    apt-get "${apt_opts[@]}" update -qq
    touch "$APT/updated"
fi

# --- Go 1.15 from bullseye, unpacked into the cache -------------------------------------
GOROOT_DIR="$WORK/go"
if [ ! -x "$GOROOT_DIR/usr/lib/go-1.15/bin/go" ]; then
    log "downloading golang-1.15-go and golang-1.15-src (bullseye)"
    mkdir -p "$WORK/debs"
    (cd "$WORK/debs" && apt-get "${apt_opts[@]}" download golang-1.15-go golang-1.15-src)
    rm -rf "$GOROOT_DIR"
    mkdir -p "$GOROOT_DIR"
    for deb in "$WORK"/debs/golang-1.15-*.deb; do dpkg -x "$deb" "$GOROOT_DIR"; done
fi
export GOROOT="$GOROOT_DIR/usr/lib/go-1.15"
# golang-1.15-src installs the standard library under /usr/share/go-1.15; the GOROOT has links.
if [ ! -e "$GOROOT/src/runtime" ]; then
    for d in src test; do
        if [ -L "$GOROOT/$d" ] || [ ! -e "$GOROOT/$d" ]; then
            rm -f "$GOROOT/$d"
            ln -s "$GOROOT_DIR/usr/share/go-1.15/$d" "$GOROOT/$d"
        fi
    done
fi
export PATH="$GOROOT/bin:$PATH"
log "using $(go version)"

# --- Kubernetes source (bookworm) --------------------------------------------------------
SRC="$WORK/src"
if [ ! -f "$SRC/.unpacked" ]; then
    log "downloading the kubernetes source package (bookworm)"
    mkdir -p "$WORK/source"
    (cd "$WORK/source" && apt-get "${apt_opts[@]}" source --download-only kubernetes)
    rm -rf "$SRC"
    dsc=$(ls "$WORK"/source/kubernetes_*.dsc | head -n1)
    dpkg-source --no-check -x "$dsc" "$SRC" >/dev/null
    touch "$SRC/.unpacked"
fi

# --- build ---------------------------------------------------------------------------------
log "building kube-apiserver and kube-controller-manager (several minutes on 2 cores)"
export GOPATH="$WORK/gopath"
export GO111MODULE=off
export GOFLAGS=""
export CGO_ENABLED=0
export GOCACHE="$WORK/gocache"
# The compiler and the code generators collect garbage at a heap four times their live one,
# not twice: about a sixth less CPU for a few hundred MB more memory per compile.
export GOGC=400
mkdir -p "$GOPATH/src/k8s.io"
ln -sfn "$SRC" "$GOPATH/src/k8s.io/kubernetes"
# At a lower priority: beside the release wheel's build (`make demo` and `make test` run both),
# the wheel's compile takes the cores first and this build fills the core its last,
# single-threaded link leaves idle, so the two end sooner together. No DWARF is generated for
# any package (the binaries are stripped of it anyway).
(
    cd "$GOPATH/src/k8s.io/kubernetes"
    export KUBE_GIT_VERSION="v$K8S_VERSION" KUBE_GIT_TREE_STATE=clean KUBE_GIT_COMMIT=debian
    nice -n 10 make WHAT="cmd/kube-apiserver cmd/kube-controller-manager" KUBE_BUILD_PLATFORMS=linux/amd64 \
        GOLDFLAGS="-s -w" GOGCFLAGS="all=-dwarf=false" >"$WORK/build.log" 2>&1 ||
        { tail -n 60 "$WORK/build.log" >&2; exit 1; }
)
bin=$(dirname "$(find "$SRC/_output" -type f -name kube-apiserver | head -n1)")
mkdir -p "$DEST"
install -m 0755 "$bin/kube-apiserver" "$bin/kube-controller-manager" "$DEST/"
ln -sfn "$(command -v etcd)" "$DEST/etcd"
log "installed into $DEST"
