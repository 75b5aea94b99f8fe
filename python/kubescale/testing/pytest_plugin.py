"""pytest plugin: the ``kube_cluster`` and ``namespace`` fixtures. Opt-in, so that installing
kubescale changes no other project's test runs: enable it with ``pytest -p
kubescale.testing.pytest_plugin``, with ``addopts = ["-p", "kubescale.testing.pytest_plugin"]`` in
``[tool.pytest.ini_options]``, or with ``pytest_plugins = ["kubescale.testing.pytest_plugin"]``
in a top-level ``conftest.py``.

``kube_cluster`` (session) uses the cluster of ``$KUBESCALE_TEST_KUBECONFIG`` when set (as
``make test`` does), else starts a :class:`~kubescale.testing.LocalCluster` for the session.
``namespace`` creates a fresh namespace for one test and deletes it afterwards.

Under pytest-xdist each worker is a session of its own: without ``$KUBESCALE_TEST_KUBECONFIG``
every worker starts its own cluster, so tests in different workers never see each other's objects
(``pytest -n 4``); with it, all workers share that cluster.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from kubescale.testing.api import ClusterAPI, KubeconfigCluster
from kubescale.testing.cluster import LocalCluster


@pytest.fixture(scope="session")
def kube_cluster() -> Iterator[ClusterAPI]:
    """The cluster every test of the session talks to."""
    path = os.environ.get("KUBESCALE_TEST_KUBECONFIG")
    if path:
        yield KubeconfigCluster(path)
        return
    with LocalCluster() as cluster:
        yield cluster


@pytest.fixture
def namespace(kube_cluster: ClusterAPI) -> Iterator[str]:
    """A fresh namespace, deleted after the test."""
    name = kube_cluster.create_namespace()
    try:
        yield name
    finally:
        kube_cluster.delete_namespace(name)
