"""examples/rbac.yaml is sufficient, and kubescale behaves under RBAC: forbidden namespaces raise
ForbiddenError, a missing Events permission never fails a scale."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import yaml

import kubescale
from kubescale.testing import ClusterAPI

from helpers import (
    DEPLOY,
    Idle,
    create_es,
    elasti_service,
    scaler_role_kubeconfig,
    service_account_kubeconfig,
    spec_replicas,
)
from helpers.accounts import RBAC, apply
from helpers.logs import capture_kubescale_logs


def test_rbac_example_is_sufficient_and_namespaced(
    kube_cluster: ClusterAPI, namespace: str, crds_installed: None, tmp_path: Path
) -> None:
    docs = list(yaml.safe_load_all(RBAC.read_text()))
    apply(kube_cluster, namespace, [d for d in docs if d])
    other = kube_cluster.create_namespace()
    try:
        kube_cluster.create_deployment(namespace, "web", 2)
        kube_cluster.create_deployment(other, "web", 2)
        kube_cluster.create_deployment(namespace, "looped", 2)
        kubeconfig = service_account_kubeconfig(kube_cluster, namespace, "kubescale", tmp_path)
        with kubescale.ScaleHandler(kubeconfig=kubeconfig) as h:
            assert h.scale("deploy/web", 3, namespace=namespace).changed
            assert h.scale_to_zero("deploy/web", namespace=namespace).previous == 3
            assert h.scale_from_zero("deploy/web", namespace=namespace).replicas == 3
            assert h.events("deploy/web", namespace=namespace)
            with pytest.raises(kubescale.ForbiddenError) as err:
                h.scale("deploy/web", 3, namespace=other)
            assert err.value.status == 403 and isinstance(err.value, PermissionError)
            assert spec_replicas(kube_cluster, other, DEPLOY) == 2
        with kubescale.ScaleHandler(namespace, kubeconfig=kubeconfig) as h:
            h.register_scaler("idle", Idle)
            es = elasti_service("looped", "unused", target="looped", trigger_type="idle")
            create_es(kube_cluster, namespace, es)
            decisions = h.check_and_scale()
            assert [(d.name, d.direction, d.error) for d in decisions] == [("looped", "scale_down", None)]
            assert (
                spec_replicas(kube_cluster, namespace, "/apis/apps/v1/namespaces/{ns}/deployments/looped")
                == 0
            )
    finally:
        kube_cluster.delete_namespace(other)


def test_missing_events_permission_does_not_fail_a_scale(
    kube_cluster: ClusterAPI, namespace: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def drop_events(rules: list[dict[str, Any]]) -> None:
        rules[:] = [r for r in rules if "events.k8s.io" not in r["apiGroups"]]

    kubeconfig = scaler_role_kubeconfig(kube_cluster, namespace, "no-events", tmp_path, drop_events)
    kube_cluster.create_deployment(namespace, "web", 1)
    capture_kubescale_logs(caplog, logging.WARNING)
    with kubescale.ScaleHandler(namespace, kubeconfig=kubeconfig) as h:
        assert h.scale("deploy/web", 2).changed
    assert spec_replicas(kube_cluster, namespace, DEPLOY) == 2
    assert any("could not record an event" in r.getMessage() for r in caplog.records)


def test_update_without_patch_on_scale_still_scales(
    kube_cluster: ClusterAPI, namespace: str, tmp_path: Path
) -> None:
    # Roles written for other tools often grant get and update on */scale, not patch.
    def update_only(rules: list[dict[str, Any]]) -> None:
        for rule in rules:
            if any(r.endswith("/scale") for r in rule["resources"]):
                rule["verbs"] = ["get", "update"]

    kubeconfig = scaler_role_kubeconfig(kube_cluster, namespace, "update-only", tmp_path, update_only)
    kube_cluster.create_deployment(namespace, "web", 1)
    with kubescale.ScaleHandler(namespace, kubeconfig=kubeconfig) as h:
        assert h.scale("deploy/web", 2).changed
        assert h.scale_to_zero("deploy/web").previous == 2
        assert h.scale_from_zero("deploy/web").replicas == 2
    assert spec_replicas(kube_cluster, namespace, DEPLOY) == 2


def test_patch_without_update_on_scale_scales_every_time(
    kube_cluster: ClusterAPI, namespace: str, tmp_path: Path
) -> None:
    # What `kubectl scale` needs: get and patch on */scale, no update. Every write is a patch,
    # the repeated change on top of a scale seen before included.
    def patch_only(rules: list[dict[str, Any]]) -> None:
        for rule in rules:
            if any(r.endswith("/scale") for r in rule["resources"]):
                rule["verbs"] = ["get", "patch"]

    kubeconfig = scaler_role_kubeconfig(kube_cluster, namespace, "patch-only", tmp_path, patch_only)
    kube_cluster.create_deployment(namespace, "web", 1)
    with kubescale.ScaleHandler(namespace, kubeconfig=kubeconfig) as h:
        for n in (2, 3, 4, 1):
            assert h.scale("deploy/web", n).replicas == n
        assert h.scale_to_zero("deploy/web").previous == 1
        assert h.scale_from_zero("deploy/web").replicas == 1
        assert h.scale("deploy/web", 5, dry_run=True).reason.startswith("dry run")
    assert spec_replicas(kube_cluster, namespace, DEPLOY) == 1


def test_the_rbac_example_is_enough_for_a_sharded_run(
    kube_cluster: ClusterAPI, namespace: str, crds_installed: None, tmp_path: Path
) -> None:
    import threading
    import time

    apply(kube_cluster, namespace, [d for d in yaml.safe_load_all(RBAC.read_text()) if d])
    kubeconfig = service_account_kubeconfig(kube_cluster, namespace, "kubescale", tmp_path)
    kube_cluster.create_deployment(namespace, "web", 2)
    create_es(kube_cluster, namespace, elasti_service("web", "unused", trigger_type="idle"))
    with kubescale.ScaleHandler(namespace, kubeconfig=kubeconfig) as h:
        h.register_scaler("idle", Idle)
        loop = threading.Thread(
            target=h.run, kwargs={"polling_interval": 0.5, "shards": 3, "lease_duration": 3}
        )
        loop.start()
        deadline = time.monotonic() + 30
        while spec_replicas(kube_cluster, namespace, DEPLOY) != 0:
            assert time.monotonic() < deadline and loop.is_alive(), "the sharded run did not scale to zero"
            time.sleep(0.2)
        h.close()
        loop.join(20)
    leases = kube_cluster.request("GET", f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases")[
        "items"
    ]
    names = sorted(x["metadata"]["name"] for x in leases)
    # Three shard Leases, released; the membership Lease deleted on the way out.
    assert names == [f"kubescale-scale-to-zero-{i}" for i in range(3)], names
    assert not [x for x in leases if x["spec"].get("holderIdentity")]
