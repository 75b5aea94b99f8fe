"""What the loop benches share: their Deployments and ElastiServices, and reading a metric."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kubescale.testing import LocalCluster


def elasti_service(name: str, *, cooldown: int, trigger: str, metadata: dict[str, str]) -> dict[str, Any]:
    """An ElastiService ``name`` for the Deployment of the same name, with one trigger."""
    return {
        "apiVersion": "elasti.truefoundry.com/v1alpha1",
        "kind": "ElastiService",
        "metadata": {"name": name},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "service": name,
            "cooldownPeriod": cooldown,
            "minTargetReplicas": 1,
            "triggers": [{"type": trigger, "metadata": metadata}],
        },
    }


def create_service(cluster: LocalCluster, ns: str, service: dict[str, Any]) -> None:
    """Creates the ElastiService ``service`` in ``ns``."""
    cluster.request("POST", f"/apis/elasti.truefoundry.com/v1alpha1/namespaces/{ns}/elastiservices", service)


def create_services(
    cluster: LocalCluster, ns: str, n: int, *, replicas: int, cooldown: int, trigger: str
) -> None:
    """Deployments ``w0``..``w{n-1}`` at ``replicas``, each with an ElastiService of the same
    name whose one trigger is of type ``trigger`` (empty metadata)."""

    def deployment(i: int) -> None:
        cluster.create_deployment(ns, f"w{i}", replicas)

    def service(i: int) -> None:
        create_service(cluster, ns, elasti_service(f"w{i}", cooldown=cooldown, trigger=trigger, metadata={}))

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(deployment, range(n)))
        list(pool.map(service, range(n)))


def metric(text: str, name: str) -> float:
    """The value of the first sample named ``name`` (with its labels, if any) in Prometheus
    text, or 0."""
    m = re.search(rf"^{re.escape(name)} (\S+)", text, re.M)
    return float(m.group(1)) if m else 0.0
