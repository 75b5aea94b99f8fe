"""The ScaleHandler as real processes and real clusters use it: forked workers, the
controller-manager writing status between our read and our write, CRDs whose replicas live
elsewhere, credentials inside URLs, long pod names, failing credential plugins."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import kubescale
import kubescale.asyncio
from kubescale.testing import ClusterAPI, LocalCluster

from helpers import TEST_GROUP, crd_manifest, create_es, elasti_service, events_for, install_crd

FORK = multiprocessing.get_context("fork")


def _new_handler_in_child(kubeconfig: str, ns: str, out: Any) -> None:
    try:
        with kubescale.ScaleHandler(ns, kubeconfig=kubeconfig) as h:
            sync = h.scale("deploy/web", 2).replicas
            decision = h.check_and_scale_service("prom")

        async def run_async() -> int:
            async with kubescale.asyncio.ScaleHandler(ns, kubeconfig=kubeconfig) as ah:
                return (await ah.scale("deploy/web", 3)).replicas

        out.put(("ok", sync, asyncio.run(run_async()), decision.error or ""))
    except BaseException as e:  # reported to the parent
        out.put(("error", repr(e)))


def _old_handler_in_child(h: kubescale.ScaleHandler, out: Any) -> None:
    try:
        h.get_scale("deploy/web")
        out.put(("no error",))
    except kubescale.HandlerClosedError as e:
        out.put(("closed", str(e)))
    except BaseException as e:
        out.put(("error", repr(e)))


def _run_child(target: Any, *args: Any) -> tuple[Any, ...]:
    out = FORK.Queue()
    child = FORK.Process(target=target, args=(*args, out))
    child.start()
    child.join(60)
    if child.is_alive():
        child.kill()
        pytest.fail("the forked child hung")
    result: tuple[Any, ...] = out.get(timeout=5)
    return result


def test_a_handler_made_after_a_fork_works_in_the_child(
    kube_cluster: ClusterAPI, namespace: str, crds_installed: None
) -> None:
    kube_cluster.create_deployment(namespace, "web", 1)
    # A Prometheus trigger nobody answers: the built-in scaler's HTTP client is used too.
    es = elasti_service("prom", "unused", cooldown=1)
    es["spec"]["triggers"] = [
        {
            "type": "prometheus",
            "metadata": {"serverAddress": "http://127.0.0.1:9", "query": "up", "threshold": "1"},
        }
    ]
    create_es(kube_cluster, namespace, es)
    time.sleep(1.2)
    with kubescale.ScaleHandler(namespace, kubeconfig=kube_cluster.kubeconfig_path) as parent:
        # The parent uses the runtime, the API client and the Prometheus client before forking.
        assert parent.scale("deploy/web", 4).replicas == 4
        assert parent.check_and_scale_service("prom").error
        result = _run_child(_new_handler_in_child, kube_cluster.kubeconfig_path, namespace)
        assert result[0] == "ok", result
        assert result[1:3] == (2, 3)
        assert "127.0.0.1:9" in result[3], result
        # The parent goes on as before.
        assert parent.scale("deploy/web", 1).previous == 3


def test_a_handler_made_before_a_fork_says_so_in_the_child(kube_cluster: ClusterAPI, namespace: str) -> None:
    kube_cluster.create_deployment(namespace, "web", 1)
    with kubescale.ScaleHandler(namespace, kubeconfig=kube_cluster.kubeconfig_path) as h:
        h.get_scale("deploy/web")
        result = _run_child(_old_handler_in_child, h)
        assert result[0] == "closed", result
        assert "before a fork" in result[1] and "create a new ScaleHandler" in result[1]
        assert h.get_scale("deploy/web").spec_replicas == 1, "still usable in the parent"


def observed(cluster: ClusterAPI, ns: str) -> bool:
    """Whether the controller-manager has written status for the Deployment's latest spec."""
    d = cluster.request("GET", f"/apis/apps/v1/namespaces/{ns}/deployments/web")
    return bool(d["status"].get("observedGeneration") == d["metadata"]["generation"])


