"""The loop fed by watches: a steady state sends no request, a change in the cluster is seen
without waiting for the next pass, and the watches recover from an API server restart.

Requests are counted where the API server logs them: its audit log (a private cluster that
audits every request), filtered to what is neither the control plane's nor this test's."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import kubescale
from kubescale.testing import LocalCluster

from helpers import (
    STATE,
    FlagScaler,
    create_es,
    create_scaled_object,
    elasti_service,
    flagged_service,
    install_keda_crd,
    spec_replicas,
    status,
)

DEPLOY = "/apis/apps/v1/namespaces/{ns}/deployments/{name}"


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    rule = {"level": "Metadata", "omitStages": ["RequestReceived"]}
    with LocalCluster(audit_rules=[rule]) as c:
        install_keda_crd(c)
        with kubescale.ScaleHandler(kubeconfig=c.kubeconfig_path) as h:
            h.install_crds()
        yield c


def ours(cluster: LocalCluster, start: int) -> list[str]:
    """kubescale's requests in the audit log from entry `start` on (one line per request): all
    but the control plane's own (users ``system:*``) and this test's (urllib). Not picked by
    kubescale's User-Agent, so that a client sending another one would be counted too."""
    seen: dict[str, str] = {}
    for e in cluster.audit_entries()[start:]:
        user = str(e.get("user", {}).get("username", ""))
        agent = str(e.get("userAgent", ""))
        if not user.startswith("system:") and not agent.startswith("Python-urllib"):
            seen.setdefault(e["auditID"], f"{e['verb']} {e['requestURI']}")
    return list(seen.values())


def passes(h: kubescale.ScaleHandler) -> int:
    m = re.search(r"^kubescale_passes_total (\d+)", h.metrics(), re.M)
    return int(m.group(1)) if m else 0


