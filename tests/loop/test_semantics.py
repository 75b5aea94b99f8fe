"""The loop beside other owners of the replica count, and KubeElasti's semantics where
kubescale makes no deliberate change (docs/compatibility.md lists every difference)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import kubescale
from kubescale.testing import ClusterAPI, LocalCluster

from helpers import (
    DEPLOY,
    STATE,
    FlagScaler,
    by_name,
    create_es,
    elasti_service,
    events_for,
    flagged_service,
    leader_election_setup,
    spec_replicas,
)
from helpers.overlap import most_calls_at_once

ES = "/apis/elasti.truefoundry.com/v1alpha1/namespaces/{ns}/elastiservices/{name}"
OVERLAP = str(Path(__file__).resolve().parents[1] / "helpers" / "overlap.py")


@pytest.fixture
def h(kube_cluster: ClusterAPI, namespace: str, crds_installed: None) -> Iterator[kubescale.ScaleHandler]:
    with kubescale.ScaleHandler(namespace, kubeconfig=kube_cluster.kubeconfig_path) as handler:
        handler.register_scaler("flag", FlagScaler)
        yield handler


def scale_by_hand(cluster: ClusterAPI, ns: str, replicas: int) -> None:
    """What `kubectl scale --replicas=N deploy/web` sends."""
    cluster.request(
        "PATCH",
        f"/apis/apps/v1/namespaces/{ns}/deployments/web/scale",
        {"spec": {"replicas": replicas}},
        content_type="application/merge-patch+json",
    )


def assert_left_alone(
    h: kubescale.ScaleHandler, cluster: ClusterAPI, ns: str, why: str, *, replicas: int
) -> None:
    """A pass decides ``no_scale`` for ``web``, ``why`` in its reason, and its target stays at
    ``replicas``."""
    d = h.check_and_scale_service("web")
    assert d.direction == "no_scale" and why in d.reason, d
    assert spec_replicas(cluster, ns, DEPLOY) == replicas


def test_a_restored_target_belongs_to_its_owners_again(
    h: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    flagged_service(kube_cluster, namespace, "web", "owned", zero=True, replicas=10, min_replicas=2)
    assert h.check_and_scale_service("web").direction == "scale_down"
    assert spec_replicas(kube_cluster, namespace, DEPLOY) == 0
    STATE["owned"]["zero"] = False
    assert h.check_and_scale_service("web").direction == "scale_up"
    assert spec_replicas(kube_cluster, namespace, DEPLOY) == 10, "restored from zero"
    # KEDA, an HPA or a person now owns the count: the loop must not push it back to 10.
    scale_by_hand(kube_cluster, namespace, 3)
    for _ in range(3):
        assert h.check_and_scale_service("web").direction == "scale_up"
    assert spec_replicas(kube_cluster, namespace, DEPLOY) == 3
    # Below minTargetReplicas it is raised to the minimum, as the reference does.
    scale_by_hand(kube_cluster, namespace, 1)
    h.check_and_scale_service("web")
    assert spec_replicas(kube_cluster, namespace, DEPLOY) == 2


def test_a_newer_scale_up_written_elsewhere_holds_the_cooldown(
    h: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    flagged_service(kube_cluster, namespace, "web", "woken", zero=False, replicas=1, cooldown=3)
    assert h.check_and_scale_service("web").direction == "scale_up"  # remembered: now
    time.sleep(3.2)  # the remembered scale-up is a cooldown old
    # Another process (KubeElasti's resolver, a previous leader) woke the target just now.
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    kube_cluster.request(
        "PATCH",
        ES.format(ns=namespace, name="web") + "/status",
        {"status": {"lastScaledUpTime": now}},
        content_type="application/merge-patch+json",
    )
    STATE["woken"]["zero"] = True
    assert_left_alone(h, kube_cluster, namespace, "since the last scale-up", replicas=1)


def test_a_cooldown_of_zero_means_the_900s_default(
    h: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    flagged_service(kube_cluster, namespace, "web", "zero-cool", zero=True, replicas=2, cooldown=0)
    time.sleep(1.1)
    assert_left_alone(h, kube_cluster, namespace, "created less than one cooldown", replicas=2)


def test_an_invalid_enabled_period_keeps_the_target_up_and_says_why(
    h: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    kube_cluster.create_deployment(namespace, "web", 0)  # stranded at zero
    STATE["bad-period"] = {"zero": True}
    period = {"schedule": "every night", "duration": "8h"}
    create_es(kube_cluster, namespace, elasti_service("web", "bad-period", enabled_period=period))
    d = h.check_and_scale_service("web")
    assert (d.direction, d.error) == ("scale_up", None), d
    assert "enabled period" in d.reason
    assert spec_replicas(kube_cluster, namespace, DEPLOY) == 1
    warnings = [e for e in events_for(kube_cluster, namespace, "web") if e["type"] == "Warning"]
    assert [e["reason"] for e in warnings] == ["InvalidEnabledPeriod"]
    assert "enabledPeriod.schedule" in warnings[0]["note"]


def test_empty_schedule_and_duration_take_the_defaults(
    h: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    kube_cluster.create_deployment(namespace, "web", 2)
    STATE["helm"] = {"zero": True}
    period = {"schedule": "", "duration": ""}  # what a Helm chart renders for unset values
    create_es(kube_cluster, namespace, elasti_service("web", "helm", enabled_period=period))
    d = h.check_and_scale_service("web")
    assert (d.direction, d.error) == ("scale_down", None), d
    assert spec_replicas(kube_cluster, namespace, DEPLOY) == 0


def test_triggers_are_asked_in_the_reference_order(
    h: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    for target in ("a", "b"):
        kube_cluster.create_deployment(namespace, target, 0)
    STATE.update({"busy": {"zero": False}, "sick": {"zero": True, "healthy": False}, "idle": {"zero": True}})
    flag = [{"type": "flag", "metadata": {"key": k}} for k in ("busy", "sick", "idle")]
    # The first trigger wants the target up: that decides, the unhealthy one after it is not asked.
    create_es(kube_cluster, namespace, elasti_service("a", "", target="a", triggers=[flag[0], flag[1]]))
    # An unhealthy trigger first: no scaling, the one after it is not asked.
    create_es(kube_cluster, namespace, elasti_service("b", "", target="b", triggers=[flag[1], flag[0]]))
    STATE["sick"]["asked"] = STATE["busy"]["asked"] = 0
    d = by_name(h.check_and_scale())
    assert d["a"].direction == "scale_up", d["a"]
    assert d["b"].direction == "no_scale" and "unhealthy" in d["b"].reason, d["b"]
    assert (STATE["busy"]["asked"], STATE["sick"]["asked"]) == (1, 1)


def test_close_during_a_pass_stops_run_promptly(
    h: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    kube_cluster.create_deployment(namespace, "web", 1)
    STATE["slow"] = {"zero": True, "sleep": 3}
    create_es(kube_cluster, namespace, elasti_service("web", "slow"))
    t = threading.Thread(target=h.run, kwargs={"polling_interval": 120})
    t.start()
    time.sleep(1)  # inside the slow scaler of the first pass
    h.close()
    t.join(timeout=20)
    # Before, the wake-up was lost and run() slept a whole polling interval (120 s).
    assert not t.is_alive()


def _intervals(text: str, killed: dict[int, float]) -> list[tuple[int, float, float]]:
    """(pid, start, end) of each scaler call; a call cut short by a kill ends at the kill."""
    open_calls: dict[int, float] = {}
    out = []
    for line in text.splitlines():
        pid_s, what, at_s = line.split()
        pid, at = int(pid_s), float(at_s)
        if what == "start":
            open_calls[pid] = at
        else:
            out.append((pid, open_calls.pop(pid), at))
    out += [(pid, start, killed.get(pid, float("inf"))) for pid, start in open_calls.items()]
    return out


def test_one_leader_even_when_a_pass_outlasts_the_lease(
    kube_cluster: ClusterAPI, namespace: str, crds_installed: None, tmp_path: Path
) -> None:
    # Passes of 9 s, a Lease of 3 s: the leader must renew while its pass runs, or a follower
    # takes the Lease and both act at once.
    marker = tmp_path / "calls"
    start = leader_election_setup(kube_cluster, namespace, marker, pass_seconds=9)
    lease_path = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/loop-test"

    def callers() -> set[int]:
        return {pid for pid, _, _ in _intervals(marker.read_text(), {})}

    first = start()
    second = None
    killed: dict[int, float] = {}
    try:
        kube_cluster.wait_for(lambda: first.pid in callers(), "the first process leads", 30)
        second = start()
        # Two long passes of the leader (the follower would have taken over in the first).
        kube_cluster.wait_for(
            lambda: (
                sum(
                    1
                    for p, _, e in _intervals(marker.read_text(), {})
                    if p == first.pid and e != float("inf")
                )
                >= 2
            ),
            "two passes of the leader",
            40,
        )
        assert callers() == {first.pid}, "the follower acted while the leader was alive"
        first.kill()  # mid-pass, without releasing the Lease
        first.wait()
        killed[first.pid] = time.time()
        kube_cluster.wait_for(
            lambda: second is not None and second.pid in callers(), "the follower takes over", 30
        )
        calls = sorted(_intervals(marker.read_text(), killed), key=lambda c: c[1])
        for (p1, _, end1), (p2, start2, _) in zip(calls, calls[1:]):
            assert p1 == p2 or start2 >= end1, f"{p1} and {p2} acted at once: {calls}"
        # SIGTERM: the new leader releases the Lease on its way out.
        second.terminate()
        second.wait(20)
        lease = kube_cluster.request("GET", lease_path)
        assert not lease["spec"].get("holderIdentity"), lease["spec"]
    finally:
        for p in (first, second):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait(10)


class Stuck:
    """A scaler whose health check never returns (until the test lets it go)."""

    release = threading.Event()
    calls = 0

    def __init__(self, metadata: dict[str, Any], cooldown: timedelta) -> None:
        pass

    def is_healthy(self) -> bool:
        Stuck.calls += 1
        Stuck.release.wait()
        return True

    def should_scale_to_zero(self) -> bool:
        return True


def test_a_scaler_that_never_returns_costs_its_service_only_and_one_thread(
    kube_cluster: ClusterAPI, namespace: str, loop_handler: kubescale.ScaleHandler
) -> None:
    for target in ("stuck", "fine"):
        kube_cluster.create_deployment(namespace, target, 1)
    STATE["fine"] = {"zero": True}
    create_es(kube_cluster, namespace, elasti_service("stuck", "", target="stuck", trigger_type="stuck"))
    create_es(kube_cluster, namespace, elasti_service("fine", "fine", target="fine"))
    threads = lambda: len(os.listdir("/proc/self/task"))  # noqa: E731
    h = loop_handler
    h.register_scaler("stuck", Stuck, timeout=0.5)
    Stuck.calls = 0
    Stuck.release.clear()
    try:
        first = by_name(h.check_and_scale())
        assert first["stuck"].error and "took longer than 0.5s" in first["stuck"].error
        assert first["fine"].direction == "scale_down" and first["fine"].error is None
        before = threads()
        for _ in range(5):
            d = by_name(h.check_and_scale())
            assert d["stuck"].error and "has not returned yet" in d["stuck"].error, d["stuck"]
        assert Stuck.calls == 1, "the stuck trigger was called again"
        assert threads() <= before + 1
    finally:
        Stuck.release.set()


def overlap_services(kube_cluster: ClusterAPI, namespace: str, services: int) -> None:
    """`services` Deployments, each with an ElastiService whose trigger is an `Overlap` scaler,
    old enough to be decided."""
    for i in range(services):
        kube_cluster.create_deployment(namespace, f"w{i}", 1)
        service = elasti_service(f"s{i}", "", target=f"w{i}", trigger_type="overlap")
        create_es(kube_cluster, namespace, service, age=False)
    time.sleep(1.1)


def most_scaler_calls_at_once(
    kube_cluster: ClusterAPI, namespace: str, services: int, scaler_concurrency: int
) -> int:
    """One pass over `services` services whose scaler takes 0.3 s: checks every decision went
    without error, and returns how many scaler calls ran at once at most."""
    overlap_services(kube_cluster, namespace, services)
    return most_calls_at_once(namespace, kube_cluster.kubeconfig_path, scaler_concurrency, 0.3, services)


def test_scaler_evaluations_are_bounded(
    kube_cluster: ClusterAPI, namespace: str, crds_installed: None
) -> None:
    assert 1 <= most_scaler_calls_at_once(kube_cluster, namespace, 6, scaler_concurrency=2) <= 2


def test_slow_scalers_are_asked_side_by_side_up_to_the_bound(
    kube_cluster: ClusterAPI, namespace: str, crds_installed: None
) -> None:
    """Scaler calls share a few threads that drain a queue; a call that takes long must not
    hold the others back: up to ``scaler_concurrency`` of them run at once."""
    assert most_scaler_calls_at_once(kube_cluster, namespace, 8, scaler_concurrency=4) == 4


def test_short_waits_of_a_scaler_run_side_by_side_too(
    kube_cluster: ClusterAPI, namespace: str, crds_installed: None
) -> None:
    """A scaler that waits 15 ms (a quick metric query, the GIL released) is asked side by side
    as well: a queued call that waits with no thread free gets one. (Before, a thread was added
    only after 20 ms without any call ending, so calls shorter than that kept the pool from
    growing: at most 2 ran at once here.) In a new process, so that no scaler thread of an
    earlier test is there to help."""
    overlap_services(kube_cluster, namespace, 40)
    args = [sys.executable, OVERLAP, namespace, kube_cluster.kubeconfig_path, "4", "0.015", "40"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) >= 3, "short scaler calls ran one or two at a time"


def test_deleting_a_service_restores_the_target_it_held_at_zero(
    h: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    flagged_service(kube_cluster, namespace, "web", "held", zero=True, replicas=4)
    path = ES.format(ns=namespace, name="web")
    assert h.check_and_scale_service("web").direction == "scale_down"
    assert spec_replicas(kube_cluster, namespace, DEPLOY) == 0
    assert kube_cluster.request("GET", path)["metadata"]["finalizers"] == ["kubescale.io/restore"]
    kube_cluster.request("DELETE", path)
    assert kube_cluster.request("GET", path)["metadata"]["deletionTimestamp"], "held by the finalizer"
    (d,) = h.check_and_scale()
    assert d.direction == "scale_up" and "restored to 4" in d.reason, d
    assert spec_replicas(kube_cluster, namespace, DEPLOY) == 4
    kube_cluster.wait_for(lambda: not kube_cluster._exists(path), "the ElastiService is gone", 10)


def test_the_finalizer_is_there_only_while_the_target_is_held_at_zero(
    h: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    flagged_service(kube_cluster, namespace, "web", "fin", zero=False, replicas=2)
    path = ES.format(ns=namespace, name="web")
    h.check_and_scale_service("web")
    assert not kube_cluster.request("GET", path)["metadata"].get("finalizers")
    STATE["fin"]["zero"] = True
    time.sleep(1.1)  # past the cooldown after the scale-up
    assert h.check_and_scale_service("web").direction == "scale_down"
    assert kube_cluster.request("GET", path)["metadata"]["finalizers"] == ["kubescale.io/restore"]
    STATE["fin"]["zero"] = False
    assert h.check_and_scale_service("web").direction == "scale_up"
    assert not kube_cluster.request("GET", path)["metadata"].get("finalizers")
    # A service being deleted whose target is not held by kubescale just goes.
    kube_cluster.request("DELETE", path)
    kube_cluster.wait_for(lambda: not kube_cluster._exists(path), "the ElastiService is gone", 10)


def test_a_dry_pass_decides_as_a_real_one_and_writes_nothing() -> None:
    from helpers import create_scaled_object, install_keda_crd

    rule = {"level": "Metadata", "omitStages": ["RequestReceived"]}
    with LocalCluster(controller_manager=False, audit_rules=[rule]) as cluster:
        ns = cluster.create_namespace(wait_for_service_account=False)
        cluster.create_deployment(ns, "web", 3)
        with kubescale.ScaleHandler(ns, kubeconfig=cluster.kubeconfig_path) as h:
            h.install_crds()
            install_keda_crd(cluster)
            create_scaled_object(cluster, ns, "web-so")
            STATE["dry"] = {"zero": True}
            create_es(cluster, ns, elasti_service("web", "dry", keda="web-so"))
            h.register_scaler("flag", FlagScaler)
            time.sleep(1)
            start = len(cluster.audit_entries())
            dry = h.check_and_scale(dry_run=True)
            time.sleep(0.5)  # entries are written as responses complete
            writes = [
                f"{e['verb']} {e['requestURI']}"
                for e in cluster.audit_entries()[start:]
                if e["verb"] not in ("get", "list", "watch")
            ]
            assert writes == []
            (d,) = dry
            assert (d.direction, d.dry_run, d.error) == ("scale_down", True, None), d
            assert d.actions == [
                "add finalizer kubescale.io/restore",
                "pause KEDA web-so",
                "scale deployment.apps/web 3 \u2192 0",
            ]
            assert "would do" in dry._repr_html_() and "3 \u2192 0" in dry._repr_html_()
            assert spec_replicas(cluster, ns, DEPLOY) == 3
            assert not [e for e in events_for(cluster, ns, "web") if e["reason"] != "InvalidElastiService"]
            # The real pass then does exactly that.
            (real,) = h.check_and_scale()
            assert (real.direction, real.dry_run, real.actions) == ("scale_down", False, d.actions)
            assert spec_replicas(cluster, ns, DEPLOY) == 0


def test_the_lease_is_released_when_run_is_cancelled_or_interrupted(
    kube_cluster: ClusterAPI, namespace: str, crds_installed: None
) -> None:
    import asyncio
    import signal

    import kubescale.asyncio

    lease = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/cancel-test"

    def holder() -> str:
        try:
            return str(kube_cluster.request("GET", lease)["spec"].get("holderIdentity") or "")
        except Exception:
            return ""

    async def cancel_a_running_loop() -> None:
        async with kubescale.asyncio.ScaleHandler(namespace, kubeconfig=kube_cluster.kubeconfig_path) as h:
            task = asyncio.ensure_future(h.run(60, leader_election=True, lease_name="cancel-test"))
            for _ in range(100):
                await asyncio.sleep(0.1)
                if holder():
                    break
            assert holder(), "the loop never took the Lease"
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            for _ in range(50):
                await asyncio.sleep(0.1)
                if not holder():
                    break

    asyncio.run(cancel_a_running_loop())
    assert holder() == "", "a cancelled run released its Lease"

    # Ctrl-C on `kubescale run --leader-election`.
    env = {**os.environ, "KUBECONFIG": kube_cluster.kubeconfig_path}
    cmd = [sys.executable, "-m", "kubescale.cli", "run", "-n", namespace, "--leader-election"]
    cmd += ["--lease-name", "cancel-test", "--polling-interval", "60s"]
    proc = subprocess.Popen(
        cmd, env=env, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL), stderr=subprocess.PIPE
    )
    try:
        kube_cluster.wait_for(lambda: bool(holder()), "the CLI takes the Lease", 20)
        proc.send_signal(signal.SIGINT)
        proc.wait(20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert holder() == "", "Ctrl-C released the Lease"
