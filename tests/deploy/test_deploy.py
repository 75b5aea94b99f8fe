"""deploy/ and the Containerfile: the manifests render with kustomize and pass the API server, both
RBAC variants grant the same rules, the image recipe installs and starts, and the pod runs as the
cluster would run it (in-cluster configuration, two replicas, one leader, probes and metrics)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from kubescale.testing import ClusterAPI

from helpers import ROOT, create_es, elasti_service, flagged_service, service_account_token

DEPLOY = ROOT / "deploy"
SYSTEM_NS = "kubescale-system"


def kubectl(cluster: ClusterAPI, *args: str, stdin: str | None = None) -> str:
    env = {**os.environ, "KUBECONFIG": cluster.kubeconfig_path}
    done = subprocess.run(
        ["kubectl", *args], input=stdin, capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
    return done.stdout


def render(variant: Path) -> list[dict[str, Any]]:
    """`kubectl kustomize`, as a user renders it."""
    done = subprocess.run(["kubectl", "kustomize", str(variant)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def for_local_server(docs: list[dict[str, Any]]) -> str:
    """The local API server is 1.20, which predates policy/v1 and batch/v1 CronJobs (1.21): PDBs
    and CronJobs go as v1beta1 there."""
    for d in docs:
        if d["kind"] == "PodDisruptionBudget":
            d["apiVersion"] = "policy/v1beta1"
        if d["kind"] == "CronJob":
            d["apiVersion"] = "batch/v1beta1"
    return yaml.safe_dump_all(docs)


def namespaced_variant(tmp_path: Path, namespace: str) -> Path:
    """deploy/namespaced/ with `namespace:` set to `namespace`, as its comment tells users to."""
    copy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, copy, symlinks=True)
    k = copy / "namespaced" / "kustomization.yaml"
    k.write_text(k.read_text().replace("namespace: apps", f"namespace: {namespace}"))
    return copy / "namespaced"


def the_deployment(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (d,) = [d for d in docs if d["kind"] == "Deployment"]
    return d


def test_both_variants_pass_the_api_server_and_apply(
    kube_cluster: ClusterAPI, namespace: str, tmp_path: Path
) -> None:
    everywhere = render(DEPLOY)
    namespace_doc = [d for d in everywhere if d["kind"] == "Namespace"]
    kubectl(kube_cluster, "apply", "-f", "-", stdin=yaml.safe_dump_all(namespace_doc))
    kubectl(kube_cluster, "apply", "--dry-run=server", "-f", "-", stdin=for_local_server(everywhere))
    kubectl(kube_cluster, "apply", "-f", "-", stdin=for_local_server(everywhere))
    one = render(namespaced_variant(tmp_path, namespace))
    assert {d["metadata"].get("namespace") for d in one} == {namespace}
    assert not [d for d in one if d["kind"].startswith("Cluster")], "one namespace needs no cluster roles"
    kubectl(kube_cluster, "apply", "--dry-run=server", "-f", "-", stdin=for_local_server(one))
    kubectl(kube_cluster, "apply", "-f", "-", stdin=for_local_server(one))
    # Applied for real (the pods stay Pending: there is no kubelet).
    for ns in (SYSTEM_NS, namespace):
        d = kube_cluster.request("GET", f"/apis/apps/v1/namespaces/{ns}/deployments/kubescale")
        assert d["spec"]["replicas"] == 2
    args = the_deployment(one)["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--namespace=$(POD_NAMESPACE)" in args


def test_the_sharded_variant_runs_three_working_replicas(kube_cluster: ClusterAPI) -> None:
    docs = render(DEPLOY / "sharded")
    d = the_deployment(docs)
    args = d["spec"]["template"]["spec"]["containers"][0]["args"]
    assert d["spec"]["replicas"] == 3 and d["metadata"]["namespace"] == SYSTEM_NS
    assert args[:3] == ["run", "--shards", "12"] and "--leader-election" not in args
    namespace_doc = [d for d in render(DEPLOY) if d["kind"] == "Namespace"]
    kubectl(kube_cluster, "apply", "-f", "-", stdin=yaml.safe_dump_all(namespace_doc))
    kubectl(kube_cluster, "apply", "--dry-run=server", "-f", "-", stdin=for_local_server(docs))


def test_the_pod_is_restricted_probed_and_budgeted() -> None:
    docs = render(DEPLOY)
    pod = the_deployment(docs)["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert c["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["resources"]["requests"] and c["resources"]["limits"]["memory"]
    kinds = {d["kind"] for d in docs}
    assert {"PodDisruptionBudget", "Service", "ServiceAccount", "Namespace"} <= kinds


def rules(path: Path) -> dict[str, list[Any]]:
    return {
        f"{d['kind']}/{d['metadata']['name']}": d["rules"]
        for d in yaml.safe_load_all(path.read_text())
        if d and "rules" in d
    }


def test_the_rbac_variants_grant_the_same_rules() -> None:
    one = rules(DEPLOY / "rbac" / "namespaced" / "rbac.yaml")
    every = rules(DEPLOY / "rbac" / "cluster" / "rbac.yaml")
    assert one["Role/kubescale-scaler"] == every["ClusterRole/kubescale-scaler"]
    assert one["Role/kubescale-loop"] == every["ClusterRole/kubescale-loop"] + every["Role/kubescale-lease"]
    assert (ROOT / "examples" / "rbac.yaml").resolve() == (DEPLOY / "rbac" / "namespaced" / "rbac.yaml")


def containerfile() -> tuple[list[str], list[str]]:
    """The image's ENTRYPOINT and CMD."""
    found: dict[str, list[str]] = {}
    for line in (ROOT / "Containerfile").read_text().splitlines():
        for key in ("ENTRYPOINT", "CMD"):
            if line.startswith(key + " "):
                found[key] = json.loads(line[len(key) + 1 :])
    return found["ENTRYPOINT"], found["CMD"]


