"""Operating for months: a paused leader writes nothing once another holds its Lease, a deletion
always completes (target kind uninstalled, triggers emptied, spec edited into nonsense, the
namespace deleted), and `release` lets go of every held target before an uninstall."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import kubescale
from kubescale.testing import ClusterAPI, LocalCluster

from helpers import (
    DEPLOY,
    ES_PATH,
    ROOT,
    STATE,
    TEST_GROUP,
    FlagScaler,
    annotations_of,
    crd_manifest,
    create_es,
    create_scaled_object,
    elasti_service,
    events_for,
    flagged_service,
    install_crd,
    namespace_admin_kubeconfig,
    service_account_kubeconfig,
    spec_replicas,
    status,
)
from helpers.logs import capture_kubescale_logs

WORKER = str(ROOT / "tests" / "helpers" / "fenced_worker.py")
WRITES = ["create", "update", "patch", "delete", "deletecollection"]


def _at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _answers(marker: Path, pid: int) -> int:
    return sum(1 for line in marker.read_text().splitlines() if line.split()[0] == str(pid))


def _writes_of(cluster: LocalCluster, ns: str, user: str) -> int:
    return sum(
        1
        for e in cluster.audit_entries()
        if e["objectRef"].get("namespace") == ns
        and e["user"]["username"] == user
        and e["objectRef"].get("resource") != "leases"
    )


def _one_paused_leader_round(cluster: LocalCluster, tmp_path: Path, services: int) -> tuple[int, int]:
    """One round: A leads a scale-down pass over `services` services, is frozen mid-pass (its
    scale-downs under way: a pass acts on them once every service is decided) until B has taken
    the Lease and acted, then resumed. Returns (A's writes before the freeze, A's scaler answers
    then); asserts A sends no write once B holds the Lease."""
    ns = cluster.create_namespace()
    users = {}
    configs = {}
    for who in ("a", "b"):
        configs[who] = namespace_admin_kubeconfig(cluster, ns, f"loop-{who}", tmp_path)
        users[who] = f"system:serviceaccount:{ns}:loop-{who}"
    for i in range(services):
        cluster.create_deployment(ns, f"w{i}", 1)
        es = elasti_service(f"s{i}", "unused", target=f"w{i}", trigger_type="slow-idle")
        create_es(cluster, ns, es, age=False)
    time.sleep(1.2)  # older than their cooldown
    marker = tmp_path / f"{ns}.marker"
    marker.touch()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests")}
    a = subprocess.Popen([sys.executable, WORKER, str(configs["a"]), ns, str(marker)], env=env)
    b = None
    try:
        # A leads and is well into its pass: every service decided, some written, most not.
        cluster.wait_for(lambda: _writes_of(cluster, ns, users["a"]) >= 3, "A's writes under way", 60, 0.01)
        a.send_signal(signal.SIGSTOP)
        answered = _answers(marker, a.pid)
        b = subprocess.Popen([sys.executable, WORKER, str(configs["b"]), ns, str(marker)], env=env)
        assert b is not None
        cluster.wait_for(lambda: _answers(marker, b.pid) >= 8, "B leads and acts", 60)
        a.send_signal(signal.SIGCONT)
        time.sleep(3)  # A wakes with its pass where it was, and its Events queued
    finally:
        for p in (a, b):
            if p is not None:
                p.send_signal(signal.SIGCONT)
                p.terminate()
                p.wait(20)
    time.sleep(0.5)  # entries are written as responses complete
    entries = [e for e in cluster.audit_entries() if e["objectRef"].get("namespace") == ns]
    acquired = min(
        _at(e["stageTimestamp"])
        for e in entries
        if e["user"]["username"] == users["b"]
        and e["objectRef"].get("resource") == "leases"
        and e["responseStatus"]["code"] < 300
    )
    mine = [e for e in entries if e["user"]["username"] == users["a"]]
    late = [
        f"{e['verb']} {e['requestURI']} ({e['responseStatus']['code']})"
        for e in mine
        if _at(e["requestReceivedTimestamp"]) > acquired
        and (e["objectRef"].get("resource") != "leases" or e["responseStatus"]["code"] < 300)
    ]
    assert late == [], f"the paused leader wrote after the other took its Lease: {late}"
    before = [e for e in mine if e["objectRef"].get("resource") != "leases"]
    return len(before), answered


def test_a_paused_leader_sends_no_write_after_another_took_its_lease(tmp_path: Path) -> None:
    # What is in flight at the moment of the freeze varies: a few rounds.
    rule = {"level": "Metadata", "omitStages": ["RequestReceived"], "verbs": WRITES}
    services = 120
    with LocalCluster(audit_rules=[rule]) as cluster:
        with kubescale.ScaleHandler(kubeconfig=cluster.kubeconfig_path) as h:
            h.install_crds()
        for _ in range(3):
            wrote, answered = _one_paused_leader_round(cluster, tmp_path, services)
            print(f"frozen after {answered} answers and {wrote} writes; none after the takeover")
            # The freeze came mid-pass: A had written for some services, not for all (each
            # service's scale-down is a finalizer, a scale and a status write).
            assert 0 < wrote < 3 * services, (wrote, answered)


def gadget_crd(kube_cluster: ClusterAPI) -> str:
    manifest = crd_manifest("gadgets", "Gadget", [("v1", True, True)])
    install_crd(kube_cluster, manifest)
    return str(manifest["metadata"]["name"])


def held_gadget(h: kubescale.ScaleHandler, kube_cluster: ClusterAPI, ns: str, key: str) -> str:
    """A Gadget (a CRD kind) at 2 replicas held at zero by the service `svc`; its path."""
    kube_cluster.request(
        "POST",
        f"/apis/{TEST_GROUP}/v1/namespaces/{ns}/gadgets",
        {
            "apiVersion": f"{TEST_GROUP}/v1",
            "kind": "Gadget",
            "metadata": {"name": "g"},
            "spec": {"replicas": 2},
        },
    )
    STATE[key] = {"zero": True}
    es = elasti_service("svc", key, target="g")
    es["spec"]["scaleTargetRef"] = {"apiVersion": f"{TEST_GROUP}/v1", "kind": "Gadget", "name": "g"}
    create_es(kube_cluster, ns, es)
    h.register_scaler("flag", FlagScaler)
    h.reset_discovery()
    assert h.check_and_scale_service("svc").direction == "scale_down"
    path = f"{ES_PATH.format(ns=ns)}/svc"
    assert kube_cluster.request("GET", path)["metadata"]["finalizers"] == ["kubescale.io/restore"]
    return path


def uninstall_crd(kube_cluster: ClusterAPI, name: str) -> None:
    path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"
    kube_cluster.request("DELETE", path)
    kube_cluster.wait_for(lambda: not kube_cluster._exists(path), f"CRD {name} gone", 60)


def gone(kube_cluster: ClusterAPI, path: str) -> bool:
    return not kube_cluster._exists(path)


def test_a_held_service_whose_target_kind_was_uninstalled_is_deleted(
    kube_cluster: ClusterAPI, namespace: str, crds_installed: None
) -> None:
    crd = gadget_crd(kube_cluster)
    with kubescale.ScaleHandler(namespace, kubeconfig=kube_cluster.kubeconfig_path) as h:
        path = held_gadget(h, kube_cluster, namespace, "uninstalled")
        uninstall_crd(kube_cluster, crd)  # the operator of Gadgets is uninstalled
        kube_cluster.request("DELETE", path)
        (d,) = h.check_and_scale()
        assert d.error is None and "Gadget" in d.reason and "not restored" in d.reason, d
        assert d.actions == ["remove finalizer kubescale.io/restore"], d
        kube_cluster.wait_for(lambda: gone(kube_cluster, path), "the ElastiService is gone", 10)
        (warning,) = [
            e for e in events_for(kube_cluster, namespace, "svc") if e["reason"] == "FailedToRestore"
        ]
        assert warning["type"] == "Warning" and "Gadget" in warning["note"], warning
        assert "finalizer was removed" in warning["note"], warning
        # The handler stays usable.
        assert h.check_and_scale() == []


def held_at_zero(h: kubescale.ScaleHandler, cluster: ClusterAPI, ns: str, key: str, *, replicas: int) -> str:
    """An ElastiService ``web`` whose flag ``key`` allows zero, its Deployment at ``replicas``,
    held at zero by a pass of ``h``. Returns the service's API path."""
    flagged_service(cluster, ns, "web", key, zero=True, replicas=replicas)
    assert h.check_and_scale_service("web").direction == "scale_down"
    return f"{ES_PATH.format(ns=ns)}/web"


