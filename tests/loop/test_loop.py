"""The scale-to-zero loop over ElastiService objects, driven by Python scalers."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

import kubescale
import kubescale.asyncio
from kubescale.testing import ClusterAPI

from helpers import (
    DEPLOY,
    STATE,
    AsyncFlagScaler,
    FlagScaler,
    annotations_of,
    by_name,
    create_es,
    create_scaled_object,
    elasti_service,
    events_for,
    flagged_service,
    leader_election_setup,
    spec_replicas,
    status,
)
from helpers.logs import capture_kubescale_logs


def test_reference_shaped_service_with_legacy_kind_goes_to_zero_and_back(
    loop_handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    kube_cluster.create_deployment(namespace, "web", 3)
    STATE["legacy"] = {"zero": True}
    # KubeElasti's documented shape: legacy kind "deployments", defaults left out.
    obj = elasti_service("web-es", "legacy", kind="deployments")
    del obj["spec"]["minTargetReplicas"]
    create_es(kube_cluster, namespace, obj)

    (d,) = loop_handler.check_and_scale()
    assert (d.service, d.direction, d.error) == (f"{namespace}/web-es", "scale_down", None)
    assert spec_replicas(kube_cluster, namespace, DEPLOY) == 0
    assert status(kube_cluster, namespace, "web-es")["mode"] == "proxy"
    assert STATE["legacy"]["cooldown"] == timedelta(seconds=1) and STATE["legacy"]["closed"] >= 1

    STATE["legacy"]["zero"] = False
    (d,) = loop_handler.check_and_scale()
    assert d.direction == "scale_up"
    assert spec_replicas(kube_cluster, namespace, DEPLOY) == 3  # the remembered count, not just min 1
    st = status(kube_cluster, namespace, "web-es")
    assert st["mode"] == "serve" and st["lastScaledUpTime"] and st["lastReconciledTime"]

    events = events_for(kube_cluster, namespace, "web-es")
    assert [e["regarding"]["kind"] for e in events] == ["ElastiService", "ElastiService"]
    assert [e["note"] for e in events] == [
        "Scaled deployment.apps/web from 3 to 0 replicas",
        "Scaled deployment.apps/web from 0 to 3 replicas",
    ]


def test_decision_rules(
    loop_handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    for i in range(5):
        kube_cluster.create_deployment(namespace, f"t{i}", 2)
    STATE.update(
        {"r-young": {"zero": True}, "r-off": {"zero": True}, "r-sick": {"zero": True, "healthy": False}}
    )
    create_es(kube_cluster, namespace, elasti_service("young", "r-young", target="t0", cooldown=3600))
    create_es(
        kube_cluster,
        namespace,
        elasti_service(
            "off", "r-off", target="t1", enabled_period={"schedule": "0 0 1 1 *", "duration": "1m"}
        ),
    )
    create_es(kube_cluster, namespace, elasti_service("sick", "r-sick", target="t2"))
    create_es(kube_cluster, namespace, elasti_service("empty", "none", target="t3", triggers=[]))
    create_es(
        kube_cluster, namespace, elasti_service("unknown", "none", target="t4", trigger_type="no-such-scaler")
    )
    d = by_name(loop_handler.check_and_scale())
    assert (d["young"].direction, d["young"].error) == ("no_scale", None)
    assert "cooldown" in d["young"].reason
    assert d["off"].direction == "scale_up" and "enabled period" in d["off"].reason
    assert d["sick"].direction == "no_scale" and "unhealthy" in d["sick"].reason
    assert d["empty"].error is not None and "no triggers" in d["empty"].error
    assert d["unknown"].error is not None and "no-such-scaler" in d["unknown"].error
    # Nothing went to zero.
    assert [
        spec_replicas(kube_cluster, namespace, f"/apis/apps/v1/namespaces/{{ns}}/deployments/t{i}")
        for i in range(5)
    ] == [2] * 5


def test_cooldown_after_the_last_scale_up(
    loop_handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    flagged_service(kube_cluster, namespace, "cool", "cool", zero=False, replicas=1, cooldown=2)
    time.sleep(2.1)  # older than one cooldown
    assert loop_handler.check_and_scale()[0].direction == "scale_up"
    STATE["cool"]["zero"] = True
    (d,) = loop_handler.check_and_scale()
    assert d.direction == "no_scale" and "since the last scale-up" in d.reason
    time.sleep(2.1)
    assert loop_handler.check_and_scale()[0].direction == "scale_down"
    assert spec_replicas(kube_cluster, namespace, DEPLOY) == 0


def test_a_failing_scaler_makes_only_its_service_an_error(
    loop_handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    kube_cluster.create_deployment(namespace, "web", 1)
    kube_cluster.create_deployment(namespace, "other", 1)
    STATE["boom"] = {"zero": True, "raise": True}
    STATE["fine"] = {"zero": True}
    create_es(kube_cluster, namespace, elasti_service("boom", "boom"))
    create_es(kube_cluster, namespace, elasti_service("fine", "fine", target="other"))
    d = by_name(loop_handler.check_and_scale())
    assert d["boom"].error is not None and "RuntimeError: the queue is on fire" in d["boom"].error
    assert d["fine"].direction == "scale_down" and d["fine"].error is None
    assert spec_replicas(kube_cluster, namespace, DEPLOY) == 1
    warning = events_for(kube_cluster, namespace, "boom")[-1]
    assert (warning["type"], warning["regarding"]["kind"]) == ("Warning", "ElastiService")
    assert "on fire" in warning["note"]


def test_a_slow_scaler_times_out(kube_cluster: ClusterAPI, namespace: str, crds_installed: None) -> None:
    kube_cluster.create_deployment(namespace, "web", 1)
    STATE["slow"] = {"zero": True, "sleep": 3}
    with kubescale.ScaleHandler(namespace, kubeconfig=kube_cluster.kubeconfig_path) as h:
        h.register_scaler("flag", FlagScaler, timeout=0.5)
        create_es(kube_cluster, namespace, elasti_service("slow", "slow"))
        started = time.monotonic()
        (d,) = h.check_and_scale()
        assert time.monotonic() - started < 2.5
    assert d.error is not None and "took longer than 0.5s" in d.error
    assert spec_replicas(kube_cluster, namespace, DEPLOY) == 1


def test_coroutine_scalers_with_both_handlers(
    loop_handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    flagged_service(kube_cluster, namespace, "coro", "coro", zero=True, replicas=2, trigger_type="async-flag")
    assert loop_handler.check_and_scale()[0].direction == "scale_down"
    STATE["coro"]["zero"] = False

    async def main() -> tuple[list[kubescale.Decision], int]:
        async with kubescale.asyncio.ScaleHandler(namespace, kubeconfig=kube_cluster.kubeconfig_path) as h:
            h.register_scaler("async-flag", AsyncFlagScaler)
            return await h.check_and_scale(), id(asyncio.get_running_loop())

    decisions, loop_id = asyncio.run(main())
    assert decisions[0].direction == "scale_up"
    assert STATE["coro"]["loop"] == loop_id  # ran on the caller's loop
    assert spec_replicas(kube_cluster, namespace, DEPLOY) == 2


def test_keda_is_paused_at_zero_and_resumed(
    loop_handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    kube_cluster.create_deployment(namespace, "web", 1)
    create_scaled_object(kube_cluster, namespace, "web-so")
    so = f"/apis/keda.sh/v1alpha1/namespaces/{namespace}/scaledobjects/web-so"
    STATE["keda"] = {"zero": True}
    create_es(kube_cluster, namespace, elasti_service("k", "keda", keda="web-so"))
    loop_handler.check_and_scale()
    assert annotations_of(kube_cluster, so) == {
        "mine": "kept",
        "autoscaling.keda.sh/paused": "true",
        "autoscaling.keda.sh/paused-replicas": "0",
    }
    STATE["keda"]["zero"] = False
    loop_handler.check_and_scale()
    assert annotations_of(kube_cluster, so) == {"mine": "kept", "autoscaling.keda.sh/paused": "false"}
    assert spec_replicas(kube_cluster, namespace, DEPLOY) == 1


def test_malformed_service_is_an_error_while_others_proceed(
    loop_handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    flagged_service(kube_cluster, namespace, "ok", "ok", zero=True, replicas=1)
    bad_cron = elasti_service("cron", "ok", enabled_period={"schedule": "0 25 * * *", "duration": "1h"})
    create_es(kube_cluster, namespace, bad_cron)
    bad_target = elasti_service("target", "ok")
    bad_target["spec"]["scaleTargetRef"]["name"] = "Not_Valid"
    create_es(kube_cluster, namespace, bad_target)
    d = by_name(loop_handler.check_and_scale())
    # As in KubeElasti, a period that cannot be read prevents scale-down (and says why).
    assert d["cron"].error is None and d["cron"].direction == "scale_up"
    assert "enabledPeriod.schedule" in d["cron"].reason
    assert d["target"].error is not None and "Not_Valid" in d["target"].error
    assert d["ok"].direction == "scale_down"


def test_run_until_close(
    loop_handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    flagged_service(kube_cluster, namespace, "run", "run", zero=True, replicas=2)
    t = threading.Thread(target=loop_handler.run, kwargs={"polling_interval": 0.2})
    t.start()
    try:
        deadline = time.monotonic() + 20
        while spec_replicas(kube_cluster, namespace, DEPLOY) != 0:
            assert time.monotonic() < deadline, "the loop did not scale down"
            time.sleep(0.1)
    finally:
        loop_handler.close()
        t.join(timeout=10)
    assert not t.is_alive()


def test_invalid_polling_interval_env_warns_and_uses_30s(
    kube_cluster: ClusterAPI,
    namespace: str,
    crds_installed: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    capture_kubescale_logs(caplog, logging.WARNING)
    monkeypatch.setenv("POLLING_INTERVAL", "-5s")
    h = kubescale.ScaleHandler(namespace, kubeconfig=kube_cluster.kubeconfig_path)
    t = threading.Thread(target=h.run)
    t.start()
    try:
        deadline = time.monotonic() + 10
        while not any("POLLING_INTERVAL" in r.getMessage() for r in caplog.records):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        h.close()
        t.join(timeout=10)
    assert any("using 30s" in r.getMessage() for r in caplog.records)


async def test_async_run_is_cancellable(
    kube_cluster: ClusterAPI, namespace: str, crds_installed: None
) -> None:
    flagged_service(kube_cluster, namespace, "arun", "arun", zero=True, replicas=2, trigger_type="async-flag")
    async with kubescale.asyncio.ScaleHandler(namespace, kubeconfig=kube_cluster.kubeconfig_path) as h:
        h.register_scaler("async-flag", AsyncFlagScaler)
        task = asyncio.ensure_future(h.run(0.2))
        deadline = time.monotonic() + 20
        while spec_replicas(kube_cluster, namespace, DEPLOY) != 0:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_leader_election_one_process_acts_and_a_follower_takes_over(
    kube_cluster: ClusterAPI, namespace: str, crds_installed: None, tmp_path: Path
) -> None:
    marker = tmp_path / "passes"
    start = leader_election_setup(kube_cluster, namespace, marker)

    def acted() -> set[int]:
        return {int(line.split()[0]) for line in marker.read_text().splitlines()}

    first = start()
    second = None
    try:
        kube_cluster.wait_for(lambda: first.pid in acted(), "the first process leads", 20)
        second = start()
        time.sleep(3)
        assert acted() == {first.pid}, "the follower acted while the leader was alive"
        lease = kube_cluster.request(
            "GET", f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/loop-test"
        )
        assert lease["spec"]["holderIdentity"].endswith(f"-{first.pid}")
        first.kill()  # dies without releasing the lease
        first.wait()
        killed_at = time.monotonic()
        kube_cluster.wait_for(
            lambda: second is not None and second.pid in acted(), "the follower takes over", 15
        )
        assert time.monotonic() - killed_at < 3.0 + 3.0  # within the lease duration (plus a pass)
    finally:
        for p in (first, second):
            if p is not None and p.poll() is None:
                p.terminate()
                p.wait(10)


def test_a_registered_python_scaler_overrides_the_built_in_one(
    kube_cluster: ClusterAPI, namespace: str, crds_installed: None
) -> None:
    kube_cluster.create_deployment(namespace, "web", 1)
    STATE["override"] = {"zero": True}
    # A prometheus trigger whose metadata the built-in scaler would reject.
    create_es(kube_cluster, namespace, elasti_service("o", "override", trigger_type="prometheus"))
    with kubescale.ScaleHandler(namespace, kubeconfig=kube_cluster.kubeconfig_path) as h:
        (before,) = h.check_and_scale()
        assert before.error is not None and "serverAddress" in before.error
        h.register_scaler("prometheus", FlagScaler)
        (after,) = h.check_and_scale()
    assert (after.direction, after.error) == ("scale_down", None)