def wait_for(what: str, check: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def replicas(cluster: LocalCluster, ns: str, name: str) -> int:
    return spec_replicas(cluster, ns, DEPLOY.format(ns=ns, name=name))


def scale_by_hand(cluster: LocalCluster, ns: str, name: str, n: int) -> None:
    """What `kubectl scale` does."""
    cluster.request(
        "PATCH",
        DEPLOY.format(ns=ns, name=name) + "/scale",
        {"spec": {"replicas": n}},
        content_type="application/merge-patch+json",
    )


def settled(cluster: LocalCluster, ns: str) -> bool:
    items = cluster.request("GET", f"/apis/apps/v1/namespaces/{ns}/deployments")["items"]
    return all(
        d.get("status", {}).get("observedGeneration") == d["metadata"]["generation"]
        and d.get("status", {}).get("replicas", 0) == d["spec"].get("replicas", 0)
        for d in items
    )


@pytest.fixture
def loop(cluster: LocalCluster) -> Iterator[Callable[..., tuple[str, kubescale.ScaleHandler]]]:
    """Starts `run` in a thread over a fresh namespace: `loop(interval)` → (namespace, handler)."""
    started: list[tuple[kubescale.ScaleHandler, threading.Thread]] = []

    def start(interval: float, ns: str) -> tuple[str, kubescale.ScaleHandler]:
        h = kubescale.ScaleHandler(ns, kubeconfig=cluster.kubeconfig_path)
        h.register_scaler("flag", FlagScaler)
        t = threading.Thread(target=h.run, kwargs={"polling_interval": interval})
        t.start()
        started.append((h, t))
        return ns, h

    yield start
    for h, t in started:
        h.close()
        t.join(timeout=10)
        assert not t.is_alive()


def serving_and_zero(cluster: LocalCluster, ns: str, key: str) -> None:
    """Two services held at zero (one with KEDA) and two serving (one with KEDA)."""
    for name, n in [("down-0", 2), ("down-1", 2), ("up-0", 1), ("up-1", 1)]:
        cluster.create_deployment(ns, name, n)
    create_scaled_object(cluster, ns, "down-1-so")
    create_scaled_object(cluster, ns, "up-1-so")
    STATE[f"{key}-down"] = {"zero": True}
    STATE[f"{key}-up"] = {"zero": False}
    for name in ["down-0", "down-1"]:
        keda = "down-1-so" if name == "down-1" else ""
        create_es(
            cluster, ns, elasti_service(name, f"{key}-down", target=name, cooldown=2, keda=keda), age=False
        )
    for name in ["up-0", "up-1"]:
        keda = "up-1-so" if name == "up-1" else ""
        create_es(
            cluster, ns, elasti_service(name, f"{key}-up", target=name, cooldown=4, keda=keda), age=False
        )
    time.sleep(4.1)  # older than their cooldowns: the loop may scale them


def steady(ns: str, requests: list[str]) -> list[str]:
    """The requests that a steady state must not send: all but the serving services' status
    writes, which persist `lastScaledUpTime` every quarter cooldown (1 s here) by design."""
    es = rf"/apis/elasti\.truefoundry\.com/v1alpha1/namespaces/{ns}/elastiservices"
    persisted = re.compile(rf"patch {es}/up-\d/status\??")
    return [r for r in requests if not persisted.fullmatch(r)]


def reached(cluster: LocalCluster, ns: str) -> bool:
    return (
        replicas(cluster, ns, "down-0") == 0
        and replicas(cluster, ns, "down-1") == 0
        and all(status(cluster, ns, n).get("mode") == "serve" for n in ("up-0", "up-1"))
        and settled(cluster, ns)
    )


def quiet_window(
    cluster: LocalCluster, h: kubescale.ScaleHandler, seconds: float = 3
) -> tuple[list[str], int]:
    """kubescale's requests, and its passes, over `seconds`."""
    start, before = len(cluster.audit_entries()), passes(h)
    time.sleep(seconds)
    time.sleep(0.3)  # entries are written as responses complete
    return ours(cluster, start), passes(h) - before


def test_a_steady_state_sends_no_request(cluster: LocalCluster, loop: Any) -> None:
    ns, h = loop(0.3, cluster.create_namespace())
    serving_and_zero(cluster, ns, "steady")
    wait_for("the steady state", lambda: reached(cluster, ns), 30)
    time.sleep(1.5)  # the controller-manager's last status writes reach the watches
    requests, n = quiet_window(cluster, h)
    assert n >= 5, f"only {n} passes ran"
    assert steady(ns, requests) == []
    assert len(requests) <= 2 * 5, "more than one status write per serving service per second"
    # Every service was decided in each of those passes.
    assert STATE["steady-up"]["asked"] >= 2 * n and STATE["steady-down"]["asked"] >= 2 * n


def test_a_new_or_edited_service_is_decided_at_once(cluster: LocalCluster, loop: Any) -> None:
    ns, h = loop(600, cluster.create_namespace())
    wait_for("the first pass", lambda: passes(h) >= 1)
    # A cooldown of 3 s: the watch's decision comes well inside it, even on a loaded machine.
    flagged_service(cluster, ns, "web", "new", zero=False, replicas=0, age=False, cooldown=3)
    created = time.monotonic()
    # Long before the next pass (10 minutes away): decided (too young to scale) ...
    wait_for("the new service to be decided", lambda: "lastReconciledTime" in status(cluster, ns, "web"), 10)
    assert replicas(cluster, ns, "web") == 0
    time.sleep(max(0.0, created + 3.1 - time.monotonic()))  # past its cooldown
    # ... and an edit of its spec is acted on at once.
    path = f"/apis/elasti.truefoundry.com/v1alpha1/namespaces/{ns}/elastiservices/web"
    patch = {"spec": {"minTargetReplicas": 2}}
    cluster.request("PATCH", path, patch, content_type="application/merge-patch+json")
    wait_for("the edited service's target to be scaled up", lambda: replicas(cluster, ns, "web") == 2, 10)


def test_a_target_restored_by_hand_is_not_fought(cluster: LocalCluster, loop: Any) -> None:
    ns = cluster.create_namespace()
    flagged_service(cluster, ns, "web", "by-hand", zero=True, replicas=2, cooldown=4)
    loop(0.3, ns)
    wait_for("the loop to hold the target at zero", lambda: replicas(cluster, ns, "web") == 0)
    scale_by_hand(cluster, ns, "web", 3)
    restored = time.monotonic()
    # The triggers still say zero; the restore counts as a scale-up, and the cooldown after it
    # is honoured before the loop takes the target down again.
    while time.monotonic() < restored + 2.5:
        assert replicas(cluster, ns, "web") == 3, "the loop fought a person's kubectl scale"
        time.sleep(0.1)
    assert status(cluster, ns, "web")["mode"] == "serve"
    wait_for("the target to go back to zero after the cooldown", lambda: replicas(cluster, ns, "web") == 0)


def test_watches_recover_from_an_api_server_restart(cluster: LocalCluster, loop: Any) -> None:
    ns, h = loop(0.3, cluster.create_namespace())
    serving_and_zero(cluster, ns, "restart")
    wait_for("the steady state", lambda: reached(cluster, ns), 30)
    cluster.restart_apiserver()
    # A change made while the watches reconnect is seen: the target is brought back.
    scale_by_hand(cluster, ns, "up-0", 0)
    wait_for("the loop to restore up-0", lambda: replicas(cluster, ns, "up-0") == 1)
    wait_for("the deployments to settle", lambda: settled(cluster, ns))
    # Once the watches are back, the steady state is free again.
    deadline = time.monotonic() + 30
    while True:
        requests, n = quiet_window(cluster, h)
        if not steady(ns, requests) and n >= 5:
            break
        assert time.monotonic() < deadline, f"still sending requests after the restart: {requests}"


@pytest.mark.parametrize("zero", [True, False])
def test_passes_outside_run_write_nothing_in_a_steady_state(cluster: LocalCluster, zero: bool) -> None:
    """`check_and_scale()` called by hand reads afresh (no watches), and writes nothing either
    once the steady state is reached."""
    ns = cluster.create_namespace()
    cluster.create_deployment(ns, "web", 1)
    create_scaled_object(cluster, ns, "web-so")
    STATE["by-call"] = {"zero": zero}
    # A cooldown long enough that the stored lastScaledUpTime (rewritten when older than a
    # quarter cooldown, 2 s here) stays fresh over the passes below.
    create_es(cluster, ns, elasti_service("svc", "by-call", keda="web-so", cooldown=8), age=False)
    time.sleep(8.1)
    with kubescale.ScaleHandler(ns, kubeconfig=cluster.kubeconfig_path) as h:
        h.register_scaler("flag", FlagScaler)
        h.check_and_scale()  # reaches the steady state
        wait_for("the deployment to settle", lambda: settled(cluster, ns))
        h.check_and_scale()  # the stored scale-up time is fresh again
        start = len(cluster.audit_entries())
        for _ in range(3):
            (d,) = h.check_and_scale()
            assert d.direction == ("scale_down" if zero else "scale_up") and d.error is None
        time.sleep(0.3)
        writes = [r for r in ours(cluster, start) if r.split()[0] not in ("get", "list", "watch")]
        assert writes == []


def test_a_new_owner_learns_held_counts_from_a_list_not_a_read_each(cluster: LocalCluster, loop: Any) -> None:
    """A takeover: services held at zero by one process; another starts `run()`. Its first pass
    knows every held target's count from a LIST of the type, not from a GET of each scale; and a
    service whose trigger wants it up is still scaled up in that pass."""
    ns = cluster.create_namespace()
    held = 24
    for i in range(held):
        cluster.create_deployment(ns, f"web-{i}", 2)
        create_es(
            cluster, ns, elasti_service(f"svc-{i}", "takeover", target=f"web-{i}", cooldown=2), age=False
        )
    STATE["takeover"] = {"zero": True}
    time.sleep(2.1)  # older than their cooldown: the loop may scale them down
    with kubescale.ScaleHandler(ns, kubeconfig=cluster.kubeconfig_path) as first:
        first.register_scaler("flag", FlagScaler)
        assert {d.direction for d in first.check_and_scale()} == {"scale_down"}
    assert all(replicas(cluster, ns, f"web-{i}") == 0 for i in range(held))
    # The controller-manager's status writes after the scale-down move each Deployment's
    # resourceVersion; the new owner starts once they are done (else a count it listed is older
    # than its watch, and it reads that scale again, as it must).
    wait_for("the Deployments settled at 0", lambda: settled(cluster, ns), 60)
    # One service's trigger turns up as the new owner starts.
    cluster.create_deployment(ns, "woken", 2)
    create_es(cluster, ns, elasti_service("svc-woken", "takeover-up", target="woken", cooldown=2), age=False)
    STATE["takeover-up"] = {"zero": True}
    with kubescale.ScaleHandler(ns, kubeconfig=cluster.kubeconfig_path) as h:
        h.register_scaler("flag", FlagScaler)
        h.scale_to_zero("deploy/woken")
        time.sleep(2.1)
        STATE["takeover-up"] = {"zero": False}
    wait_for("the Deployments settled at 0", lambda: settled(cluster, ns), 60)
    start = len(cluster.audit_entries())
    ns, h = loop(600, ns)
    wait_for("the first pass", lambda: passes(h) >= 1, 60)
    time.sleep(0.3)  # entries are written as responses complete
    requests = ours(cluster, start)
    scale_reads = [r for r in requests if r.startswith("get ") and r.split("?")[0].endswith("/scale")]
    assert scale_reads == [], f"{len(scale_reads)} reads of a scale, e.g. {scale_reads[:3]}"
    lists = [r for r in requests if r.startswith("list /apis/apps/v1/namespaces/") and "/deployments" in r]
    assert 1 <= len(lists) <= 2, lists
    assert replicas(cluster, ns, "woken") == 2, "the service whose trigger wants it up is up"
    assert all(replicas(cluster, ns, f"web-{i}") == 0 for i in range(held))


def test_a_pass_acts_on_its_scale_ups_before_any_other_write(cluster: LocalCluster) -> None:
    """Ten services go to zero and one comes back in the same pass: the one coming back is
    written first, so a user waiting behind it does not wait for the others."""
    ns = cluster.create_namespace()
    for i in range(10):
        cluster.create_deployment(ns, f"idle-{i}", 1)
        create_es(
            cluster, ns, elasti_service(f"idle-{i}", "order-down", target=f"idle-{i}", cooldown=2), age=False
        )
    cluster.create_deployment(ns, "busy", 2)
    create_es(cluster, ns, elasti_service("busy", "order-up", target="busy", cooldown=2), age=False)
    STATE["order-down"] = {"zero": True}
    STATE["order-up"] = {"zero": False}
    with kubescale.ScaleHandler(ns, kubeconfig=cluster.kubeconfig_path) as h:
        h.register_scaler("flag", FlagScaler)
        h.scale_to_zero("deploy/busy")
        time.sleep(2.1)  # older than their cooldown: the loop may scale them
        start = len(cluster.audit_entries())
        decisions = {d.name: d.direction for d in h.check_and_scale()}
    assert decisions["busy"] == "scale_up" and {decisions[f"idle-{i}"] for i in range(10)} == {"scale_down"}
    time.sleep(0.3)  # entries are written as responses complete
    # This pass's writes (the controller-manager writes Deployment status with the same token).
    writes = [
        r
        for r in ours(cluster, start)
        if r.split()[0] in ("patch", "update") and f"/namespaces/{ns}/" in r and not r.endswith("/status")
    ]
    scale_writes = [r.split("?")[0].rsplit("/", 2)[-2] for r in writes if r.split("?")[0].endswith("/scale")]
    assert scale_writes[0] == "busy", scale_writes
    # Nothing else was written before it: no finalizer, status or KEDA write of another service.
    first = next(i for i, r in enumerate(writes) if r.split("?")[0].endswith("/busy/scale"))
    assert all("/busy" in r for r in writes[:first]), writes[: first + 1]
