"""Scale semantics against the local cluster: no-ops, spec not status, at_least, dry runs,
competing writers, concurrency, to zero and back."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import kubescale
import kubescale.asyncio
from kubescale.testing import ClusterAPI, LocalCluster

from helpers import (
    DEPLOY,
    assert_serialised,
    competing_writer,
    create_widget,
    events_for,
    spec_replicas,
)
from helpers.metrics import requests


def test_noop_and_previous(
    handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str, widget_crd: str
) -> None:
    # A Widget has no controller, so its resourceVersion moves only when someone writes.
    create_widget(kube_cluster, namespace, "w", 2)
    rv = handler.get_scale("widget/w", namespace=namespace).resource_version
    same = handler.scale("widget/w", 2, namespace=namespace)
    assert (same.previous, same.replicas, same.changed) == (2, 2, False)
    assert handler.get_scale("widget/w", namespace=namespace).resource_version == rv  # nothing written
    moved = handler.scale("widget/w", 5, namespace=namespace)
    assert (moved.previous, moved.replicas, moved.changed) == (2, 5, True)
    assert handler.get_scale("widget/w", namespace=namespace).resource_version != rv


def test_compares_spec_not_status(
    handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str, widget_crd: str
) -> None:
    # A Widget's status is never filled (no controller): spec 3, status 0, like pods not there yet.
    create_widget(kube_cluster, namespace, "w", 3)
    scale = handler.get_scale("widget/w", namespace=namespace)
    assert (scale.spec_replicas, scale.status_replicas) == (3, 0)
    # The reference compared status (0) with 3 and wrote; with 0 it wrote nothing. Spec is right:
    assert not handler.scale("widget/w", 3, namespace=namespace).changed
    down = handler.scale("widget/w", 0, namespace=namespace)
    assert down.changed and down.previous == 3
    assert handler.get_scale("widget/w", namespace=namespace).spec_replicas == 0


def test_at_least_keeps_a_larger_count(
    handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    kube_cluster.create_deployment(namespace, "web", 5)
    kept = handler.scale("deploy/web", 3, namespace=namespace, at_least=True)
    assert (kept.previous, kept.replicas, kept.changed) == (5, 5, False)
    up = handler.scale("deploy/web", 7, namespace=namespace, at_least=True)
    assert (up.replicas, up.changed) == (7, True)
    assert spec_replicas(kube_cluster, namespace, DEPLOY) == 7


def test_dry_run_writes_nothing(
    handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str, widget_crd: str
) -> None:
    create_widget(kube_cluster, namespace, "w", 1)
    before = handler.get_scale("widget/w", namespace=namespace)
    result = handler.scale("widget/w", 9, namespace=namespace, dry_run=True)
    assert (result.previous, result.changed) == (1, False)
    assert "dry run" in result.reason
    after = handler.get_scale("widget/w", namespace=namespace)
    assert (after.spec_replicas, after.resource_version) == (1, before.resource_version)
    assert events_for(kube_cluster, namespace, "w") == []
    # The server still validated the write: beyond the CRD's maximum it is refused.
    with pytest.raises(kubescale.InvalidError):
        handler.scale("widget/w", 50, namespace=namespace, dry_run=True)


def test_a_competing_writer_of_annotations_costs_no_retry(
    handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    # Two writers keep changing the Deployment's annotations (as controllers change status and
    # annotations all the time). The write tests only the count, so none of it is a conflict:
    # no scale fails, none reads again (kubescale's request metric counts no GET).
    kube_cluster.create_deployment(namespace, "web", 1)
    handler.scale("deploy/web", 2, namespace=namespace)  # resolved and counted once
    before = requests(handler)
    with competing_writer(kube_cluster, namespace, ["web"], writers=2):
        last = 0
        for i in range(60):
            last = 3 + i % 5
            assert handler.scale("deploy/web", last, namespace=namespace).changed
    sent = requests(handler) - before
    assert (sent["get"], sent["patch"]) == (0, 60), sent
    assert spec_replicas(kube_cluster, namespace, DEPLOY) == last


def test_a_competing_writer_of_the_count_costs_a_read_never_a_lost_update(
    handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    # Someone else changes the count between our calls: the write on top of what we saw is
    # refused (its test fails), we read, and `previous` is what was really there.
    kube_cluster.create_deployment(namespace, "web", 1)
    handler.scale("deploy/web", 2, namespace=namespace)
    kube_cluster.request(
        "PATCH",
        f"/apis/apps/v1/namespaces/{namespace}/deployments/web/scale",
        {"spec": {"replicas": 7}},
        content_type="application/merge-patch+json",
    )
    result = handler.scale("deploy/web", 3, namespace=namespace)
    assert (result.previous, result.replicas, result.changed) == (7, 3, True)
    assert spec_replicas(kube_cluster, namespace, DEPLOY) == 3


def test_100_concurrent_calls_through_8_threads(
    handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    kube_cluster.create_deployment(namespace, "web", 0)
    wanted = [1 + i % 10 for i in range(100)]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda r: handler.scale("deploy/web", r, namespace=namespace), wanted))
    final = spec_replicas(kube_cluster, namespace, DEPLOY)
    assert final in wanted
    assert_serialised(results, 0, final)
    assert handler.lock_count == 0


async def test_100_concurrent_calls_through_asyncio(kube_cluster: ClusterAPI, namespace: str) -> None:
    kube_cluster.create_deployment(namespace, "web", 0)
    async with kubescale.asyncio.ScaleHandler(kubeconfig=kube_cluster.kubeconfig_path) as h:
        wanted = [1 + i % 10 for i in range(100)]
        results = await asyncio.gather(*(h.scale("deploy/web", r, namespace=namespace) for r in wanted))
        final = (await h.get_scale("deploy/web", namespace=namespace)).spec_replicas
        assert h.lock_count == 0
    assert final in wanted
    assert_serialised(list(results), 0, final)
    assert spec_replicas(kube_cluster, namespace, DEPLOY) == final


@pytest.mark.parametrize("concurrency", [1, 3])
def test_concurrency_bounds_the_operations_in_flight(concurrency: int) -> None:
    # The API server's audit log shows the order in which the scale requests completed: with
    # room for n operations, at most n targets have a read done and their write still to come.
    # (Without the bound, 12 concurrent calls put 7 or more in that state.)
    rule = {"level": "Metadata", "resources": [{"group": "apps", "resources": ["deployments/scale"]}]}
    with LocalCluster(controller_manager=False, audit_rules=[rule]) as cluster:
        ns = cluster.create_namespace(wait_for_service_account=False)
        for i in range(12):
            cluster.create_deployment(ns, f"web{i}", 0)

        async def burst() -> None:
            async with kubescale.asyncio.ScaleHandler(
                ns, kubeconfig=cluster.kubeconfig_path, concurrency=concurrency, record_events=False
            ) as h:
                await h.resolve("deploy")
                await asyncio.gather(*(h.scale(f"deploy/web{i}", 1) for i in range(12)))

        asyncio.run(burst())
        time.sleep(0.5)  # entries are written as responses complete
        entries = [e for e in cluster.audit_entries() if e["objectRef"].get("namespace") == ns]
        open_ops: set[str] = set()
        most = 0
        for e in entries:
            name = e["objectRef"]["name"]
            if e["verb"] == "get":
                open_ops.add(name)
            else:
                open_ops.discard(name)
            most = max(most, len(open_ops))
        assert sum(e["verb"] != "get" for e in entries) == 12  # the writes (patch)
        assert 1 <= most <= concurrency


@pytest.mark.parametrize("bad", [0, -1])
def test_concurrency_below_one_is_refused(kube_cluster: ClusterAPI, bad: int) -> None:
    with pytest.raises(kubescale.InvalidValueError, match="concurrency"):
        kubescale.ScaleHandler(kubeconfig=kube_cluster.kubeconfig_path, concurrency=bad)


def test_scale_to_zero_and_back_restores_the_count(
    handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    kube_cluster.create_deployment(namespace, "web", 4)
    down = handler.scale_to_zero("deploy/web", namespace=namespace)
    assert (down.previous, down.replicas) == (4, 0)
    obj = kube_cluster.request("GET", DEPLOY.format(ns=namespace))
    assert obj["metadata"]["annotations"]["kubescale.io/previous-replicas"] == "4"
    assert not handler.scale_to_zero("deploy/web", namespace=namespace).changed
    up = handler.scale_from_zero("deploy/web", namespace=namespace)
    assert (up.previous, up.replicas) == (0, 4)
    handler.scale_to_zero("deploy/web", namespace=namespace)
    assert handler.scale_from_zero("deploy/web", 6, namespace=namespace).replicas == 6  # at least min
    handler.scale_to_zero("deploy/web", namespace=namespace)
    assert handler.scale_from_zero("deploy/web", 2, namespace=namespace, restore=False).replicas == 2


def test_scale_from_zero_without_memory_uses_min(
    handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    kube_cluster.create_deployment(namespace, "web", 0)
    assert handler.scale_from_zero("deploy/web", namespace=namespace).replicas == 1
