"""Pausing and resuming KEDA ScaledObjects."""

from __future__ import annotations

import kubescale
import kubescale.asyncio
from kubescale.testing import ClusterAPI

from helpers import install_keda_crd


def test_keda_pause_and_resume(
    handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    install_keda_crd(kube_cluster)
    path = f"/apis/keda.sh/v1alpha1/namespaces/{namespace}/scaledobjects"
    kube_cluster.request(
        "POST",
        path,
        {
            "apiVersion": "keda.sh/v1alpha1",
            "kind": "ScaledObject",
            "metadata": {"name": "so", "annotations": {"mine": "kept"}},
        },
    )

    def annotations() -> dict[str, str]:
        return dict(kube_cluster.request("GET", f"{path}/so")["metadata"].get("annotations", {}))

    assert handler.pause_keda("so", namespace=namespace) is True
    assert annotations() == {
        "mine": "kept",
        "autoscaling.keda.sh/paused": "true",
        "autoscaling.keda.sh/paused-replicas": "0",
    }
    assert handler.pause_keda("so", namespace=namespace) is False  # already paused: no write
    assert handler.resume_keda("so", namespace=namespace) is True
    assert annotations() == {"mine": "kept", "autoscaling.keda.sh/paused": "false"}
    assert handler.resume_keda("so", namespace=namespace) is False