@pytest.fixture(scope="module")
def image_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What the Containerfile does, in a fresh virtual environment: install the wheel."""
    wheels = sorted((ROOT / "dist").glob("kubescale-*.whl"))
    if not wheels:
        pytest.skip("no wheel in dist/: `make test` builds it (or run `make wheel`)")
    venv = tmp_path_factory.mktemp("image") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-deps", str(wheels[-1])], check=True)
    return venv


def test_the_image_recipe_installs_and_its_entrypoint_starts(image_venv: Path) -> None:
    entrypoint, cmd = containerfile()
    container = the_deployment(render(DEPLOY))["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == entrypoint and container["args"] == cmd, "manifest and image agree"
    exe = str(image_venv / "bin" / entrypoint[0])
    version = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("kubescale ")
    # The image's arguments parse (--help stops before connecting).
    helped = subprocess.run([exe, *cmd, "--help"], capture_output=True, text=True)
    assert helped.returncode == 0 and "--metrics-bind-address" in helped.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return int(r.status), r.read().decode()
    except urllib.error.HTTPError as e:
        return int(e.code), e.read().decode()
    except OSError:
        return 0, ""


def metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


def service_account_files(cluster: ClusterAPI, ns: str, sa: str, into: Path) -> None:
    """The token, CA and namespace files the kubelet mounts into a pod."""
    into.mkdir(parents=True)
    (into / "token").write_text(service_account_token(cluster, ns, sa))
    (into / "namespace").write_text(ns)
    kc = json.loads(Path(cluster.kubeconfig_path).read_text())
    (into / "ca.crt").write_bytes(
        base64.b64decode(kc["clusters"][0]["cluster"]["certificate-authority-data"])
    )


@pytest.fixture
def pods(kube_cluster: ClusterAPI, image_venv: Path, tmp_path: Path) -> Iterator[list[Any]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()


def test_the_pod_as_the_cluster_runs_it(
    kube_cluster: ClusterAPI,
    namespace: str,
    crds_installed: None,
    image_venv: Path,
    pods: list[Any],
    tmp_path: Path,
) -> None:
    if shutil.which("unshare") is None:
        pytest.fail("util-linux's unshare is needed to give the pods their service-account files")
    docs = render(DEPLOY)
    kubectl(kube_cluster, "apply", "-f", "-", stdin=for_local_server(docs))
    container = the_deployment(docs)["spec"]["template"]["spec"]["containers"][0]
    secrets = tmp_path / "serviceaccount"
    service_account_files(kube_cluster, SYSTEM_NS, "kubescale", secrets)
    kc = json.loads(Path(kube_cluster.kubeconfig_path).read_text())
    api_host, api_port = kc["clusters"][0]["cluster"]["server"].removeprefix("https://").rsplit(":", 1)
    # A service the loop decides about: a trigger nobody answers (an error, counted).
    kube_cluster.create_deployment(namespace, "web", 1)
    es = elasti_service("web", "unused")
    meta = {"serverAddress": "http://127.0.0.1:9", "query": "up", "threshold": "1"}
    es["spec"]["triggers"] = [{"type": "prometheus", "metadata": meta}]
    create_es(kube_cluster, namespace, es)

    # The kubelet's work: the token, CA and namespace where a pod finds them (a mount namespace
    # of each process's own), the service's address in the environment, the manifest's command,
    # arguments and environment. Only the metrics port differs: both "pods" share one host.
    mount = (
        "mount -t tmpfs tmpfs /run && mkdir -p /run/secrets/kubernetes.io/serviceaccount && "
        'cp "$SA"/* /run/secrets/kubernetes.io/serviceaccount/ && exec "$@"'
    )
    ports = []
    for i in range(2):
        pod_name = f"kubescale-7d9c-{i}"
        port = free_port()
        ports.append(port)
        field = {"metadata.name": pod_name, "metadata.namespace": SYSTEM_NS}
        env = {
            "PATH": f"{image_venv / 'bin'}:/usr/bin:/bin",
            "HOME": str(tmp_path / f"home{i}"),
            "SA": str(secrets),
        }
        env |= {"KUBERNETES_SERVICE_HOST": api_host, "KUBERNETES_SERVICE_PORT": api_port}
        for e in container["env"]:
            env[e["name"]] = e["value"] if "value" in e else field[e["valueFrom"]["fieldRef"]["fieldPath"]]
        args = [a.replace("0.0.0.0:8080", f"127.0.0.1:{port}") for a in container["args"]]
        argv = [str(image_venv / "bin" / container["command"][0]), *args]
        log = open(tmp_path / f"pod{i}.log", "wb")
        pods.append(
            subprocess.Popen(
                ["unshare", "--mount", "--propagation", "private", "sh", "-c", mount, "sh", *argv],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )

    def url(i: int, path: str) -> str:
        return f"http://127.0.0.1:{ports[i]}{path}"

    def logs() -> str:
        return "\n".join((tmp_path / f"pod{i}.log").read_text(errors="replace") for i in range(2))

    def leaders() -> list[int]:
        return [
            i
            for i in range(2)
            if pods[i].poll() is None and metric(get(url(i, "/metrics"))[1], "kubescale_leader") == 1
        ]

    for i in range(2):
        kube_cluster.wait_for(lambda i=i: get(url(i, "/readyz"))[0] == 200, f"pod {i} ready\n{logs()}", 60)
        assert get(url(i, "/healthz")) == (200, "ok\n")
    kube_cluster.wait_for(lambda: len(leaders()) == 1, f"exactly one leader\n{logs()}", 60)
    (leader,) = leaders()
    follower = 1 - leader
    kube_cluster.wait_for(
        lambda: metric(get(url(leader, "/metrics"))[1], "kubescale_passes_total") >= 2,
        "the leader's passes",
        90,
    )
    text = get(url(leader, "/metrics"))[1]
    assert metric(text, "kubescale_decisions_total", direction="no_scale") >= 1
    assert metric(text, "kubescale_errors_total", kind="trigger") >= 1
    assert (
        metric(text, "kubescale_api_requests_total", verb="list", code="200")
        + metric(text, "kubescale_api_requests_total", verb="get", code="200")
        >= 1
    )
    idle = get(url(follower, "/metrics"))[1]
    assert metric(idle, "kubescale_passes_total") == 0 and metric(idle, "kubescale_leader") == 0
    assert get(url(follower, "/readyz"))[0] == 200, "a healthy follower is ready"
    lease = kube_cluster.request(
        "GET", f"/apis/coordination.k8s.io/v1/namespaces/{SYSTEM_NS}/leases/kubescale-scale-to-zero"
    )
    assert lease["spec"]["holderIdentity"].startswith(f"kubescale-7d9c-{leader}")

    pods[leader].kill()  # the node died: no release
    pods[leader].wait()
    kube_cluster.wait_for(lambda: leaders() == [follower], f"the follower takes over\n{logs()}", 60)
    kube_cluster.wait_for(
        lambda: metric(get(url(follower, "/metrics"))[1], "kubescale_passes_total") >= 1, "its passes", 60
    )
    assert get(url(follower, "/healthz"))[0] == 200 and get(url(follower, "/readyz"))[0] == 200


def test_the_release_job_lets_go_of_every_held_target_as_the_loops_account(
    kube_cluster: ClusterAPI, namespace: str, crds_installed: None, tmp_path: Path
) -> None:
    """deploy/release/job.yaml, the step before an uninstall: its command, run with the loop's
    ServiceAccount and the cluster RBAC of deploy/, restores a target the loop held at zero and
    removes the finalizer."""
    import kubescale

    from helpers import DEPLOY as WEB
    from helpers import FlagScaler, service_account_kubeconfig, spec_replicas

    kubectl(kube_cluster, "apply", "-f", "-", stdin=for_local_server(render(DEPLOY)))
    (job,) = [d for d in yaml.safe_load_all((DEPLOY / "release" / "job.yaml").read_text()) if d]
    kubectl(kube_cluster, "apply", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(job))
    pod = job["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "kubescale" and pod["restartPolicy"] == "Never"
    flagged_service(kube_cluster, namespace, "web", "job", zero=True, replicas=3)
    with kubescale.ScaleHandler(namespace, kubeconfig=kube_cluster.kubeconfig_path) as h:
        h.register_scaler("flag", FlagScaler)
        assert h.check_and_scale_service("web").direction == "scale_down"
    config = service_account_kubeconfig(kube_cluster, SYSTEM_NS, "kubescale", tmp_path)
    (container,) = pod["containers"]
    cli = [sys.executable, "-m", "kubescale.cli", *container["args"]]
    assert container["command"] == ["kubescale"]
    done = subprocess.run(
        cli, env={**os.environ, "KUBECONFIG": str(config)}, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "web" in done.stdout and "restored to 3" in done.stdout, done.stdout
    assert spec_replicas(kube_cluster, namespace, WEB) == 3
    es = kube_cluster.request(
        "GET", f"/apis/elasti.truefoundry.com/v1alpha1/namespaces/{namespace}/elastiservices/web"
    )
    assert not es["metadata"].get("finalizers")


def images(docs: list[dict[str, Any]]) -> set[str]:
    return {
        c["image"]
        for d in docs
        if d["kind"] in ("Deployment", "Job")
        for c in d["spec"]["template"]["spec"]["containers"]
    }


@pytest.mark.parametrize("variant", ["", "namespaced", "sharded"])
def test_every_variant_runs_the_published_image_and_one_entry_overrides_it(
    variant: str, tmp_path: Path
) -> None:
    assert images(render(DEPLOY / variant)) == {"ghcr.io/kubescale/kubescale:0.1.0"}
    # An overlay of the user's: one `images:` entry moves every container to their build.
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": [os.path.relpath(DEPLOY / variant, overlay)],
                "images": [
                    {
                        "name": "ghcr.io/kubescale/kubescale",
                        "newName": "registry.example.com/kubescale",
                        "newTag": "dev",
                    }
                ],
            }
        )
    )
    assert images(render(overlay)) == {"registry.example.com/kubescale:dev"}


def test_the_release_job_runs_the_same_image_as_the_loop() -> None:
    job = yaml.safe_load((DEPLOY / "release" / "job.yaml").read_text())
    assert images([job]) == images(render(DEPLOY))


def test_the_sleep_cronjobs_sleep_and_wake_a_namespace_with_their_own_least_rbac(
    kube_cluster: ClusterAPI, namespace: str, crds_installed: None, tmp_path: Path
) -> None:
    """deploy/sleep/, applied in a namespace as its comment says: each CronJob's command, run as
    its ServiceAccount with only its Role, puts the namespace to sleep and wakes it."""
    from helpers import service_account_kubeconfig

    docs = render(DEPLOY / "sleep")
    kubectl(kube_cluster, "apply", "-n", namespace, "-f", "-", stdin=for_local_server(docs))
    jobs = {d["metadata"]["name"]: d for d in docs if d["kind"] == "CronJob"}
    assert sorted(jobs) == ["kubescale-sleep", "kubescale-wake"]
    kube_cluster.create_deployment(namespace, "web", 3)
    kube_cluster.create_deployment(namespace, "api", 2)
    config = service_account_kubeconfig(kube_cluster, namespace, "kubescale-sleeper", tmp_path)

    def run(job: str) -> str:
        pod = jobs[job]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == "kubescale-sleeper"
        (container,) = pod["containers"]
        assert container["command"] == ["kubescale"]
        args = [a.replace("$(POD_NAMESPACE)", namespace) for a in container["args"]]
        env = {**os.environ, "KUBECONFIG": str(config), "POD_NAMESPACE": namespace}
        done = subprocess.run(
            [sys.executable, "-m", "kubescale.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def counts() -> dict[str, int]:
        items = kube_cluster.request("GET", f"/apis/apps/v1/namespaces/{namespace}/deployments")["items"]
        return {d["metadata"]["name"]: int(d["spec"].get("replicas", 0)) for d in items}

    out = run("kubescale-sleep")
    assert "scaled from 3 to 0" in out and "scaled from 2 to 0" in out, out
    assert counts() == {"web": 0, "api": 0}
    run("kubescale-wake")
    assert counts() == {"web": 3, "api": 2}
