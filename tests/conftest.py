"""Fixtures shared by the test modules (``kube_cluster`` and ``namespace`` come from the
kubescale pytest plugin)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import kubescale
from kubescale.testing import ClusterAPI

from helpers import crd_manifest, install_crd, install_keda_crd


@pytest.fixture
def handler(kube_cluster: ClusterAPI) -> Iterator[kubescale.ScaleHandler]:
    """A blocking handler on the session's cluster."""
    with kubescale.ScaleHandler(kubeconfig=kube_cluster.kubeconfig_path) as h:
        yield h


@pytest.fixture(scope="session")
def widget_crd(kube_cluster: ClusterAPI) -> str:
    """A CRD `widgets.test.kubescale.io` (v1) with a scale subresource, max 10 replicas."""
    install_crd(kube_cluster, crd_manifest("widgets", "Widget", [("v1", True, True)], max_replicas=10))
    return "widgets.test.kubescale.io"


@pytest.fixture(scope="session")
def crds_installed(kube_cluster: ClusterAPI) -> None:
    with kubescale.ScaleHandler(kubeconfig=kube_cluster.kubeconfig_path) as h:
        assert h.install_crds() == ["elastiservices.elasti.truefoundry.com"]
        assert h.install_crds() == ["elastiservices.elasti.truefoundry.com"]  # idempotent
    install_keda_crd(kube_cluster)
