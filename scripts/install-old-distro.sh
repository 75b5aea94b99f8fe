#!/usr/bin/env bash
# Builds the older Linux the wheel is tested on: a Debian 11 "bullseye" root (glibc 2.31,
# CPython 3.9.2) made with debootstrap, cached outside the checkout:
#
#   ${KUBESCALE_CACHE:-$HOME/.cache/kubescale}/roots/debian-bullseye/
#
# Idempotent (about two minutes the first time). Installs Debian's debootstrap if missing; the
# machine's apt sources are not touched.
set -euo pipefail

SUITE=bullseye
CACHE="${KUBESCALE_CACHE:-$HOME/.cache/kubescale}"
DEST="$CACHE/roots/debian-$SUITE"
MIRROR="${KUBESCALE_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
log() { printf '[install-old-distro] %s\n' "$*" >&2; }

if [ -x "$DEST/usr/bin/python3" ] && [ -f "$DEST/.complete" ]; then
    log "cached: $DEST ($("$DEST/usr/bin/python3" --version 2>/dev/null || echo python3))"
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
if ! command -v debootstrap >/dev/null 2>&1; then
    log "installing Debian packages: debootstrap"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi
rm -rf "$DEST.partial"
mkdir -p "$(dirname "$DEST")"
log "debootstrap $SUITE into $DEST (minbase, python3, python3-venv)"
$SUDO debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    "$SUITE" "$DEST.partial" "$MIRROR" >"$CACHE/roots/debootstrap-$SUITE.log" 2>&1 || {
    tail -20 "$CACHE/roots/debootstrap-$SUITE.log" >&2
    exit 1
}
touch "$DEST.partial/.complete"
rm -rf "$DEST"
mv "$DEST.partial" "$DEST"
log "ready: $DEST"
