#!/usr/bin/env bash
# Installs Debian's Prometheus server and Pushgateway, which the tests of the built-in Prometheus
# scaler start on free loopback ports (their system services are not used). Idempotent.
set -euo pipefail
log() { printf '[install-prometheus] %s\n' "$*" >&2; }

need=()
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus-pushgateway >/dev/null 2>&1 || need+=(prometheus-pushgateway)
if [ "${#need[@]}" -eq 0 ]; then
    log "present: $(command -v prometheus) $(command -v prometheus-pushgateway)"
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
log "installing Debian packages: ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The packages' own services are not wanted here (the tests start their own instances).
if command -v systemctl >/dev/null 2>&1; then
    for s in prometheus prometheus-pushgateway prometheus-node-exporter; do
        $SUDO systemctl stop "$s" >/dev/null 2>&1 || true
    done
fi
log "installed"
