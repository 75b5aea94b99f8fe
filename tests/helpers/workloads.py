"""Objects to scale: Deployments and their kin, CRDs with a scale subresource, writers that compete
with the handler."""

from __future__ import annotations

import contextlib
import random
import threading
from collections.abc import Iterator
from typing import Any

from kubescale.testing import ClusterAPI, ClusterAPIError

TEST_GROUP = "test.kubescale.io"


DEPLOY = "/apis/apps/v1/namespaces/{ns}/deployments/web"


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
    plural: str,
    kind: str,
    versions: list[tuple[str, bool, bool]],
    max_replicas: int = 1000,
    short_name: str = "",
) -> dict[str, Any]:
    """A namespaced CRD of TEST_GROUP with a scale subresource; versions: (name, served, storage).
    Its short name (default: the kind's first three letters and ``x``) must be no other CRD's on
    the cluster, or the API server never accepts its names nor establishes it."""
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
                "shortNames": [short_name or kind.lower()[:3] + "x"],
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