def test_a_held_service_whose_triggers_were_emptied_is_deleted_and_its_target_restored(
    kube_cluster: ClusterAPI, namespace: str, loop_handler: kubescale.ScaleHandler
) -> None:
    h = loop_handler
    path = held_at_zero(h, kube_cluster, namespace, "emptied", replicas=3)
    # A Helm value went missing: no triggers any more. Then the service is deleted.
    kube_cluster.request(
        "PATCH", path, {"spec": {"triggers": []}}, content_type="application/merge-patch+json"
    )
    assert "spec.triggers" in (h.check_and_scale_service("web").error or "")
    kube_cluster.request("DELETE", path)
    (d,) = h.check_and_scale()
    assert (d.direction, d.error) == ("scale_up", None) and "restored to 3" in d.reason, d
    assert spec_replicas(kube_cluster, namespace, DEPLOY) == 3
    kube_cluster.wait_for(lambda: gone(kube_cluster, path), "the ElastiService is gone", 10)


def test_a_held_service_edited_into_nonsense_is_deleted(
    kube_cluster: ClusterAPI, namespace: str, loop_handler: kubescale.ScaleHandler
) -> None:
    h = loop_handler
    path = held_at_zero(h, kube_cluster, namespace, "nonsense", replicas=2)
    nonsense = {"apiVersion": "not a version//", "kind": "", "name": "Not A Name"}
    kube_cluster.request(
        "PATCH",
        path,
        {"spec": {"scaleTargetRef": nonsense, "minTargetReplicas": 2}},
        content_type="application/merge-patch+json",
    )
    kube_cluster.request("DELETE", path)
    (d,) = h.check_and_scale()
    assert d.error is None and "not restored" in d.reason, d
    kube_cluster.wait_for(lambda: gone(kube_cluster, path), "the ElastiService is gone", 10)
    (warning,) = [e for e in events_for(kube_cluster, namespace, "web") if e["reason"] == "FailedToRestore"]
    assert "scaleTargetRef" in warning["note"] or "invalid target" in warning["note"], warning
    # Nothing a user owns was touched beyond what they asked: the Deployment stays as it was.
    assert spec_replicas(kube_cluster, namespace, DEPLOY) == 0


