"""Testing helpers: a real local Kubernetes control plane and a pytest plugin.

``LocalCluster`` starts etcd, kube-apiserver and kube-controller-manager on loopback;
``python -m kubescale.testing up`` keeps one running for shell and notebook experiments;
the pytest plugin offers the ``kube_cluster`` and ``namespace`` fixtures.
"""

from kubescale.testing.api import ClusterAPI, ClusterAPIError, KubeconfigCluster
from kubescale.testing.cluster import ControlPlaneError, LocalCluster, MissingBinaryError, find_binary

__all__ = [
    "ClusterAPI",
    "ClusterAPIError",
    "ControlPlaneError",
    "KubeconfigCluster",
    "LocalCluster",
    "MissingBinaryError",
    "find_binary",
]
