"""The built-in Prometheus scaler against a real Prometheus whose values the test controls."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

import kubescale
from kubescale.testing import ClusterAPI

from helpers import DEPLOY, create_es, elasti_service, spec_replicas
from helpers.prometheus import LocalPrometheus


@pytest.fixture(scope="module")
def prom() -> Iterator[LocalPrometheus]:
    with LocalPrometheus() as p:
        yield p


def prometheus_service(
    name: str, prom: LocalPrometheus, query: str, threshold: str = "0.5", **meta: str
) -> dict:
    obj = elasti_service(name, "unused", cooldown=2)
    obj["spec"]["triggers"] = [
        {
            "type": "prometheus",
            "metadata": {"serverAddress": prom.url, "query": query, "threshold": threshold, **meta},
        }
    ]
    return obj


@pytest.fixture
def handler_ns(
    kube_cluster: ClusterAPI, namespace: str, crds_installed: None
) -> Iterator[kubescale.ScaleHandler]:
    with kubescale.ScaleHandler(namespace, kubeconfig=kube_cluster.kubeconfig_path) as h:
        yield h


def settle_metric(prom: LocalPrometheus, metric: str, value: float) -> None:
    def seen() -> bool:
        v = prom.value(metric)
        return v is not None and (v == value or (math.isnan(value) and math.isnan(v)))

    prom.wait_until(seen, f"{metric} == {value}")


def pushed(prom: LocalPrometheus, namespace: str, prefix: str, value: float) -> str:
    """A metric named for the test's namespace, pushed at `value` and seen by Prometheus."""
    metric = f"{prefix}_{namespace.replace('-', '_')}"
    prom.push(metric, f"{value:g}", job=namespace)
    settle_metric(prom, metric, value)
    return metric


def wait_healthy(prom: LocalPrometheus, seconds: int) -> None:
    # The health query needs Prometheus up over the whole cooldown window.
    query = f'min_over_time((max(up{{container="prometheus"}}) or vector(0))[{seconds}s:])'
    prom.wait_until(lambda: prom.value(query) == 1.0, "a healthy uptime window", timeout=60)


def test_below_threshold_goes_to_zero_and_above_comes_back(
    handler_ns: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str, prom: LocalPrometheus
) -> None:
    kube_cluster.create_deployment(namespace, "web", 2)
    metric = pushed(prom, namespace, "requests", 0.2)
    create_es(kube_cluster, namespace, prometheus_service("web", prom, f"sum({metric})"))
    time.sleep(2.1)  # older than the 2 s cooldown
    wait_healthy(prom, 2)
    (d,) = handler_ns.check_and_scale()
    assert (d.direction, d.error) == ("scale_down", None), d
    assert spec_replicas(kube_cluster, namespace, DEPLOY) == 0

    prom.push(metric, "3", job=namespace)
    settle_metric(prom, metric, 3.0)
    (d,) = handler_ns.check_and_scale()
    assert d.direction == "scale_up", d
    assert spec_replicas(kube_cluster, namespace, DEPLOY) == 2


@pytest.mark.parametrize(
    "value,query,needle",
    [
        ("NaN", "{metric}", "NaN"),
        ("+Inf", "{metric}", "+Inf"),
        ("1", "{metric}_absent", "no series"),
        ("1", "{metric} or {metric} * 0 + on() group_left vector(1)", "series"),
        ("1", "sum({metric}", "HTTP 400"),
    ],
)
def test_doubtful_answers_prevent_any_scaling(
    handler_ns: kubescale.ScaleHandler,
    kube_cluster: ClusterAPI,
    namespace: str,
    prom: LocalPrometheus,
    value: str,
    query: str,
    needle: str,
) -> None:
    kube_cluster.create_deployment(namespace, "web", 2)
    metric = f"doubt_{namespace.replace('-', '_')}"
    prom.push(metric, value, job=namespace)
    prom.wait_until(lambda: prom.query(metric) and prom.query(metric)["data"]["result"], f"{metric} scraped")
    if query.startswith("{metric} or"):
        # Two series: the pushed one and a second with another label.
        prom.push(metric, value, job=namespace + "-b")
        prom.wait_until(lambda: len(prom.query(metric)["data"]["result"]) == 2, "two series")
        query = "{metric}"
    create_es(kube_cluster, namespace, prometheus_service("web", prom, query.format(metric=metric)))
    time.sleep(2.1)
    wait_healthy(prom, 2)
    (d,) = handler_ns.check_and_scale()
    assert d.error is not None and needle in d.error, d
    assert spec_replicas(kube_cluster, namespace, DEPLOY) == 2


def test_unhealthy_prometheus_means_no_scaling(
    handler_ns: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str, prom: LocalPrometheus
) -> None:
    kube_cluster.create_deployment(namespace, "web", 2)
    metric = pushed(prom, namespace, "sick", 0.0)
    # No `up` series matches this filter: health is 0.
    create_es(kube_cluster, namespace, prometheus_service("web", prom, metric, uptimeFilter='job="nobody"'))
    time.sleep(2.1)
    (d,) = handler_ns.check_and_scale()
    assert (d.direction, d.error) == ("no_scale", None) and "unhealthy" in d.reason
    assert spec_replicas(kube_cluster, namespace, DEPLOY) == 2


def test_bad_threshold_is_an_error(
    handler_ns: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str, prom: LocalPrometheus
) -> None:
    kube_cluster.create_deployment(namespace, "web", 2)
    create_es(kube_cluster, namespace, prometheus_service("web", prom, "up", threshold="half"))
    time.sleep(2.1)
    (d,) = handler_ns.check_and_scale()
    assert d.error is not None and "threshold" in d.error


def test_cli_run_with_env_server_address(
    kube_cluster: ClusterAPI, namespace: str, prom: LocalPrometheus, crds_installed: None
) -> None:
    """`kubescale run` with the built-in scaler; the address comes from the env fallback."""
    kube_cluster.create_deployment(namespace, "web", 2)
    metric = pushed(prom, namespace, "cli", 0.0)
    obj = prometheus_service("web", prom, f"sum({metric})")
    del obj["spec"]["triggers"][0]["metadata"]["serverAddress"]
    create_es(kube_cluster, namespace, obj)
    wait_healthy(prom, 2)
    env = {
        **os.environ,
        "KUBECONFIG": kube_cluster.kubeconfig_path,
        "PROMETHEUS_TRIGGER_SERVER_ADDRESS": prom.url,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "kubescale.cli", "run", "-n", namespace, "--polling-interval", "500ms"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        # A shell running the tests in the background makes them inherit an ignored SIGINT:
        # the child gets Python's own handler back, as a terminal's process has it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 30
        while spec_replicas(kube_cluster, namespace, DEPLOY) != 0:
            assert proc.poll() is None and time.monotonic() < deadline, "the loop did not scale down"
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
