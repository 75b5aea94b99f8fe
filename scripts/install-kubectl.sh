#!/usr/bin/env bash
# Make sure `kubectl` (with its built-in kustomize) is on PATH: the deploy/ manifests are
# rendered with `kubectl kustomize` and applied with `kubectl apply` in the tests. Uses the
# machine's kubectl when there is one; else installs Debian's `kubernetes-client`.
set -euo pipefail
log() { printf '[install-kubectl] %s\n' "$*" >&2; }
if command -v kubectl >/dev/null 2>&1; then
    log "present: $(command -v kubectl)"
    exit 0
fi
bash "$(dirname "$0")/install-debian-packages.sh"
command -v kubectl >/dev/null 2>&1 || { log "kubectl is still missing"; exit 1; }
log "installed: $(command -v kubectl)"
