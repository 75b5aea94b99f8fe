"""Helpers shared by the test modules: objects to scale, CRDs, events, polling."""

from __future__ import annotations

import base64
import contextlib
import json
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, Optional

import kubescale
from kubescale.testing import ClusterAPI, ClusterAPIError

TEST_GROUP = "test.kubescale.io"
DEPLOY = "/apis/apps/v1/namespaces/{ns}/deployments/web"
ES_PATH = "/apis/elasti.truefoundry.com/v1alpha1/namespaces/{ns}/elastiservices"


def workload(kind: str, name: str, replicas: int) -> dict[str, Any]:
    labels = {"app": name}
    spec: dict[str, Any] = {
        "replicas": replicas,
        "selector": {"matchLabels": labels},
        "template": {
            "metadata": {"labels": labels},
            "spec": {"containers": [{"name": "app", "image": "registry.invalid/app:1"}]},
        },
    }
    if kind == "StatefulSet":
        spec["serviceName"] = name
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


def create_workload(cluster: ClusterAPI, ns: str, kind: str, name: str, replicas: int) -> None:
    plural = kind.lower() + "s"
    cluster.request("POST", f"/apis/apps/v1/namespaces/{ns}/{plural}", workload(kind, name, replicas))


def spec_replicas(cluster: ClusterAPI, ns: str, path: str) -> int:
    """spec.replicas of an object read with the test helper's own client (absent = 0)."""
    return int(cluster.request("GET", f"{path.format(ns=ns)}")["spec"].get("replicas", 0))


def crd_manifest(
    plural: str, kind: str, versions: list[tuple[str, bool, bool]], max_replicas: int = 1000
) -> dict[str, Any]:
    """A namespaced CRD of TEST_GROUP with a scale subresource; versions: (name, served, storage)."""
    schema = {
        "openAPIV3Schema": {
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "properties": {"replicas": {"type": "integer", "minimum": 0, "maximum": max_replicas}},
                },
                "status": {
                    "type": "object",
                    "properties": {"replicas": {"type": "integer"}, "selector": {"type": "string"}},
                },
            },
        }
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{TEST_GROUP}"},
        "spec": {
            "group": TEST_GROUP,
            "scope": "Namespaced",
            "names": {
                "plural": plural,
                "singular": kind.lower(),
                "kind": kind,
                "shortNames": [kind.lower()[:3] + "x"],
            },
            "versions": [
                {
                    "name": v,
                    "served": served,
                    "storage": storage,
                    "schema": schema,
                    "subresources": {
                        "status": {},
                        "scale": {
                            "specReplicasPath": ".spec.replicas",
                            "statusReplicasPath": ".status.replicas",
                            "labelSelectorPath": ".status.selector",
                        },
                    },
                }
                for v, served, storage in versions
            ],
        },
    }


def install_crd(cluster: ClusterAPI, manifest: dict[str, Any]) -> None:
    """Creates (or replaces) a CRD and waits until it is Established and served."""
    name = manifest["metadata"]["name"]
    path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"
    try:
        current = cluster.request("GET", path)
        manifest = {
            **manifest,
            "metadata": {**manifest["metadata"], "resourceVersion": current["metadata"]["resourceVersion"]},
        }
        cluster.request("PUT", path, manifest)
    except ClusterAPIError as e:
        if e.status != 404:
            raise
        cluster.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", manifest)

    def established() -> bool:
        status = cluster.request("GET", path).get("status", {})
        return any(
            c["type"] == "Established" and c["status"] == "True" for c in status.get("conditions") or []
        )

    cluster.wait_for(established, f"CRD {name} established")
    group, served = (
        manifest["spec"]["group"],
        [v["name"] for v in manifest["spec"]["versions"] if v["served"]],
    )

    def discoverable() -> bool:
        for v in served:
            try:
                answer = cluster.request("GET", f"/apis/{group}/{v}")
            except ClusterAPIError:
                return False
            # Until the group is registered the server may answer with a non-JSON page.
            if not isinstance(answer, dict):
                return False
            if manifest["spec"]["names"]["plural"] not in [r["name"] for r in answer.get("resources", [])]:
                return False
        return True

    cluster.wait_for(discoverable, f"CRD {name} in discovery")


def create_widget(cluster: ClusterAPI, ns: str, name: str, replicas: int, version: str = "v1") -> None:
    cluster.request(
        "POST",
        f"/apis/{TEST_GROUP}/{version}/namespaces/{ns}/widgets",
        {
            "apiVersion": f"{TEST_GROUP}/{version}",
            "kind": "Widget",
            "metadata": {"name": name},
            "spec": {"replicas": replicas},
        },
    )


