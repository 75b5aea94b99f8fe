"""The ScaleHandler against the local cluster: targets, scale semantics, conflicts, events."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import kubescale
import kubescale.asyncio
from kubescale.testing import ClusterAPI, LocalCluster

from helpers import (
    TEST_GROUP,
    assert_serialised,
    competing_writer,
    crd_manifest,
    create_widget,
    create_workload,
    events_for,
    install_crd,
    spec_replicas,
)

DEPLOY = "/apis/apps/v1/namespaces/{ns}/deployments/web"


@pytest.mark.parametrize(
    "target",
    [
        "deployment/web",
        "deploy/web",
        "deployments/web",
        "deployments.apps/web",
        "Deployment.v1.apps/web",
        "deployment.apps/web",
    ],
)
def test_every_kubectl_spelling_reaches_the_deployment(
    handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str, target: str
) -> None:
    kube_cluster.create_deployment(namespace, "web", 1)
    result = handler.scale(target, 4, namespace=namespace)
    assert (result.previous, result.replicas, result.changed) == (1, 4, True)
    assert result.target == "deployment.apps/web"
    assert spec_replicas(kube_cluster, namespace, DEPLOY) == 4


def test_explicit_api_version_kind_name(
    handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    kube_cluster.create_deployment(namespace, "web", 1)
    result = handler.scale(
        api_version="apps/v1", kind="Deployment", name="web", replicas=2, namespace=namespace
    )
    assert result.replicas == 2
    scale = handler.get_scale(api_version="apps/v1", kind="Deployment", name="web", namespace=namespace)
    assert scale.spec_replicas == 2 and scale.kind == "Deployment" and scale.api_version == "apps/v1"
    with pytest.raises(TypeError, match="not both"):
        handler.scale(
            "deploy/web", 2, kind="Deployment", api_version="apps/v1", name="web", namespace=namespace
        )


@pytest.mark.parametrize("kind,target", [("StatefulSet", "statefulset/db"), ("ReplicaSet", "rs/db")])
def test_statefulset_and_replicaset(
    handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str, kind: str, target: str
) -> None:
    create_workload(kube_cluster, namespace, kind, "db", 1)
    assert handler.scale(target, 3, namespace=namespace).changed
    path = f"/apis/apps/v1/namespaces/{{ns}}/{kind.lower()}s/db"
    assert spec_replicas(kube_cluster, namespace, path) == 3
    scale = handler.get_scale(target, namespace=namespace)
    assert scale.kind == kind and scale.spec_replicas == 3 and scale.selector == "app=db"


def test_custom_resource_with_scale_subresource(
    handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str, widget_crd: str
) -> None:
    create_widget(kube_cluster, namespace, "w", 1)
    assert handler.resolve("widget").scalable
    for target in ("widget/w", "widgets/w", f"widgets.{TEST_GROUP}/w", f"Widget.v1.{TEST_GROUP}/w", "widx/w"):
        handler.scale(target, 2, namespace=namespace)
    assert spec_replicas(kube_cluster, namespace, f"/apis/{TEST_GROUP}/v1/namespaces/{{ns}}/widgets/w") == 2


def test_argo_rollout_spelling(
    handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    manifest = crd_manifest("rollouts", "Rollout", [("v1alpha1", True, True)])
    manifest["metadata"]["name"] = "rollouts.argoproj.io"
    manifest["spec"]["group"] = "argoproj.io"
    manifest["spec"]["names"]["shortNames"] = ["ro"]
    install_crd(kube_cluster, manifest)
    kube_cluster.request(
        "POST",
        f"/apis/argoproj.io/v1alpha1/namespaces/{namespace}/rollouts",
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Rollout",
            "metadata": {"name": "canary"},
            "spec": {"replicas": 1},
        },
    )
    assert (
        handler.scale("rollouts.argoproj.io/canary", 2, namespace=namespace).target
        == "rollout.argoproj.io/canary"
    )
    assert handler.scale("ro/canary", 3, namespace=namespace).previous == 2


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
    handler: kubescale.ScaleHandler,
    kube_cluster: ClusterAPI,
    namespace: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Two writers keep changing the Deployment's annotations (as controllers change status and
    # annotations all the time). The write tests only the count, so none of it is a conflict:
    # no scale fails, none reads again.
    kube_cluster.create_deployment(namespace, "web", 1)
    caplog.set_level(logging.DEBUG, logger="kubescale")
    kubescale.reset_logging()
    with competing_writer(kube_cluster, namespace, ["web"], writers=2):
        last = 0
        for i in range(60):
            last = 2 + i % 5
            assert handler.scale("deploy/web", last, namespace=namespace).changed
    retries = [r.getMessage() for r in caplog.records if "reading" in r.getMessage()]
    assert retries == []
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


def test_served_version_change_refreshes_discovery(
    handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    # A kind of its own per run: a CRD's stored versions cannot go back.
    kind = "Gadget" + namespace.split("-")[-1]
    plural = kind.lower() + "s"
    install_crd(kube_cluster, crd_manifest(plural, kind, [("v1", True, True)]))
    kube_cluster.request(
        "POST",
        f"/apis/{TEST_GROUP}/v1/namespaces/{namespace}/{plural}",
        {"apiVersion": f"{TEST_GROUP}/v1", "kind": kind, "metadata": {"name": "g"}, "spec": {"replicas": 1}},
    )
    assert handler.scale(f"{plural}/g", 2, namespace=namespace).changed  # discovery caches v1
    # The CRD now serves only v2: the cached v1 path answers 404 for the resource type.
    install_crd(kube_cluster, crd_manifest(plural, kind, [("v1", False, False), ("v2", True, True)]))
    result = handler.scale(f"{plural}/g", 3, namespace=namespace)
    assert (result.previous, result.replicas) == (2, 3)
    assert handler.resolve(plural).version == "v2"


def test_unknown_and_unscalable_kinds_and_missing_objects(
    handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    with pytest.raises(kubescale.NoMatchError, match="frobnicator"):
        handler.scale("frobnicator/x", 1, namespace=namespace)
    with pytest.raises(kubescale.NotScalableError, match="ConfigMap"):
        handler.scale("configmap/x", 1, namespace=namespace)
    with pytest.raises(kubescale.NotFoundError) as err:
        handler.scale("deploy/absent", 1, namespace=namespace)
    assert err.value.status == 404 and err.value.reason == "NotFound"
    # The handler is still usable.
    kube_cluster.create_deployment(namespace, "web", 1)
    assert handler.scale("deploy/web", 2, namespace=namespace).changed


def test_watch_namespace_is_enforced(kube_cluster: ClusterAPI, namespace: str) -> None:
    kube_cluster.create_deployment(namespace, "web", 1)
    with kubescale.ScaleHandler(namespace, kubeconfig=kube_cluster.kubeconfig_path) as h:
        assert h.namespace == namespace
        assert h.scale("deploy/web", 2).changed  # the watch namespace is the default
        with pytest.raises(kubescale.NamespaceNotAllowedError, match="outside"):
            h.scale("deploy/web", 2, namespace="kube-system")
        assert isinstance(kubescale.NamespaceNotAllowedError("x"), PermissionError)


def test_events_record_type_reason_object_and_latest_note(
    handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    created = kube_cluster.create_deployment(namespace, "web", 1)
    for r in (2, 1, 2, 1, 2):
        handler.scale("deploy/web", r, namespace=namespace)
    handler.events("deploy/web", namespace=namespace)  # writes what is queued
    events = events_for(kube_cluster, namespace, "web")
    assert {e["type"] for e in events} == {"Normal"}
    assert {e["reason"] for e in events} == {"SuccessToScale"}
    for e in events:
        assert e["regarding"]["kind"] == "Deployment"
        assert e["regarding"]["apiVersion"] == "apps/v1"
        assert e["regarding"]["uid"] == created["metadata"]["uid"]
    # The first two changes are written at once; the three after them within 10 s are one write,
    # whose note is the newest change's, marked as standing for different changes (an Event
    # "from 1 to 2" counted 4 times would tell of two scale-ups that never happened).
    assert [(e["note"], (e.get("series") or {}).get("count", 1)) for e in events] == [
        ("Scaled deployment.apps/web from 1 to 2 replicas", 1),
        ("Scaled deployment.apps/web from 2 to 1 replicas", 1),
        ("(combined from similar events): Scaled deployment.apps/web from 1 to 2 replicas", 3),
    ]


def test_failed_scale_records_a_warning(
    handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str, widget_crd: str
) -> None:
    create_widget(kube_cluster, namespace, "w", 1)
    with pytest.raises(kubescale.InvalidError) as err:
        handler.scale("widget/w", 50, namespace=namespace)  # the CRD allows at most 10
    assert err.value.status == 422
    kube_cluster.wait_for(lambda: events_for(kube_cluster, namespace, "w"), "the warning event")
    ev = events_for(kube_cluster, namespace, "w")[-1]
    assert (ev["type"], ev["reason"]) == ("Warning", "FailedToScale")
    assert "from 1 to 50" in ev["note"]
    assert ev["regarding"]["kind"] == "Widget"


def test_handler_without_events_writes_none_but_still_records_on_request(
    kube_cluster: ClusterAPI, namespace: str, widget_crd: str
) -> None:
    kube_cluster.create_deployment(namespace, "web", 1)
    create_widget(kube_cluster, namespace, "w", 1)
    with kubescale.ScaleHandler(namespace, kubeconfig=kube_cluster.kubeconfig_path, record_events=False) as h:
        assert h.scale("deploy/web", 3).changed
        with pytest.raises(kubescale.InvalidError):
            h.scale("widget/w", 50)
        assert events_for(kube_cluster, namespace, "web") == []
        assert events_for(kube_cluster, namespace, "w") == []
        h.record_event("deploy/web", "Normal", "ManualCheck", "asked for")
        assert [e["reason"] for e in events_for(kube_cluster, namespace, "web")] == ["ManualCheck"]


def test_record_event(handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str) -> None:
    kube_cluster.create_deployment(namespace, "web", 1)
    handler.record_event(
        "deploy/web", "Warning", "ManualCheck", "looked at it", namespace=namespace, action="Check"
    )
    ev = events_for(kube_cluster, namespace, "web")[-1]
    assert (ev["type"], ev["reason"], ev["action"], ev["note"]) == (
        "Warning",
        "ManualCheck",
        "Check",
        "looked at it",
    )
    with pytest.raises(kubescale.InvalidValueError, match="Normal"):
        handler.record_event("deploy/web", "Error", "X", "y", namespace=namespace)  # type: ignore[arg-type]


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


def test_resources_lists_the_scalable_kinds(handler: kubescale.ScaleHandler) -> None:
    scalable = {(r.group, r.kind) for r in handler.resources(scalable=True)}
    assert {
        ("apps", "Deployment"),
        ("apps", "StatefulSet"),
        ("apps", "ReplicaSet"),
        ("", "ReplicationController"),
    } <= scalable
    everything = handler.resources()
    assert any(r.kind == "ConfigMap" and not r.scalable for r in everything)
    assert all(r.scalable for r in handler.resources(scalable=True))


def test_an_event_queued_by_a_scale_is_written_by_close(kube_cluster: ClusterAPI, namespace: str) -> None:
    # Events are written off the caller's path; closing the handler writes what is queued.
    kube_cluster.create_deployment(namespace, "web", 1)
    h = kubescale.ScaleHandler(namespace, kubeconfig=kube_cluster.kubeconfig_path)
    h.scale("deploy/web", 2)
    h.close()
    notes = [e["note"] for e in events_for(kube_cluster, namespace, "web")]
    assert notes == ["Scaled deployment.apps/web from 1 to 2 replicas"]


def event_writes(h: kubescale.ScaleHandler) -> float:
    """The Event writes `h` has made (its `kubescale_event_writes_total{result="written"}`)."""
    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    return sum(
        s.value
        for f in text_string_to_metric_families(h.metrics())
        for s in f.samples
        if s.name == "kubescale_event_writes_total" and s.labels.get("result") == "written"
    )


def test_a_scale_to_zero_and_back_are_two_events_at_once_and_a_third_change_follows_unasked(
    kube_cluster: ClusterAPI, namespace: str
) -> None:
    # To zero and back within a second: both are on the server at once, each its own Event with
    # its own note (a burst of 1 merged them into "from 0 to 3" counted twice). A third quick
    # change waits for the per-object limit and is written by the handler on its own (nobody
    # flushes) within 10 s.
    kube_cluster.create_deployment(namespace, "web", 3)
    with kubescale.ScaleHandler(namespace, kubeconfig=kube_cluster.kubeconfig_path) as h:
        before = event_writes(h)
        h.scale_to_zero("deploy/web")
        h.scale_from_zero("deploy/web")

        def on_server() -> list[tuple[str, int]]:
            return [
                (e["note"], (e.get("series") or {}).get("count", 1))
                for e in events_for(kube_cluster, namespace, "web")
            ]

        deadline = time.monotonic() + 3
        while len(on_server()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert on_server() == [
            ("Scaled deployment.apps/web from 3 to 0 replicas", 1),
            ("Scaled deployment.apps/web from 0 to 3 replicas", 1),
        ]
        h.scale("deploy/web", 4)
        deadline = time.monotonic() + 15
        while len(on_server()) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        writes = event_writes(h) - before
    assert on_server()[-1] == ("Scaled deployment.apps/web from 3 to 4 replicas", 1)
    assert writes == 3


def test_a_storm_of_scales_is_a_handful_of_event_writes_with_the_right_count_and_note(
    kube_cluster: ClusterAPI, namespace: str
) -> None:
    kube_cluster.create_deployment(namespace, "web", 1)
    with kubescale.ScaleHandler(namespace, kubeconfig=kube_cluster.kubeconfig_path) as h:
        h.scale("deploy/web", 2)
        h.events("deploy/web")  # written: the storm starts from a quiet queue
        before = event_writes(h)
        last = None
        for i in range(1000):
            last = h.scale("deploy/web", 3 + i % 2)
        assert last is not None and last.changed
        events = [e for e in h.events("deploy/web") if e["reporter"] == "kubescale"]
        writes = event_writes(h) - before
    assert writes <= 25, f"{writes} Event writes for 1,000 changes"
    # Nothing lost: the server's Events count every change, and the newest says the last one.
    assert sum(e["count"] for e in events) == 1001
    newest = max(events, key=lambda e: e["last_time"])
    assert newest["note"] == (
        "(combined from similar events): "
        f"Scaled deployment.apps/web from {last.previous} to {last.replicas} replicas"
    )
