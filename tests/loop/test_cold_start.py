"""The loop's wake-ups measured: until the first ready replica, a timeout, or superseded."""

from __future__ import annotations

import re
import threading
import time
from typing import Any

import pytest

import kubescale
from kubescale.testing import ClusterAPI

from helpers import (
    DEPLOY,
    STATE,
    TEST_GROUP,
    create_es,
    create_widget,
    elasti_service,
    events_for,
    flagged_service,
)
from helpers.metrics import requests

# The readiness delay the test's kubelet gives the first pod.
DELAY = 2.0


def cold_starts(h: kubescale.ScaleHandler) -> dict[tuple[str, str, str], float]:
    """`kubescale_cold_start_seconds` count and sum, by (outcome, since, "count"|"sum")."""
    out: dict[tuple[str, str, str], float] = {}
    pattern = r'^kubescale_cold_start_seconds_(count|sum)\{outcome="(\w+)",since="(\w+)"\} (\S+)$'
    for field, outcome, since, value in re.findall(pattern, h.metrics(), re.M):
        out[(outcome, since, field)] = float(value)
    return out


def wait_for_outcome(
    h: kubescale.ScaleHandler, outcome: str, before: dict[tuple[str, str, str], float], within: float = 30
) -> dict[tuple[str, str, str], float]:
    """Waits until one more wake-up ended as `outcome` than in `before`; the metrics then."""
    deadline = time.monotonic() + within
    key = (outcome, "write", "count")
    while True:
        now = cold_starts(h)
        if now.get(key, 0) > before.get(key, 0):
            return now
        assert time.monotonic() < deadline, f"no wake-up ended as {outcome}: {now}"
        time.sleep(0.1)


Counts = dict[tuple[str, str, str], float]


def added(now: Counts, before: Counts, *key: str) -> float:
    return now.get(key, 0) - before.get(key, 0)