def test_a_repeated_change_is_one_request_while_the_controller_manager_writes_status() -> None:
    # On a real cluster the controller-manager updates the Deployment's status right after every
    # scale. A write that carried the resourceVersion read before would conflict almost every
    # time (PUT, 409, GET, PATCH); the tested patch does not.
    rule = {"level": "Metadata", "resources": [{"group": "apps", "resources": ["deployments/scale"]}]}
    with LocalCluster(audit_rules=[rule]) as cluster:
        ns = cluster.create_namespace(wait_for_service_account=False)
        cluster.create_deployment(ns, "web", 1)
        changes = [2, 3, 4, 5, 2, 1]
        with kubescale.ScaleHandler(ns, kubeconfig=cluster.kubeconfig_path, record_events=False) as h:
            h.scale("deploy/web", 3)  # first touch: a read and a write
            for n in changes:
                # Pods become ready, and the controller-manager writes status for the last change.
                cluster.mark_pods_ready(ns)
                cluster.wait_for(lambda: observed(cluster, ns), "the controller-manager observed the change")
                assert h.scale("deploy/web", n).replicas == n
        time.sleep(0.5)  # entries are written as responses complete
        entries = [e for e in cluster.audit_entries() if e["objectRef"].get("namespace") == ns]
        repeated = entries[2:]
        per_change = len(repeated) / len(changes)
        print(f"requests per repeated change with the controller-manager running: {per_change:.2f}")
        assert [e["verb"] for e in repeated] == ["patch"] * len(changes), [e["verb"] for e in repeated]


