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
# One apt-get call for every package the set-up needs (it also stops the services they start).
bash "$(dirname "$0")/install-debian-packages.sh"
log "installed"
