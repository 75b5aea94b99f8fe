"""The examples run against the local cluster."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from kubescale.testing import ClusterAPI

from helpers import DEPLOY, create_es, elasti_service, spec_replicas

EXAMPLES = Path(__file__).parent.parent / "examples"


def test_kopf_operator_takes_a_target_to_zero_and_back(
    kube_cluster: ClusterAPI, namespace: str, crds_installed: None, tmp_path: Path
) -> None:
    kube_cluster.create_deployment(namespace, "web", 2)
    load = tmp_path / "web-load"
    load.write_text("0")
    es = elasti_service("web", "unused", trigger_type="file-metric")
    es["spec"]["triggers"][0]["metadata"] = {"path": str(load), "threshold": "1"}
    create_es(kube_cluster, namespace, es)
    kopf = shutil.which("kopf", path=str(Path(sys.executable).parent))
    assert kopf is not None, "kopf is installed by requirements-dev.txt"
    proc = subprocess.Popen(
        [kopf, "run", "--standalone", "--namespace", namespace, str(EXAMPLES / "kopf_operator.py")],
        env={**os.environ, "KUBECONFIG": kube_cluster.kubeconfig_path, "KUBESCALE_TICK": "0.5"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def wait_replicas(n: int) -> None:
        deadline = time.monotonic() + 60
        while spec_replicas(kube_cluster, namespace, DEPLOY) != n:
            assert proc.poll() is None, proc.communicate()[0][-3000:]
            assert time.monotonic() < deadline, f"the operator did not reach {n} replicas"
            time.sleep(0.2)

    try:
        wait_replicas(0)
        load.write_text("5")
        wait_replicas(2)  # back to the remembered count
    finally:
        proc.terminate()
        out = proc.communicate(timeout=30)[0]
    assert "scale_down" in out and "scale_up" in out