def test_a_namespace_holding_a_service_whose_target_kind_is_gone_is_deleted(
    kube_cluster: ClusterAPI, crds_installed: None
) -> None:
    crd = gadget_crd(kube_cluster)
    ns = kube_cluster.create_namespace()
    with kubescale.ScaleHandler(ns, kubeconfig=kube_cluster.kubeconfig_path) as h:
        held_gadget(h, kube_cluster, ns, "namespace")
        uninstall_crd(kube_cluster, crd)
        kube_cluster.delete_namespace(ns)
        deadline = time.monotonic() + 60
        while kube_cluster._exists(f"/api/v1/namespaces/{ns}"):
            assert time.monotonic() < deadline, "the namespace is stuck in Terminating"
            h.check_and_scale()
            time.sleep(0.5)


def kubescale_cli(kube_cluster: ClusterAPI, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": kube_cluster.kubeconfig_path}
    cmd = [sys.executable, "-m", "kubescale.cli", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)


def test_release_restores_every_held_target_and_leaves_no_finalizer(
    kube_cluster: ClusterAPI, namespace: str, loop_handler: kubescale.ScaleHandler
) -> None:
    counts = {"a": 2, "b": 5, "c": 1}
    for name, n in counts.items():
        kube_cluster.create_deployment(namespace, name, n)
        STATE[f"release-{name}"] = {"zero": True}
        create_es(kube_cluster, namespace, elasti_service(name, f"release-{name}", target=name), age=False)
    create_scaled_object(kube_cluster, namespace, "b-so")
    kube_cluster.request(
        "PATCH",
        f"{ES_PATH.format(ns=namespace)}/b",
        {"spec": {"autoscaler": {"type": "keda", "name": "b-so"}}},
        content_type="application/merge-patch+json",
    )
    # A service the loop does not hold (its target serves) is left alone.
    flagged_service(kube_cluster, namespace, "busy", "release-busy", zero=False, replicas=4, target="busy")
    so = f"/apis/keda.sh/v1alpha1/namespaces/{namespace}/scaledobjects/b-so"
    deploy = "/apis/apps/v1/namespaces/{ns}/deployments/"
    h = loop_handler
    directions = {d.name: d.direction for d in h.check_and_scale()}
    assert directions == {"a": "scale_down", "b": "scale_down", "c": "scale_down", "busy": "scale_up"}
    assert annotations_of(kube_cluster, so)["autoscaling.keda.sh/paused"] == "true"

    # The dry run says what it would do and writes nothing.
    dry = kubescale_cli(kube_cluster, "release", "-n", namespace, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "dry run" in dry.stdout and "scale deployment.apps/b 0 \u2192 5" in dry.stdout, dry.stdout
    assert spec_replicas(kube_cluster, namespace, deploy + "b") == 0

    done = kubescale_cli(kube_cluster, "release", "-n", namespace, "-o", "json")
    assert done.returncode == 0, done.stderr
    released = {d["name"]: d for d in json.loads(done.stdout)}
    assert set(released) == {"a", "b", "c"}, released
    assert "resume KEDA b-so" in released["b"]["actions"], released["b"]
    for name, n in counts.items():
        assert spec_replicas(kube_cluster, namespace, deploy + name) == n, name
        es = kube_cluster.request("GET", f"{ES_PATH.format(ns=namespace)}/{name}")
        assert not es["metadata"].get("finalizers"), es["metadata"]
        assert status(kube_cluster, namespace, name)["mode"] == "serve"
    assert spec_replicas(kube_cluster, namespace, deploy + "busy") == 4
    ann = annotations_of(kube_cluster, so)
    assert ann["autoscaling.keda.sh/paused"] == "false" and "autoscaling.keda.sh/paused-replicas" not in ann
    assert ann["mine"] == "kept"
    # Nothing is held any more; a second release has nothing to do.
    again = kubescale_cli(kube_cluster, "release", "-n", namespace)
    assert again.returncode == 0 and "No ElastiService is held" in again.stdout, again
    # Either -n or -A.
    both = kubescale_cli(kube_cluster, "release", "-n", namespace, "-A")
    assert both.returncode == 2 and "either" in both.stderr, both


def test_release_all_namespaces_from_python(kube_cluster: ClusterAPI, crds_installed: None) -> None:
    spaces = [kube_cluster.create_namespace(wait_for_service_account=False) for _ in range(2)]
    for ns in spaces:
        kube_cluster.create_deployment(ns, "web", 3)
        STATE[f"all-{ns}"] = {"zero": True}
        create_es(kube_cluster, ns, elasti_service("web", f"all-{ns}"), age=False)
    time.sleep(1.2)
    with kubescale.ScaleHandler(kubeconfig=kube_cluster.kubeconfig_path) as h:
        h.register_scaler("flag", FlagScaler)
        for ns in spaces:
            assert h.check_and_scale_service("web", namespace=ns).direction == "scale_down"
        released = [d for d in h.release_all() if d.namespace in spaces]
        assert sorted(d.namespace for d in released) == sorted(spaces)
        assert all(d.error is None and "restored to 3" in d.reason for d in released), released
        for ns in spaces:
            assert spec_replicas(kube_cluster, ns, DEPLOY) == 3
            assert not kube_cluster.request("GET", f"{ES_PATH.format(ns=ns)}/web")["metadata"].get(
                "finalizers"
            )
    for ns in spaces:
        kube_cluster.delete_namespace(ns)


def test_a_release_refused_for_a_reason_that_may_pass_keeps_the_service_held(
    kube_cluster: ClusterAPI, namespace: str, loop_handler: kubescale.ScaleHandler, tmp_path: Path
) -> None:
    """RBAC that lets a user read and edit ElastiServices but not scale: the release of the
    target is refused (403, which an admin may fix), so the finalizer stays and the command
    says so (exit 1); the finalizer is never dropped with the target left at zero."""
    flagged_service(kube_cluster, namespace, "web", "keep", zero=True, replicas=2)
    path = f"{ES_PATH.format(ns=namespace)}/web"
    h = loop_handler
    assert h.check_and_scale_service("web").direction == "scale_down"
    rules = [
        {
            "apiGroups": ["elasti.truefoundry.com"],
            "resources": ["elastiservices", "elastiservices/status"],
            "verbs": ["get", "list", "watch", "patch", "update"],
        },
        {
            "apiGroups": ["apps"],
            "resources": ["deployments", "deployments/scale"],
            "verbs": ["get", "list", "watch"],
        },
    ]
    kube_cluster.request(
        "POST",
        f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/roles",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "no-scale"},
            "rules": rules,
        },
    )
    kube_cluster.request(
        "POST",
        f"/api/v1/namespaces/{namespace}/serviceaccounts",
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "no-scale"}},
    )
    kube_cluster.request(
        "POST",
        f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/rolebindings",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "no-scale"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "no-scale"},
            "subjects": [{"kind": "ServiceAccount", "name": "no-scale", "namespace": namespace}],
        },
    )
    config = service_account_kubeconfig(kube_cluster, namespace, "no-scale", tmp_path)
    with kubescale.ScaleHandler(namespace, kubeconfig=str(config), record_events=False) as h:
        (d,) = h.release_all()
        assert d.error and "forbidden" in d.error.lower(), d
    assert kube_cluster.request("GET", path)["metadata"]["finalizers"] == ["kubescale.io/restore"]
    assert spec_replicas(kube_cluster, namespace, DEPLOY) == 0
    env = {**os.environ, "KUBECONFIG": str(config)}
    cli = subprocess.run(
        [sys.executable, "-m", "kubescale.cli", "release", "-n", namespace],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cli.returncode == 1 and "web" in cli.stdout, cli


def test_an_outage_is_one_warning_when_it_starts_and_one_when_it_ends(caplog: Any) -> None:
    import logging
    import threading

    with LocalCluster(controller_manager=False) as cluster:
        ns = cluster.create_namespace(wait_for_service_account=False)
        with kubescale.ScaleHandler(ns, kubeconfig=cluster.kubeconfig_path, timeout=2) as h:
            h.install_crds()
            capture_kubescale_logs(caplog, logging.WARNING)
            loop = threading.Thread(target=h.run, args=(0.2,), daemon=True)
            loop.start()
            time.sleep(1)
            cluster.stop_apiserver()
            time.sleep(5)  # some 20 polling intervals
            cluster.start_apiserver()
            cluster.wait_for(
                lambda: any("succeed again" in r.getMessage() for r in caplog.records), "a pass succeeds", 30
            )
            h.close()
            loop.join(10)
    failed = [r for r in caplog.records if "pass failed" in r.getMessage()]
    again = [r for r in caplog.records if "succeed again" in r.getMessage()]
    assert len(failed) == 1 and len(again) == 1, [r.getMessage() for r in caplog.records]


def test_a_watch_answered_410_gone_relists_and_misses_no_change(caplog: Any) -> None:
    """etcd compacts its history (every 5 minutes in a real cluster): a watch that resumes from
    a compacted revision is answered `410 Gone`. The loop's watches end every second here (a
    2 s timeout) and resume from their last revision; etcd is compacted after each new service,
    so resumes meet 410. Every service created meanwhile is still decided: none is missed."""
    import logging
    import threading

    with LocalCluster(controller_manager=False, apiserver_args=["--watch-cache=false"]) as cluster:
        ns = cluster.create_namespace(wait_for_service_account=False)
        with kubescale.ScaleHandler(ns, kubeconfig=cluster.kubeconfig_path, timeout=2) as h:
            h.install_crds()
            h.register_scaler("flag", FlagScaler)
            capture_kubescale_logs(caplog, logging.WARNING)
            loop = threading.Thread(target=h.run, args=(0.3,), daemon=True)
            loop.start()
            names = [f"s{i}" for i in range(6)]
            for name in names:
                STATE[f"gone-{name}"] = {"zero": True}
                create_es(cluster, ns, elasti_service(name, f"gone-{name}", target=name), age=False)
                # Writes after it move etcd's revision past what the watches saw last; the
                # compaction then takes the revision they resume from.
                cluster.create_deployment(ns, name, 2)
                cluster.request(
                    "POST",
                    f"/api/v1/namespaces/{ns}/configmaps",
                    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"bump-{name}"}},
                )
                cluster.compact_etcd()
                time.sleep(1.5)  # a watch resumes meanwhile
            path = "/apis/apps/v1/namespaces/{ns}/deployments/"

            def all_decided() -> bool:
                return all(spec_replicas(cluster, ns, path + n) == 0 for n in names)

            cluster.wait_for(all_decided, "every service decided (none missed)", 60)
            h.close()
            loop.join(10)
    # What the API server answers a watch from a compacted revision (410 Gone, reason Expired).
    gone = [
        r.getMessage() for r in caplog.records if "too old" in r.getMessage() and "Expired" in r.getMessage()
    ]
    assert gone, [r.getMessage() for r in caplog.records]
