"""The loop tests' handler."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import kubescale
from kubescale.testing import ClusterAPI

from helpers import AsyncFlagScaler, FlagScaler


@pytest.fixture
def loop_handler(
    kube_cluster: ClusterAPI, namespace: str, crds_installed: None
) -> Iterator[kubescale.ScaleHandler]:
    """A handler on the test's namespace with the ``flag`` and ``async-flag`` test scalers."""
    with kubescale.ScaleHandler(namespace, kubeconfig=kube_cluster.kubeconfig_path) as h:
        h.register_scaler("flag", FlagScaler)
        h.register_scaler("async-flag", AsyncFlagScaler)
        yield h