def wait_for_event(cluster: ClusterAPI, ns: str, name: str, reason: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        found = [e for e in events_for(cluster, ns, name) if e["reason"] == reason]
        if found:
            return found[-1]
        assert time.monotonic() < deadline, f"no {reason} Event: {events_for(cluster, ns, name)}"
        time.sleep(0.2)


def test_a_wake_up_is_measured_until_the_first_ready_replica(
    loop_handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    flagged_service(kube_cluster, namespace, "cold", "cold-ready", zero=False, replicas=0)
    before = cold_starts(loop_handler)
    watches_before = requests(loop_handler)["watch"]
    done = threading.Event()
    marked: list[float] = []

    def kubelet() -> None:
        # The first pod becomes ready DELAY seconds after it appears.
        while not done.is_set():
            pods = kube_cluster.request("GET", f"/api/v1/namespaces/{namespace}/pods")["items"]
            if pods:
                done.wait(DELAY)
                marked.append(time.monotonic())
                kube_cluster.mark_pods_ready(namespace, "app=web")
                marked.append(time.monotonic())
                return
            done.wait(0.05)

    marker = threading.Thread(target=kubelet)
    marker.start()
    try:
        called = time.monotonic()
        (decision,) = loop_handler.check_and_scale()
        returned = time.monotonic()
        assert decision.direction == "scale_up", decision
        now = wait_for_outcome(loop_handler, "ready", before)
    finally:
        done.set()
        marker.join()
    assert added(now, before, "ready", "write", "count") == 1
    # Followed by one watch of the target, not by polling (a pass by hand sends no watch).
    assert requests(loop_handler)["watch"] - watches_before == 1
    since_write = added(now, before, "ready", "write", "sum")
    since_decision = added(now, before, "ready", "decision", "sum")
    # The write is between `called` and `returned`; the pod was marked ready DELAY after it
    # appeared, and the Deployment shows it once the controller-manager has passed it on
    # (the ReplicaSet's status, then the Deployment's: up to 2 s on a loaded machine).
    assert since_write >= DELAY and since_write >= marked[0] - returned, (since_write, marked, returned)
    assert since_write <= marked[1] - called + 2.0, (since_write, marked, called)
    assert since_write <= since_decision <= since_write + 1, (since_write, since_decision)
    event = wait_for_event(kube_cluster, namespace, "cold", "ColdStart")
    assert event["type"] == "Normal"
    m = re.search(r"ready after (\d+\.\d) s \((\d+\.\d) s after the write\)", event["note"])
    assert m, event["note"]
    assert abs(float(m[1]) - since_decision) <= 0.1 and abs(float(m[2]) - since_write) <= 0.1, event["note"]


def test_a_custom_resource_is_ready_when_its_scale_shows_a_replica(
    loop_handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str, widget_crd: str
) -> None:
    """A CRD's replicas live where its scale subresource says (`statusReplicasPath`); no
    controller runs Widgets here, so the test writes that status as one would."""
    create_widget(kube_cluster, namespace, "web", 0)
    es = elasti_service("widget", "cold-widget", kind="Widget", target="web")
    es["spec"]["scaleTargetRef"]["apiVersion"] = f"{TEST_GROUP}/v1"
    STATE["cold-widget"] = {"zero": False}
    create_es(kube_cluster, namespace, es)
    before = cold_starts(loop_handler)
    (decision,) = loop_handler.check_and_scale()
    assert decision.direction == "scale_up", decision
    widget = f"/apis/{TEST_GROUP}/v1/namespaces/{namespace}/widgets/web"
    assert kube_cluster.request("GET", widget)["spec"]["replicas"] == 1
    kube_cluster.request(
        "PATCH", widget + "/status", {"status": {"replicas": 1}}, content_type="application/merge-patch+json"
    )
    now = wait_for_outcome(loop_handler, "ready", before)
    assert added(now, before, "ready", "write", "count") == 1
    assert added(now, before, "superseded", "write", "count") == 0


def test_a_target_that_never_becomes_ready_ends_as_timeout(
    loop_handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    flagged_service(kube_cluster, namespace, "stuck", "cold-stuck", zero=False, replicas=0)
    before = cold_starts(loop_handler)
    run = {"polling_interval": 30, "cold_start_timeout": 1.5}
    loop = threading.Thread(target=loop_handler.run, kwargs=run)
    loop.start()
    try:
        now = wait_for_outcome(loop_handler, "timeout", before)
    finally:
        loop_handler.close()
        loop.join(timeout=10)
    assert added(now, before, "ready", "write", "count") == 0
    assert 1.5 <= added(now, before, "timeout", "write", "sum") <= 2.5
    event = wait_for_event(kube_cluster, namespace, "stuck", "ColdStartTimeout")
    assert event["type"] == "Warning"
    assert "had no ready replica 1.5 s after the scale-up from zero" in event["note"], event["note"]


def test_a_target_scaled_back_to_zero_first_ends_as_superseded(
    loop_handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    flagged_service(kube_cluster, namespace, "undone", "cold-undone", zero=False, replicas=0)
    before = cold_starts(loop_handler)
    (decision,) = loop_handler.check_and_scale()
    assert decision.direction == "scale_up", decision
    # A person scales it back before any pod is ready (there is no kubelet here).
    kube_cluster.request(
        "PATCH",
        f"{DEPLOY.format(ns=namespace)}/scale",
        {"spec": {"replicas": 0}},
        content_type="application/merge-patch+json",
    )
    now = wait_for_outcome(loop_handler, "superseded", before)
    assert added(now, before, "ready", "write", "count") == 0
    assert added(now, before, "timeout", "write", "count") == 0
    loop_handler.events("deploy/web", namespace=namespace)  # writes what is queued
    reasons = [e["reason"] for e in events_for(kube_cluster, namespace, "undone")]
    assert not [r for r in reasons if r.startswith("ColdStart")], reasons


def test_cold_start_timeout_must_be_positive(loop_handler: kubescale.ScaleHandler) -> None:
    with pytest.raises(kubescale.InvalidValueError, match="cold_start_timeout"):
        loop_handler.run(cold_start_timeout=0)
