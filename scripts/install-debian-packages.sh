#!/usr/bin/env bash
# Installs, in one apt-get call, the Debian packages that the other install scripts need:
# etcd and the control plane's build tools, Prometheus and its Pushgateway, kubectl, debootstrap.
#
# Idempotent: a package is asked for only when its command is missing. Running it first lets the
# other scripts (make control-plane, prometheus, kubectl, old-distro) run side by side: none of
# them then needs apt, whose lock allows one installer at a time.
set -euo pipefail
log() { printf '[install-debian-packages] %s\n' "$*" >&2; }

need=()
want() { command -v "$1" >/dev/null 2>&1 || need+=("$2"); }
want etcd etcd-server
want dpkg-source dpkg-dev
want make make
want rsync rsync
want openssl openssl
want prometheus prometheus
want prometheus-pushgateway prometheus-pushgateway
want promtool prometheus
want kubectl kubernetes-client
want debootstrap debootstrap
[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || need+=(debian-archive-keyring)
if [ "${#need[@]}" -eq 0 ]; then
    log "present"
    exit 0
fi
mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
log "installing: ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The packages start system services (etcd on 2379, Prometheus on 9090); tests run their own.
if command -v systemctl >/dev/null 2>&1; then
    for s in etcd prometheus prometheus-pushgateway prometheus-node-exporter; do
        $SUDO systemctl stop "$s" >/dev/null 2>&1 || true
    done
fi
log "installed"