def events_for(cluster: ClusterAPI, ns: str, name: str) -> list[dict[str, Any]]:
    """kubescale's events.k8s.io/v1 Events regarding `name`, oldest first."""
    items = cluster.request("GET", f"/apis/events.k8s.io/v1/namespaces/{ns}/events")["items"]
    ours = [
        e for e in items if e.get("reportingController") == "kubescale" and e["regarding"]["name"] == name
    ]
    return sorted(ours, key=lambda e: (e.get("series") or {}).get("lastObservedTime") or e["eventTime"])


def assert_serialised(results: list[Any], start: int, final: int) -> None:
    """Each call of a batch on one target started from the count the call before it left.

    The (previous -> replicas) steps then form one path from ``start`` to ``final``: every count
    is entered as often as it is left, except the two ends. A lost update breaks the path.
    """
    balance: dict[int, int] = {}
    for r in results:
        balance[r.previous] = balance.get(r.previous, 0) + 1
        balance[r.replicas] = balance.get(r.replicas, 0) - 1
    expected = {} if start == final else {start: 1, final: -1}
    assert {k: v for k, v in balance.items() if v} == expected


def install_keda_crd(cluster: ClusterAPI) -> None:
    """KEDA's ScaledObject CRD (just the CRD: no KEDA operator runs)."""
    manifest = crd_manifest("scaledobjects", "ScaledObject", [("v1alpha1", True, True)])
    manifest["metadata"]["name"] = "scaledobjects.keda.sh"
    manifest["spec"]["group"] = "keda.sh"
    manifest["spec"]["names"]["shortNames"] = ["so"]
    install_crd(cluster, manifest)


def create_scaled_object(cluster: ClusterAPI, ns: str, name: str) -> None:
    cluster.request(
        "POST",
        f"/apis/keda.sh/v1alpha1/namespaces/{ns}/scaledobjects",
        {
            "apiVersion": "keda.sh/v1alpha1",
            "kind": "ScaledObject",
            "metadata": {"name": name, "annotations": {"mine": "kept"}},
        },
    )


def annotations_of(cluster: ClusterAPI, path: str) -> dict[str, str]:
    return dict(cluster.request("GET", path)["metadata"].get("annotations", {}))


def elasti_service(
    name: str,
    key: str,
    *,
    kind: str = "Deployment",
    target: str = "web",
    cooldown: int = 1,
    min_replicas: int = 1,
    trigger_type: str = "flag",
    keda: str = "",
    enabled_period: Optional[dict[str, str]] = None,
    triggers: Optional[list[dict[str, Any]]] = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "service": target,
        "minTargetReplicas": min_replicas,
        "cooldownPeriod": cooldown,
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind, "name": target},
        "triggers": triggers if triggers is not None else [{"type": trigger_type, "metadata": {"key": key}}],
    }
    if keda:
        spec["autoscaler"] = {"type": "keda", "name": keda}
    if enabled_period:
        spec["enabledPeriod"] = enabled_period
    return {
        "apiVersion": "elasti.truefoundry.com/v1alpha1",
        "kind": "ElastiService",
        "metadata": {"name": name},
        "spec": spec,
    }


def create_es(cluster: ClusterAPI, ns: str, obj: dict[str, Any], *, age: bool = True) -> None:
    """Creates an ElastiService; with `age`, waits until it is older than a short cooldown
    (`cooldownPeriod` up to 5 s), past which the loop may scale it. (A cooldown of 0 means
    KubeElasti's 900 s default, so tests use short positive ones.)"""
    cluster.request("POST", ES_PATH.format(ns=ns), obj)
    cooldown = obj["spec"].get("cooldownPeriod", 0)
    if age and 0 < cooldown <= 5:
        time.sleep(cooldown + 0.1)


def status(cluster: ClusterAPI, ns: str, name: str) -> dict[str, Any]:
    return dict(cluster.request("GET", f"{ES_PATH.format(ns=ns)}/{name}").get("status", {}))


def by_name(decisions: list[kubescale.Decision]) -> dict[str, kubescale.Decision]:
    return {d.name: d for d in decisions}


