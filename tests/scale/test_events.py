"""Events of the scale path: what is recorded, series, the queue that writes them off the caller's path."""

from __future__ import annotations

import time

import pytest

import kubescale
import kubescale.asyncio
from kubescale.testing import ClusterAPI

from helpers import (
    create_widget,
    events_for,
)


def test_events_record_type_reason_object_and_latest_note(
    handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    created = kube_cluster.create_deployment(namespace, "web", 1)
    # The first two changes are each written at once, unasked: well before the rate limit's 10 s.
    for written, r in enumerate((2, 1), start=1):
        handler.scale("deploy/web", r, namespace=namespace)
        kube_cluster.wait_for(
            lambda n=written: len(events_for(kube_cluster, namespace, "web")) == n,
            f"Event {written}",
            timeout=5,
        )
    for r in (2, 1, 2):
        handler.scale("deploy/web", r, namespace=namespace)
    handler.events("deploy/web", namespace=namespace)  # writes what is queued
    events = events_for(kube_cluster, namespace, "web")
    assert {e["type"] for e in events} == {"Normal"}
    assert {e["reason"] for e in events} == {"SuccessToScale"}
    for e in events:
        assert e["regarding"]["kind"] == "Deployment"
        assert e["regarding"]["apiVersion"] == "apps/v1"
        assert e["regarding"]["uid"] == created["metadata"]["uid"]
    # The three changes after them within 10 s are one write,
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
        events = [e for e in h.events("deploy/web") if e.reporter == "kubescale"]
        writes = event_writes(h) - before
    assert writes <= 25, f"{writes} Event writes for 1,000 changes"
    # Nothing lost: the server's Events count every change, and the newest says the last one.
    assert sum(e.count for e in events) == 1001
    newest = max(events, key=lambda e: e.last_time)
    assert newest.note == (
        "(combined from similar events): "
        f"Scaled deployment.apps/web from {last.previous} to {last.replicas} replicas"
    )
