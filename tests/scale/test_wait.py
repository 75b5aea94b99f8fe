"""Waiting for replicas with a watch: reached, and timed out with the counts wanted and seen."""

from __future__ import annotations

import threading

import pytest

import kubescale
import kubescale.asyncio
from kubescale.testing import ClusterAPI

from helpers import (
    DEPLOY,
)


def test_wait_for_replicas_with_ready_pods(
    handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    kube_cluster.create_deployment(namespace, "web", 0)
    handler.scale("deploy/web", 3, namespace=namespace)
    marker_done = threading.Event()

    def kubelet() -> None:
        while not marker_done.is_set():
            if kube_cluster.mark_pods_ready(namespace, "app=web") >= 3:
                return
            marker_done.wait(0.2)

    t = threading.Thread(target=kubelet)
    t.start()
    try:
        scale = handler.wait_for_replicas("deploy/web", timeout=30, namespace=namespace)
    finally:
        marker_done.set()
        t.join()
    assert scale.spec_replicas == 3
    ready = kube_cluster.request("GET", DEPLOY.format(ns=namespace))["status"]["readyReplicas"]
    assert ready == 3


def test_wait_for_replicas_times_out_with_wanted_and_seen(
    handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    kube_cluster.create_deployment(namespace, "web", 2)  # pods never become ready
    with pytest.raises(kubescale.WaitTimeoutError) as err:
        handler.wait_for_replicas("deploy/web", timeout=1.5, namespace=namespace)
    assert isinstance(err.value, TimeoutError)
    assert err.value.wanted == 2 and err.value.seen == 0
    assert "wanted 2, seen 0" in str(err.value)
    # Not ready-based: status replicas reach 2 once the pods exist.
    assert (
        handler.wait_for_replicas("deploy/web", ready=False, timeout=30, namespace=namespace).status_replicas
        == 2
    )
