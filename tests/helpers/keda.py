"""KEDA's CRD and ScaledObjects (no KEDA operator: only the objects kubescale annotates)."""

from __future__ import annotations

from kubescale.testing import ClusterAPI

from helpers.workloads import crd_manifest, install_crd


def install_keda_crd(cluster: ClusterAPI) -> None:
    """KEDA's ScaledObject CRD (just the CRD: no KEDA operator runs)."""
    manifest = crd_manifest("scaledobjects", "ScaledObject", [("v1alpha1", True, True)])
    manifest["metadata"]["name"] = "scaledobjects.keda.sh"
    manifest["spec"]["group"] = "keda.sh"
    manifest["spec"]["names"]["shortNames"] = ["so"]
    spec = manifest["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec["properties"]["scaleTargetRef"] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    install_crd(cluster, manifest)


def create_scaled_object(cluster: ClusterAPI, ns: str, name: str) -> None:
    cluster.request(
        "POST",
        f"/apis/keda.sh/v1alpha1/namespaces/{ns}/scaledobjects",
        {
            "apiVersion": "keda.sh/v1alpha1",
            "kind": "ScaledObject",
            "metadata": {"name": name, "annotations": {"mine": "kept"}},
        },
    )


def annotations_of(cluster: ClusterAPI, path: str) -> dict[str, str]:
    return dict(cluster.request("GET", path)["metadata"].get("annotations", {}))
