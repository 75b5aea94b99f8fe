"""The examples run against the local cluster."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from kubescale.testing import ClusterAPI

from helpers import DEPLOY, ROOT, create_es, elasti_service, spec_replicas

EXAMPLES = ROOT / "examples"


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


def run_example(cluster: ClusterAPI, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "KUBECONFIG": cluster.kubeconfig_path},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_quickstart(kube_cluster: ClusterAPI, namespace: str) -> None:
    kube_cluster.create_deployment(namespace, "web", 1)
    out = run_example(kube_cluster, str(EXAMPLES / "quickstart.py"), "deployment/web", "-n", namespace)
    assert "deployment/web is a Deployment (apps/v1), scalable: True" in out
    assert "scale: 1 -> 3" in out
    assert "scale_to_zero: 3 -> 0" in out and "scale_from_zero: 0 -> 3 (restored)" in out
    assert "event: Normal SuccessToScale x1: Scaled deployment.apps/web from 0 to 3 replicas" in out


def test_async_fanout(kube_cluster: ClusterAPI, namespace: str) -> None:
    for i in range(100):
        kube_cluster.create_deployment(namespace, f"web-{i}", 1)
    out = run_example(kube_cluster, str(EXAMPLES / "async_fanout.py"), "-n", namespace, "--count", "100")
    assert "scaled 100 targets (100 changed) to 2" in out
    assert all(
        spec_replicas(kube_cluster, namespace, f"/apis/apps/v1/namespaces/{{ns}}/deployments/web-{i}") == 2
        for i in (0, 57, 99)
    )


def test_python_scaler_example(
    kube_cluster: ClusterAPI, namespace: str, crds_installed: None, tmp_path: Path
) -> None:
    kube_cluster.create_deployment(namespace, "web", 2)
    backlog = tmp_path / "backlog"
    es = elasti_service("web", "unused", trigger_type="working-hours")
    # Working hours that never match, and an empty backlog: zero is allowed.
    es["spec"]["triggers"][0]["metadata"] = {"start": "0", "end": "0", "backlog": str(backlog)}
    create_es(kube_cluster, namespace, es)
    out = run_example(
        kube_cluster, str(EXAMPLES / "python_scaler.py"), "-n", namespace, "--passes", "1", "--interval", "0"
    )
    assert f"pass 0: {namespace}/web: scale_down" in out
    assert spec_replicas(kube_cluster, namespace, DEPLOY) == 0
    backlog.write_text("42 jobs")
    out = run_example(
        kube_cluster, str(EXAMPLES / "python_scaler.py"), "-n", namespace, "--passes", "1", "--interval", "0"
    )
    assert f"pass 0: {namespace}/web: scale_up" in out
    assert spec_replicas(kube_cluster, namespace, DEPLOY) == 2


def test_quickstart_notebook(
    kube_cluster: ClusterAPI, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nbformat
    from nbclient import NotebookClient

    kube_cluster.create_deployment(namespace, "web", 1)
    monkeypatch.setenv("KUBECONFIG", kube_cluster.kubeconfig_path)
    monkeypatch.setenv("NAMESPACE", namespace)
    nb = nbformat.read(EXAMPLES / "quickstart.ipynb", as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()

    def text(cell: Any) -> str:
        parts = []
        for o in cell.outputs:
            parts.append(o.get("text", ""))
            parts.append(o.get("data", {}).get("text/plain", ""))
            parts.append(o.get("data", {}).get("text/html", ""))
        return "".join(parts)

    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(o.output_type != "error" for c in code for o in c.outputs)
    assert "ScaleHandler(server=" in text(code[0])
    assert "Deployment" in text(code[1]) and "StatefulSet" in text(code[1])
    assert "<table>" in text(code[2]) and "changed" in text(code[2])  # rendered as an HTML table
    assert "3/3 replicas exist" in text(code[3])
    assert "SuccessToScale Scaled deployment.apps/web from 1 to 3 replicas" in text(code[4])
    assert "to zero: 3 -> 0; back: 0 -> 3" in text(code[5])
    assert "spec replicas" in text(code[6])
    assert "<table>" in text(code[7]) and "scaled from 3 to 0" in text(code[7])  # the namespace slept
    assert "ScaleBatch(1 targets: 1 changed, 0 unchanged, 0 failed)" in text(code[8])
    assert "['web: 3']" in text(code[9])  # the woken batch, waited for with one progress bar
