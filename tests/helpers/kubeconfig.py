"""A kubeconfig for a server that is not a cluster: for the unit layer's calls that must fail, or
wait, before any answer."""

from __future__ import annotations

import json
from pathlib import Path


def write_kubeconfig(path: Path, server: str) -> Path:
    """Writes to ``path`` a kubeconfig whose one context is ``server`` with a token, TLS
    verification off and namespace ``dev``; returns ``path``."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server, "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u", "namespace": "dev"}}],
        "current-context": "x",
    }
    path.write_text(json.dumps(config))
    return path
