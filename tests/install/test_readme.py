"""Every Python example of README.md runs, as written, against the local cluster (the context's
namespace is a fresh one holding the objects the examples name)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from kubescale.testing import ClusterAPI

from helpers import DEPLOY, ROOT, create_es, elasti_service, spec_replicas

README = ROOT / "README.md"


def examples() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def run_example(block: str, env: dict[str, str]) -> str:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", block], env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"{block}\n{done.stdout}\n{done.stderr}"
    print(f"example ran in {time.monotonic() - started:.1f}s")
    return done.stdout


def test_every_readme_example_runs(kube_cluster: ClusterAPI, namespace: str, tmp_path: Path) -> None:
    blocks = examples()
    assert len(blocks) == 3, "the README's examples changed: update this test's set-up"
    kube_cluster.create_deployment(namespace, "web", 1)
    for i in range(100):
        kube_cluster.create_deployment(namespace, f"web-{i}", 1)
    es = elasti_service("queue-web", "unused", target="web", trigger_type="queue")
    es["spec"]["triggers"][0]["metadata"] = {"queue": "jobs"}
    create_es(kube_cluster, namespace, es)
    # A kubeconfig whose context's namespace is the test's: the examples name none.
    config = json.loads(Path(kube_cluster.kubeconfig_path).read_text())
    for c in config["contexts"]:
        c["context"]["namespace"] = namespace
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(config))
    env = {**os.environ, "KUBECONFIG": str(path)}
    # The kubelet's part: pods become ready (wait_for_replicas waits for them).
    stop = threading.Event()

    def kubelet() -> None:
        while not stop.is_set():
            kube_cluster.mark_pods_ready(namespace, "app=web")
            time.sleep(0.3)

    ready = threading.Thread(target=kubelet, daemon=True)
    ready.start()
    outputs = []
    try:
        for block in blocks:
            outputs.append(run_example(block, env))
    finally:
        stop.set()
        ready.join()
    assert "previous=1, replicas=3" in outputs[0] and "SuccessToScale" in outputs[0], outputs[0]
    assert spec_replicas(kube_cluster, namespace, DEPLOY) == 3
    assert spec_replicas(kube_cluster, namespace, DEPLOY.replace("/web", "/web-99")) == 2
    assert "scale_down" in outputs[2], outputs[2]
