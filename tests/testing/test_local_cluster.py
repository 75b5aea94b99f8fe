"""LocalCluster: starts, serves with TLS verification on, stops without leftovers, fails clearly."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

import kubescale
from kubescale.testing import ClusterAPI, ControlPlaneError, LocalCluster


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); check its state.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_start_and_stop_leave_no_process_or_directory() -> None:
    with LocalCluster() as cluster:
        pids = cluster.pids
        directory = cluster.dir
        assert set(pids) == {"etcd", "kube-apiserver", "kube-controller-manager"}
        assert all(alive(p) for p in pids.values())
        assert cluster.request("GET", "/readyz") == "ok"
    assert not any(alive(p) for p in pids.values())
    assert directory is not None and not directory.exists()


def test_processes_stop_when_the_body_raises() -> None:
    pids: dict[str, int] = {}
    with pytest.raises(RuntimeError, match="boom"), LocalCluster() as cluster:
        pids = cluster.pids
        raise RuntimeError("boom")
    assert pids and not any(alive(p) for p in pids.values())


def test_kubectl_and_the_rust_client_connect_with_tls_verification(
    kube_cluster: ClusterAPI, tmp_path: Path
) -> None:
    cfg = json.loads(Path(kube_cluster.kubeconfig_path).read_text())
    cluster_entry = cfg["clusters"][0]["cluster"]
    assert "insecure-skip-tls-verify" not in cluster_entry
    assert cluster_entry["certificate-authority-data"]

    out = subprocess.run(
        [
            "kubectl",
            "--kubeconfig",
            kube_cluster.kubeconfig_path,
            "get",
            "namespace",
            "default",
            "-o",
            "name",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "namespace/default"

    handler = kubescale.ScaleHandler(kubeconfig=kube_cluster.kubeconfig_path)
    assert handler.resolve("deploy").kind == "Deployment"

    # The same kubeconfig with another CA must be refused by both clients: verification is on.
    with LocalCluster() as other:
        foreign_ca = json.loads(Path(other.kubeconfig_path).read_text())["clusters"][0]["cluster"][
            "certificate-authority-data"
        ]
    cluster_entry["certificate-authority-data"] = foreign_ca
    bad = tmp_path / "bad-ca.kubeconfig"
    bad.write_text(json.dumps(cfg))
    out = subprocess.run(
        ["kubectl", "--kubeconfig", str(bad), "get", "namespace", "default"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode != 0
    assert "certificate" in out.stderr.lower()
    with pytest.raises(kubescale.ApiUnavailableError, match=r"(?i)certificate"):
        kubescale.ScaleHandler(kubeconfig=bad).resolve("deploy")


def test_port_collision_reports_the_components_log() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(ControlPlaneError) as err:
            LocalCluster(apiserver_port=port, start_timeout=30).start()
    assert err.value.component == "kube-apiserver"
    assert "address already in use" in err.value.log_tail
    assert "address already in use" in str(err.value)


def test_a_component_that_dies_at_start_reports_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kubescale.testing.cluster import find_binary

    assets = tmp_path / "assets"
    assets.mkdir()
    for name in ("etcd", "kube-controller-manager"):
        (assets / name).symlink_to(find_binary(name))
    (assets / "kube-apiserver").write_text("#!/bin/sh\necho 'simulated start failure' >&2\nexit 3\n")
    (assets / "kube-apiserver").chmod(0o755)
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(assets))
    with pytest.raises(ControlPlaneError) as err:
        LocalCluster(start_timeout=30).start()
    assert err.value.component == "kube-apiserver"
    assert "simulated start failure" in str(err.value)


def test_two_clusters_run_side_by_side() -> None:
    with LocalCluster() as a, LocalCluster() as b:
        assert a.server != b.server
        a.create_namespace("only-in-a")
        names_b = [n["metadata"]["name"] for n in b.request("GET", "/api/v1/namespaces")["items"]]
        assert "only-in-a" not in names_b
        for c in (a, b):
            assert kubescale.ScaleHandler(kubeconfig=c.kubeconfig_path).resolve("sts").kind == "StatefulSet"


def test_mark_pods_ready_moves_ready_replicas(kube_cluster: ClusterAPI, namespace: str) -> None:
    kube_cluster.create_deployment(namespace, "web", 2)
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments/web"
    kube_cluster.wait_for(lambda: kube_cluster.mark_pods_ready(namespace, "app=web") == 2, "two pods marked")
    kube_cluster.wait_for(
        lambda: kube_cluster.request("GET", path)["status"].get("readyReplicas") == 2, "readyReplicas == 2"
    )


def test_handler_survives_an_apiserver_restart(tmp_path: Path) -> None:
    with LocalCluster() as cluster:
        ns = cluster.create_namespace()
        cluster.create_deployment(ns, "web", 1)
        handler = kubescale.ScaleHandler(kubeconfig=cluster.kubeconfig_path, timeout=10)
        assert handler.scale("deploy/web", 2, namespace=ns).changed
        cluster.restart_apiserver()
        deadline = time.monotonic() + 30
        while True:
            try:
                assert handler.scale("deploy/web", 3, namespace=ns).replicas == 3
                break
            except kubescale.ApiUnavailableError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert handler.get_scale("deploy/web", namespace=ns).spec_replicas == 3


def test_up_command_prints_the_kubeconfig_and_stops_on_ctrl_c() -> None:
    import signal
    import sys

    from kubescale.testing import KubeconfigCluster

    proc = subprocess.Popen(
        [sys.executable, "-m", "kubescale.testing", "up"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A shell running the tests in the background makes them inherit an ignored SIGINT:
        # the child gets Python's own handler back, as a terminal's process has it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("export KUBECONFIG="), line
        path = line.split("=", 1)[1]
        assert (
            KubeconfigCluster(path).request("GET", "/api/v1/namespaces/default")["metadata"]["name"]
            == "default"
        )
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    assert not Path(path).exists()


def test_discovery_happens_once_per_handler_as_the_audit_log_shows() -> None:
    rule = {"level": "Metadata", "nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*"]}
    with LocalCluster(controller_manager=False, audit_rules=[rule]) as cluster:
        ns = cluster.create_namespace(wait_for_service_account=False)
        for name in ("a", "b"):
            cluster.create_deployment(ns, name, 1)
        before = len(cluster.audit_entries())
        h = kubescale.ScaleHandler(ns, kubeconfig=cluster.kubeconfig_path)
        h.scale("deploy/a", 2)
        # Entries are written as responses complete: wait for the last of the first call's.
        cluster.wait_for(
            lambda: "/apis/apps/v1" in {e["requestURI"] for e in cluster.audit_entries()[before:]},
            "the first call's discovery in the audit log",
            timeout=10,
        )
        time.sleep(0.5)
        first = cluster.audit_entries()[before:]
        assert {e["requestURI"] for e in first} >= {"/api", "/apis", "/apis/apps/v1"}
        for i in range(10):
            h.scale("deploy/b", 2 + i % 2)
            h.get_scale("deployments.apps/a")
        time.sleep(0.5)
        assert cluster.audit_entries()[before + len(first) :] == []
