"""Every Python example of README.md runs, as written, against the local cluster (the context's
namespace is a fresh one holding the objects the examples name)."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kubescale.testing import ClusterAPI

from helpers import DEPLOY, ROOT, create_es, elasti_service, spec_replicas
from helpers.prometheus import LocalPrometheus, openmetrics

README = ROOT / "README.md"


def examples() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def run_example(block: str, env: dict[str, str]) -> str:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", block], env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"{block}\n{done.stdout}\n{done.stderr}"
    print(f"example ran in {time.monotonic() - started:.1f}s")
    return done.stdout


def week_of_history() -> str:
    """A week and two hours of one sample a minute: ``requests`` busy (5) for the first half of
    the week, idle (0) since; ``up`` 1 throughout (the trigger's health)."""
    now = int(time.time()) // 60 * 60
    times = [now + m * 60 for m in range(-(7 * 24 + 2) * 60, 0)]
    idle_from = now - int(3.5 * 24 * 3600)
    return openmetrics(
        {
            'up{container="prometheus",job="history"}': [(t, 1.0) for t in times],
            'requests{job="history"}': [(t, 5.0 if t < idle_from else 0.0) for t in times],
        }
    )


@pytest.mark.usefixtures("crds_installed")
def test_every_readme_example_runs(kube_cluster: ClusterAPI, namespace: str, tmp_path: Path) -> None:
    blocks = examples()
    assert len(blocks) == 4, "the README's examples changed: update this test's set-up"
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
        for block in blocks[:3]:
            outputs.append(run_example(block, env))
    finally:
        stop.set()
        ready.join()
    # The replay example: ElastiService "web" with a Prometheus trigger whose server has a week
    # of history (created after the dry run above, which would otherwise decide it too).
    with LocalPrometheus(history=week_of_history()) as prom:
        web = elasti_service("web", "unused", target="web", cooldown=900)
        trigger = {"serverAddress": prom.url, "query": "requests", "threshold": "1"}
        web["spec"]["triggers"] = [{"type": "prometheus", "metadata": trigger}]
        create_es(kube_cluster, namespace, web, age=False)
        outputs.append(run_example(blocks[3], env))
    assert "previous=1, replicas=3" in outputs[0] and "SuccessToScale" in outputs[0], outputs[0]
    assert spec_replicas(kube_cluster, namespace, DEPLOY) == 3
    assert spec_replicas(kube_cluster, namespace, DEPLOY.replace("/web", "/web-99")) == 2
    assert "scale_down" in outputs[2], outputs[2]
    # Idle for the second half of the week: at zero for about half of it, never called up at 0.
    fraction, cold_starts = outputs[3].splitlines()[0].split()
    assert 0.45 < float(fraction) < 0.5 and cold_starts == "0", outputs[3]
    compared = ast.literal_eval(outputs[3].splitlines()[1])
    assert list(compared) == ["as stored", "cooldown=5m"], compared
    # A shorter cooldown reaches zero sooner: more time there.
    assert compared["cooldown=5m"]["fraction_at_zero"] > compared["as stored"]["fraction_at_zero"], compared