@contextlib.contextmanager
def competing_writer(cluster: ClusterAPI, ns: str, names: list[str], writers: int = 1) -> Iterator[None]:
    """Threads that keep patching an annotation on random Deployments among `names` (moving
    their resourceVersion, never their replicas) while the block runs."""
    stop = threading.Event()

    def compete(seed: int) -> None:
        rng = random.Random(seed)
        n = 0
        while not stop.is_set():
            n += 1
            cluster.request(
                "PATCH",
                f"/apis/apps/v1/namespaces/{ns}/deployments/{rng.choice(names)}",
                {"metadata": {"annotations": {"competitor": str(n)}}},
                content_type="application/merge-patch+json",
            )

    threads = [threading.Thread(target=compete, args=(seed,)) for seed in range(writers)]
    for t in threads:
        t.start()
    try:
        yield
    finally:
        stop.set()
        for t in threads:
            t.join()


def leader_election_setup(
    cluster: ClusterAPI, ns: str, marker: Path, pass_seconds: float = 0
) -> Callable[[], subprocess.Popen[bytes]]:
    """A Deployment and an ElastiService whose `pid-recorder` trigger notes each scaler call in
    `marker`; returns a function that starts one more `loop_worker.py` process (leader election,
    3 s Lease) whose passes take `pass_seconds`."""
    cluster.create_deployment(ns, "web", 1)
    marker.touch()
    es = elasti_service("le", "unused", trigger_type="pid-recorder")
    es["spec"]["triggers"][0]["metadata"] = {"marker": str(marker)}
    create_es(cluster, ns, es)
    worker = str(Path(__file__).parent / "loop_worker.py")

    def start() -> subprocess.Popen[bytes]:
        cmd = [sys.executable, worker, cluster.kubeconfig_path, ns, str(marker), str(pass_seconds)]
        return subprocess.Popen(cmd)

    return start


def service_account_token(cluster: ClusterAPI, ns: str, sa: str) -> str:
    """The ServiceAccount's token (from its Secret, made by the token controller)."""
    deadline = time.monotonic() + 30
    while True:
        secrets = cluster.request("GET", f"/api/v1/namespaces/{ns}/secrets")["items"]
        tokens = [
            s
            for s in secrets
            if s["type"] == "kubernetes.io/service-account-token"
            and s["metadata"].get("annotations", {}).get("kubernetes.io/service-account.name") == sa
            and s.get("data", {}).get("token")
        ]
        if tokens:
            return base64.b64decode(tokens[0]["data"]["token"]).decode()
        assert time.monotonic() < deadline, "no token Secret for the ServiceAccount"
        time.sleep(0.2)


def service_account_kubeconfig(cluster: ClusterAPI, ns: str, sa: str, directory: Path) -> Path:
    """A kubeconfig with the ServiceAccount's token, written into `directory`."""
    token = service_account_token(cluster, ns, sa)
    cfg = json.loads(Path(cluster.kubeconfig_path).read_text())
    cfg["users"][0]["user"] = {"token": token}
    path = directory / f"{sa}.kubeconfig"
    path.write_text(json.dumps(cfg))
    return path


def namespace_admin_kubeconfig(cluster: ClusterAPI, ns: str, sa: str, directory: Path) -> Path:
    """A new ServiceAccount `sa` with every right in `ns` (a RoleBinding to `cluster-admin`),
    and a kubeconfig with its token: a process that the audit log tells apart by its user."""
    cluster.request(
        "POST",
        f"/api/v1/namespaces/{ns}/serviceaccounts",
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": sa}},
    )
    cluster.request(
        "POST",
        f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": sa},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "cluster-admin",
            },
            "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": ns}],
        },
    )
    return service_account_kubeconfig(cluster, ns, sa, directory)


# What the `flag` test scalers answer, per trigger `metadata.key`.
STATE: dict[str, dict[str, Any]] = {}


class FlagScaler:
    """A test scaler answering from STATE[metadata["key"]]: `zero` (may the target be at zero),
    `healthy`, `sleep` (seconds in the health check), `raise`. Records the cooldown it was
    given, how often it was made (`asked`) and closed (`closed`)."""

    def __init__(self, metadata: dict[str, Any], cooldown: timedelta) -> None:
        self.state = STATE[metadata["key"]]
        self.state["cooldown"] = cooldown
        self.state["asked"] = self.state.get("asked", 0) + 1

    def is_healthy(self) -> bool:
        if self.state.get("raise"):
            raise RuntimeError("the queue is on fire")
        time.sleep(self.state.get("sleep", 0))
        return bool(self.state.get("healthy", True))

    def should_scale_to_zero(self) -> bool:
        return bool(self.state["zero"])

    def should_scale_from_zero(self) -> bool:
        # Never asked (as in KubeElasti); scalers written with it keep working.
        return not self.state["zero"]

    def close(self) -> None:
        self.state["closed"] = self.state.get("closed", 0) + 1
