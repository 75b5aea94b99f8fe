"""The kubescale demo: a Deployment scaled 3 -> 0 -> 3 through the Python API, with the Events
it recorded. Run with ``make demo`` (which starts a local cluster), or against any cluster with
``KUBECONFIG`` set (it creates and deletes a namespace of its own).
"""

from __future__ import annotations

import os
import time

import kubescale
from kubescale.testing import KubeconfigCluster


def mark_ready(cluster: KubeconfigCluster, ns: str, count: int) -> None:
    """Plays the kubelet: marks the Deployment's pods ready once they exist."""
    deadline = time.monotonic() + 30
    while cluster.mark_pods_ready(ns, "app=web") < count and time.monotonic() < deadline:
        time.sleep(0.2)


def main() -> None:
    cluster = KubeconfigCluster(os.environ["KUBECONFIG"])
    ns = cluster.create_namespace()
    try:
        cluster.create_deployment(ns, "web", replicas=3)
        with kubescale.ScaleHandler(namespace=ns) as handler:
            print(f"connected: {handler!r}")
            print(f"resolved 'deploy': {handler.resolve('deploy')!r}")
            mark_ready(cluster, ns, 3)
            scale = handler.wait_for_replicas("deploy/web", timeout=60)
            print(f"start:            spec={scale.spec_replicas} ready pods={scale.status_replicas}")

            result = handler.scale_to_zero("deploy/web")
            print(f"scale_to_zero:    {result.previous} -> {result.replicas} ({result.reason})")
            scale = handler.wait_for_replicas("deploy/web", 0, timeout=60)
            print(f"                  spec={scale.spec_replicas} pods={scale.status_replicas}")

            result = handler.scale_from_zero("deploy/web")
            print(f"scale_from_zero:  {result.previous} -> {result.replicas} ({result.reason})")
            mark_ready(cluster, ns, 3)
            scale = handler.wait_for_replicas("deploy/web", timeout=60)
            print(f"                  spec={scale.spec_replicas} ready pods={scale.status_replicas}")

        events = cluster.request("GET", f"/apis/events.k8s.io/v1/namespaces/{ns}/events")["items"]
        print("events recorded by kubescale:")
        ours = [e for e in events if e.get("reportingController") == "kubescale"]
        for ev in sorted(ours, key=lambda e: e["eventTime"]):
            count = (ev.get("series") or {}).get("count", 1)
            print(f"  {ev['type']:7} {ev['reason']:15} x{count} {ev['note']}")
    finally:
        cluster.delete_namespace(ns)


if __name__ == "__main__":
    main()