def test_wait_follows_a_crd_whose_replicas_live_elsewhere(kube_cluster: ClusterAPI, namespace: str) -> None:
    manifest = crd_manifest("pools", "Pool", [("v1", True, True)])
    for version in manifest["spec"]["versions"]:
        version["subresources"]["scale"]["statusReplicasPath"] = ".status.currentReplicas"
        status = version["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]
        status["currentReplicas"] = {"type": "integer"}
    install_crd(kube_cluster, manifest)
    path = f"/apis/{TEST_GROUP}/v1/namespaces/{namespace}/pools"
    kube_cluster.request(
        "POST",
        path,
        {
            "apiVersion": f"{TEST_GROUP}/v1",
            "kind": "Pool",
            "metadata": {"name": "p"},
            "spec": {"replicas": 1},
        },
    )
    with kubescale.ScaleHandler(namespace, kubeconfig=kube_cluster.kubeconfig_path) as h:
        h.reset_discovery()
        assert h.scale(f"pools.{TEST_GROUP}/p", 3).replicas == 3

        def pool_controller() -> None:
            time.sleep(1)
            kube_cluster.request(
                "PATCH",
                f"{path}/p/status",
                {"status": {"currentReplicas": 3}},
                content_type="application/merge-patch+json",
            )

        threading.Thread(target=pool_controller, daemon=True).start()
        scale = h.wait_for_replicas(f"pools.{TEST_GROUP}/p", timeout=20)
        assert (scale.spec_replicas, scale.status_replicas) == (3, 3)


def test_credentials_in_a_prometheus_url_appear_nowhere(
    kube_cluster: ClusterAPI, namespace: str, crds_installed: None, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "s3cr3t-t0ken"
    kube_cluster.create_deployment(namespace, "web", 1)
    es = elasti_service("creds", "unused", cooldown=1)
    address = f"http://scaler:{secret}@127.0.0.1:9/prom?access_token={secret}"
    es["spec"]["triggers"] = [
        {"type": "prometheus", "metadata": {"serverAddress": address, "query": "up", "threshold": "1"}}
    ]
    create_es(kube_cluster, namespace, es)
    time.sleep(1.2)
    caplog.set_level(1, logger="kubescale")
    logging.getLogger().setLevel(1)
    try:
        kubescale.reset_logging()
        with kubescale.ScaleHandler(namespace, kubeconfig=kube_cluster.kubeconfig_path) as h:
            decision = h.check_and_scale_service("creds")
            assert decision.error and "127.0.0.1:9" in decision.error, decision
            shown = [decision.error, repr(decision), decision._repr_html_()]
            shown += [e.note for e in h.events("elastiservice/creds")]
    finally:
        logging.getLogger().setLevel(logging.WARNING)
        kubescale.reset_logging()
    shown += [r.getMessage() for r in caplog.records]
    shown += [e.get("note", "") for e in events_for(kube_cluster, namespace, "creds")]
    assert any("REDACTED" in s for s in shown), shown
    assert not [s for s in shown if secret in s]


def test_a_long_pod_name_does_not_cost_the_events(
    kube_cluster: ClusterAPI, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    kube_cluster.create_deployment(namespace, "web", 1)
    monkeypatch.setenv("POD_NAME", "kubescale-" + "x" * 200)
    with kubescale.ScaleHandler(namespace, kubeconfig=kube_cluster.kubeconfig_path) as h:
        h.scale("deploy/web", 2)
        notes = [e.note for e in h.events("deploy/web") if e.reporter == "kubescale"]
        assert notes == ["Scaled deployment.apps/web from 1 to 2 replicas"]


def test_a_reporter_events_refuse_is_refused_at_once(kube_cluster: ClusterAPI) -> None:
    for bad in ("", "r" * 129):
        with pytest.raises(kubescale.InvalidValueError, match="reporter"):
            kubescale.ScaleHandler(kubeconfig=kube_cluster.kubeconfig_path, reporter=bad)


def test_a_failing_credential_plugin_is_a_config_error(kube_cluster: ClusterAPI, tmp_path: Path) -> None:
    import yaml

    config = yaml.safe_load(Path(kube_cluster.kubeconfig_path).read_text())
    for user in config["users"]:
        user["user"] = {
            "exec": {
                "apiVersion": "client.authentication.k8s.io/v1beta1",
                "command": sys.executable,
                "args": ["-c", "import sys; sys.exit('the sso session expired: run `login`')"],
            }
        }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(kubescale.ConfigError, match="authentication") as err:
        with kubescale.ScaleHandler("default", kubeconfig=path) as h:
            h.get_scale("deploy/web")
    assert not isinstance(err.value, kubescale.ApiUnavailableError)


def test_the_cli_exits_1_when_the_server_refuses_a_value(
    kube_cluster: ClusterAPI, namespace: str, widget_crd: str
) -> None:
    from helpers import create_widget

    create_widget(kube_cluster, namespace, "w", 1)
    env = {**os.environ, "KUBECONFIG": kube_cluster.kubeconfig_path}
    cmd = [sys.executable, "-m", "kubescale.cli", "scale", f"{widget_crd}/w", "50", "-n", namespace]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert "kubescale: error:" in done.stderr
    cmd = [sys.executable, "-m", "kubescale.cli", "scale", "configmap/x", "2", "-n", namespace]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert "ConfigMap (configmaps) has no scale subresource" in done.stderr, done.stderr


EXIT_WITHOUT_CLOSE = """
import asyncio, sys
import kubescale.asyncio

async def main(kubeconfig, ns):
    h = kubescale.asyncio.ScaleHandler(ns, kubeconfig=kubeconfig)
    sem = asyncio.Semaphore(32)

    async def one(i, n):
        async with sem:
            await h.scale(f"deploy/w{i}", n)

    for n in (2, 1, 2, 1):
        await asyncio.gather(*(one(i, n) for i in range(100)))

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def test_every_change_has_its_event_after_a_process_exits_without_close(
    kube_cluster: ClusterAPI, namespace: str
) -> None:
    """400 changes at 32 at once outpace the Event writes; the process then just ends. What was
    queued is written at interpreter exit: each target's Events count its 4 changes."""
    for i in range(100):
        kube_cluster.create_deployment(namespace, f"w{i}", 1)
    subprocess.run(
        [sys.executable, "-c", EXIT_WITHOUT_CLOSE, kube_cluster.kubeconfig_path, namespace],
        check=True,
        timeout=120,
    )
    items = kube_cluster.request("GET", f"/apis/events.k8s.io/v1/namespaces/{namespace}/events")["items"]
    counts: dict[str, int] = {}
    for e in items:
        if e.get("reportingController") == "kubescale":
            name = e["regarding"]["name"]
            counts[name] = counts.get(name, 0) + ((e.get("series") or {}).get("count") or 1)
    assert counts == {f"w{i}": 4 for i in range(100)}
