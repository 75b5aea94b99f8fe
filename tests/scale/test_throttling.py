"""Politeness towards the API server: API Priority and Fairness refusing a burst with 429 is
answered by waiting its Retry-After and sending again, and `run` limits its request rate."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from pathlib import Path

import pytest

import kubescale
import kubescale.asyncio
from kubescale.testing import ClusterAPI

from helpers import STATE, FlagScaler, create_es, elasti_service, scaler_role_kubeconfig, spec_replicas
from helpers.metrics import requests

FLOWCONTROL = "/apis/flowcontrol.apiserver.k8s.io/v1beta1"
DEPLOY = "/apis/apps/v1/namespaces/{ns}/deployments/{name}"


def counter(text: str, name: str) -> float:
    m = re.search(rf"^{name} (\S+)", text, re.M)
    return float(m.group(1)) if m else 0.0


def test_a_burst_refused_with_429_is_sent_again_until_done(
    kube_cluster: ClusterAPI, namespace: str, tmp_path: Path
) -> None:
    kubeconfig = scaler_role_kubeconfig(kube_cluster, namespace, "tiny", tmp_path, lambda rules: None)
    # A priority level with room for a few requests at once that rejects the rest (no queue),
    # for this ServiceAccount only: what a busy cluster's API server does to a noisy client.
    level = f"ks-tiny-{namespace}"
    kube_cluster.request(
        "POST",
        f"{FLOWCONTROL}/prioritylevelconfigurations",
        {
            "apiVersion": "flowcontrol.apiserver.k8s.io/v1beta1",
            "kind": "PriorityLevelConfiguration",
            "metadata": {"name": level},
            "spec": {
                "type": "Limited",
                "limited": {"assuredConcurrencyShares": 1, "limitResponse": {"type": "Reject"}},
            },
        },
    )
    everything = {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"], "namespaces": ["*"]}
    kube_cluster.request(
        "POST",
        f"{FLOWCONTROL}/flowschemas",
        {
            "apiVersion": "flowcontrol.apiserver.k8s.io/v1beta1",
            "kind": "FlowSchema",
            "metadata": {"name": level},
            "spec": {
                "priorityLevelConfiguration": {"name": level},
                "matchingPrecedence": 100,
                "distinguisherMethod": {"type": "ByUser"},
                "rules": [
                    {
                        "subjects": [
                            {
                                "kind": "ServiceAccount",
                                "serviceAccount": {"name": "tiny", "namespace": namespace},
                            }
                        ],
                        "resourceRules": [everything],
                        "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                    }
                ],
            },
        },
    )
    try:
        names = [f"w{i}" for i in range(12)]
        for n in names:
            kube_cluster.create_deployment(namespace, n, 1)
        time.sleep(1)  # the API server picks the new flow schema up

        async def burst() -> tuple[list[kubescale.ScaleResult], str]:
            async with kubescale.asyncio.ScaleHandler(
                namespace, kubeconfig=kubeconfig, record_events=False, concurrency=64
            ) as h:
                before = h.metrics()
                results = await asyncio.gather(*(h.scale(f"deploy/{n}", 3) for n in names))
                after = h.metrics()
                return list(results), str(
                    counter(after, "kubescale_api_throttled_total")
                    - counter(before, "kubescale_api_throttled_total")
                )

        results, throttled = asyncio.run(burst())
        assert [r.replicas for r in results] == [3] * len(names)
        assert all(
            spec_replicas(kube_cluster, namespace, f"/apis/apps/v1/namespaces/{namespace}/deployments/{n}")
            == 3
            for n in names
        )
        assert float(throttled) > 0, "the API server never refused a request: the test proves nothing"
    finally:
        kube_cluster.request("DELETE", f"{FLOWCONTROL}/flowschemas/{level}")
        kube_cluster.request("DELETE", f"{FLOWCONTROL}/prioritylevelconfigurations/{level}")


@pytest.mark.parametrize("qps,burst", [(0, 10), (-1.0, 10), (float("nan"), 10), (5, 0), (5, -3)])
def test_a_bad_rate_limit_is_named(kube_cluster: ClusterAPI, namespace: str, qps: float, burst: int) -> None:
    with kubescale.ScaleHandler(namespace, kubeconfig=kube_cluster.kubeconfig_path) as h:
        field = "qps" if not qps > 0 else "burst"
        with pytest.raises(kubescale.InvalidValueError, match=field):
            h.run(1.0, qps=qps, burst=burst)
        # The handler is still usable.
        assert h.resolve("deploy").kind == "Deployment"


def requests_so_far(h: kubescale.ScaleHandler) -> int:
    return sum(requests(h).values())


def test_run_holds_its_rate_limit(kube_cluster: ClusterAPI, namespace: str, crds_installed: None) -> None:
    names = [f"r{i}" for i in range(8)]
    STATE["rate"] = {"zero": True}
    for n in names:
        kube_cluster.create_deployment(namespace, n, 1)
        create_es(kube_cluster, namespace, elasti_service(n, "rate", target=n), age=False)
    time.sleep(1.1)  # past their cooldown
    qps, burst = 5.0, 2
    with kubescale.ScaleHandler(namespace, kubeconfig=kube_cluster.kubeconfig_path) as h:
        h.register_scaler("flag", FlagScaler)
        t = threading.Thread(target=h.run, kwargs={"polling_interval": 0.5, "qps": qps, "burst": burst})
        samples: list[tuple[float, int]] = []
        t.start()
        try:
            deadline = time.monotonic() + 60
            while not all(
                spec_replicas(kube_cluster, namespace, DEPLOY.format(ns=namespace, name=n)) == 0
                for n in names
            ):
                samples.append((time.monotonic(), requests_so_far(h)))
                assert time.monotonic() < deadline, "the loop made no progress under its rate limit"
                time.sleep(0.2)
        finally:
            h.close()
            t.join(timeout=10)
    # 8 services to zero are dozens of requests: they were spread out, never more than the
    # bucket allows (a request counts when answered, so one in flight at each end is allowed).
    assert samples[-1][1] - samples[0][1] > 3 * burst, "too few requests to tell"
    for i, (t0, n0) in enumerate(samples):
        for t1, n1 in samples[i + 1 :]:
            assert n1 - n0 <= burst + qps * (t1 - t0) + 2, f"{n1 - n0} requests in {t1 - t0:.2f} s"
