"""Pausing and resuming KEDA ScaledObjects."""

from __future__ import annotations

import kubescale
import kubescale.asyncio
from kubescale.testing import ClusterAPI

from helpers import (
    crd_manifest,
    install_crd,
)


def test_keda_pause_and_resume(
    handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    manifest = crd_manifest("scaledobjects", "ScaledObject", [("v1alpha1", True, True)])
    manifest["metadata"]["name"] = "scaledobjects.keda.sh"
    manifest["spec"]["group"] = "keda.sh"
    manifest["spec"]["names"]["shortNames"] = ["so"]
    install_crd(kube_cluster, manifest)
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
