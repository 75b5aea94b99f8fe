"""Scaling a fleet from a script: ``scale_all`` (references, a type with a selector, every
namespace), ``current_replicas``, ``sleep`` and ``wake`` (ElastiServices, KEDA, HPAs), and the
faults: bad input before any write, RBAC that forbids a namespace, a failed precondition."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import kubescale
import kubescale.asyncio
from kubescale.testing import ClusterAPI

from helpers import create_es, elasti_service, install_keda_crd
from helpers.accounts import apply, service_account_kubeconfig
from helpers.metrics import requests

PREVIOUS = "kubescale.io/previous-replicas"


def counts(cluster: ClusterAPI, ns: str, kind: str = "deployments") -> dict[str, int]:
    items = cluster.request("GET", f"/apis/apps/v1/namespaces/{ns}/{kind}")["items"]
    return {d["metadata"]["name"]: int(d["spec"].get("replicas", 0)) for d in items}


def annotation(cluster: ClusterAPI, ns: str, name: str, kind: str = "deployments") -> Any:
    d = cluster.request("GET", f"/apis/apps/v1/namespaces/{ns}/{kind}/{name}")
    return d["metadata"].get("annotations", {}).get(PREVIOUS)


def deployments(cluster: ClusterAPI, ns: str, team: str, replicas: dict[str, int]) -> None:
    for name, n in replicas.items():
        cluster.create_deployment(ns, name, n, labels={"app": name, "team": team})


def since(
    h: kubescale.ScaleHandler, before: Counter[str], verbs: tuple[str, ...] = ("get", "patch", "update")
) -> dict[str, int]:
    now = requests(h)
    return {v: now[v] - before[v] for v in verbs if now[v] - before[v]}


def test_a_selector_scales_its_targets_with_one_list_and_one_write_each(
    handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    deployments(kube_cluster, namespace, "search", {"a": 2, "b": 3, "c": 0})
    deployments(kube_cluster, namespace, "ads", {"other": 2})
    handler.get_scale("deploy/other", namespace=namespace)  # discovery, read once per handler
    before = requests(handler)
    batch = handler.scale_all("deployments", 0, selector="team=search", namespace=namespace)
    assert isinstance(batch, kubescale.ScaleBatch)
    assert sorted(e.target for e in batch.changed) == ["deployment.apps/a", "deployment.apps/b"]
    assert [e.target for e in batch.unchanged] == ["deployment.apps/c"]
    assert batch.failed == [] and batch.skipped == []
    assert counts(kube_cluster, namespace) == {"a": 0, "b": 0, "c": 0, "other": 2}
    # One LIST of the type, one write per changed target; c (already at 0) costs nothing.
    assert since(handler, before) == {"get": 1, "patch": 2}
    # Again: everything already at 0, nothing written.
    before = requests(handler)
    again = handler.scale_all("deployments", 0, selector="team=search", namespace=namespace)
    assert len(again.unchanged) == 3 and not again.changed
    assert since(handler, before) == {"get": 1}
    # The result as a user reads it.
    d = again.to_dict()
    assert (d["changed"], d["unchanged"], d["failed"], len(d["items"])) == (0, 3, 0, 3)
    assert d["items"][0]["namespace"] == namespace and d["items"][0]["error"] is None
    assert "3 unchanged" in repr(again) and "<table" in again._repr_html_()


def test_every_object_of_a_type_and_every_namespace(
    handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    other = kube_cluster.create_namespace(wait_for_service_account=False)
    team = f"t{uuid.uuid4().hex[:8]}"
    try:
        deployments(kube_cluster, namespace, team, {"a": 1, "b": 1})
        deployments(kube_cluster, other, team, {"c": 1})
        everywhere = handler.scale_all("deploy", 2, selector=f"team={team}", all_namespaces=True)
        assert {(e.namespace, e.target) for e in everywhere.changed} == {
            (namespace, "deployment.apps/a"),
            (namespace, "deployment.apps/b"),
            (other, "deployment.apps/c"),
        }
        # --all in one namespace: every Deployment there, and none elsewhere.
        done = handler.scale_all("deployments.apps", 4, namespace=other)
        assert [e.target for e in done.changed] == ["deployment.apps/c"]
        assert counts(kube_cluster, namespace) == {"a": 2, "b": 2}
        # A selector that matches nothing is an empty result, not an error.
        assert handler.scale_all("deployments", 0, selector="team=nobody", namespace=namespace) == []
    finally:
        kube_cluster.delete_namespace(other)


def test_current_replicas_refuses_the_targets_it_does_not_hold_for(
    handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    deployments(kube_cluster, namespace, "x", {"a": 1, "b": 2})
    batch = handler.scale_all(["deploy/a", "deploy/b"], 3, namespace=namespace, current_replicas=1)
    assert [e.target for e in batch.changed] == ["deployment.apps/a"]
    (failed,) = batch.failed
    assert isinstance(failed.error, kubescale.PreconditionError)
    assert (failed.error.expected, failed.error.actual, failed.target) == (1, 2, "deployment.apps/b")
    assert failed.result is None and not failed.ok
    assert counts(kube_cluster, namespace) == {"a": 3, "b": 2}
    with pytest.raises(kubescale.ScaleBatchError) as raised:
        handler.scale_all(
            ["deploy/a", "deploy/b"], 5, namespace=namespace, current_replicas=3, raise_on_error=True
        )
    assert "1 of 2 targets failed" in str(raised.value) and len(raised.value.batch) == 2
    assert isinstance(raised.value.errors[0], kubescale.PreconditionError)
    assert counts(kube_cluster, namespace) == {"a": 5, "b": 2}  # the others still went on
    # On one target, as kubectl's --current-replicas: refused with nothing written, or done.
    with pytest.raises(
        kubescale.PreconditionError, match=r"expected the replicas of deployment\.apps/b to be 7, was 2"
    ):
        handler.scale("deploy/b", 4, namespace=namespace, current_replicas=7)
    assert counts(kube_cluster, namespace)["b"] == 2
    assert handler.scale("deploy/b", 4, namespace=namespace, current_replicas=2).changed
    # The selector's form of it.
    sel = handler.scale_all("deployments", 0, selector="team=x", namespace=namespace, current_replicas=4)
    assert [e.target for e in sel.changed] == ["deployment.apps/b"]
    assert [type(e.error) for e in sel.failed] == [kubescale.PreconditionError]


@pytest.mark.parametrize(
    ("call", "error", "named"),
    [
        (
            lambda h, ns: h.scale_all("deployments", 0, selector="team in (a", namespace=ns),
            kubescale.InvalidValueError,
            "team in (a",
        ),
        (lambda h, ns: h.scale_all("frobnicators", 0, namespace=ns), kubescale.NoMatchError, "frobnicators"),
        (lambda h, ns: h.scale_all("configmaps", 0, namespace=ns), kubescale.NotScalableError, "ConfigMap"),
        (
            lambda h, ns: h.scale_all(["deploy/a", "frobs/b"], 0, namespace=ns),
            kubescale.NoMatchError,
            "frobs",
        ),
        (lambda h, ns: h.scale_all("deployments", -1, namespace=ns), kubescale.InvalidValueError, "replicas"),
        (
            lambda h, ns: h.scale_all("deployments", 1, namespace=ns, current_replicas=-2),
            kubescale.InvalidValueError,
            "current_replicas",
        ),
        (
            lambda h, ns: h.scale_all(["deploy/a"], 0, selector="x=y", namespace=ns),
            kubescale.InvalidValueError,
            "selector",
        ),
        (
            lambda h, ns: h.scale_all(["deploy/a"], 0, all_namespaces=True),
            kubescale.InvalidValueError,
            "all_namespaces",
        ),
        (
            lambda h, ns: h.scale_all("deployments", 0, namespace=ns, all_namespaces=True),
            kubescale.InvalidValueError,
            "all_namespaces",
        ),
        (lambda h, ns: h.scale_all([], 0, namespace=ns), kubescale.InvalidValueError, "targets"),
        (lambda h, ns: h.sleep(ns, types=["configmaps"]), kubescale.NotScalableError, "ConfigMap"),
        (lambda h, ns: h.wake(ns, selector="!!"), kubescale.InvalidValueError, "!!"),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(
    handler: kubescale.ScaleHandler,
    kube_cluster: ClusterAPI,
    namespace: str,
    call: Any,
    error: type,
    named: str,
) -> None:
    deployments(kube_cluster, namespace, "x", {"a": 1})
    before = requests(handler)
    with pytest.raises(error, match=named.replace("(", r"\(")):
        call(handler, namespace)
    assert since(handler, before, ("patch", "update", "create", "delete")) == {}
    # The handler stays usable.
    assert handler.scale_all(["deploy/a"], 2, namespace=namespace).changed


def test_rbac_that_forbids_a_namespace_or_a_target_fails_its_entry_and_the_rest_are_done(
    kube_cluster: ClusterAPI, namespace: str, tmp_path: Path
) -> None:
    """An identity that may list namespaces, and scale Deployments in one of two namespaces except
    one of them."""
    other = kube_cluster.create_namespace()
    team = f"t{uuid.uuid4().hex[:8]}"
    sa = "fleet"
    try:
        deployments(kube_cluster, namespace, team, {"a": 1, "locked": 1})
        deployments(kube_cluster, other, team, {"b": 1})
        rules = [
            {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list"]},
            # The scale of one target may not be written ("locked" may only be read).
            {"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["get"]},
            {
                "apiGroups": ["apps"],
                "resources": ["deployments/scale"],
                "resourceNames": ["a"],
                "verbs": ["patch"],
            },
            {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
            {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]},
        ]
        apply(
            kube_cluster,
            namespace,
            [
                {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": sa}},
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "Role",
                    "metadata": {"name": sa},
                    "rules": rules,
                },
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "RoleBinding",
                    "metadata": {"name": sa},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": sa},
                    "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": namespace}],
                },
            ],
        )
        cluster_role = f"{sa}-{namespace}"
        kube_cluster.request(
            "POST",
            "/apis/rbac.authorization.k8s.io/v1/clusterroles",
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": cluster_role},
                "rules": [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list"]}],
            },
        )
        kube_cluster.request(
            "POST",
            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": cluster_role},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": cluster_role,
                },
                "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": namespace}],
            },
        )
        config = service_account_kubeconfig(kube_cluster, namespace, sa, tmp_path)
        with kubescale.ScaleHandler(kubeconfig=config) as h:
            batch = h.scale_all("deployments", 3, selector=f"team={team}", all_namespaces=True)
        assert [(e.namespace, e.target) for e in batch.changed] == [(namespace, "deployment.apps/a")]
        failed = {(e.namespace, e.target): type(e.error) for e in batch.failed}
        # Each namespace it may not list is one entry (the other test namespaces and the
        # system ones too); the target it may not scale is one.
        assert failed[(other, "deployments")] is kubescale.ForbiddenError, batch.rows()
        assert failed[(namespace, "deployment.apps/locked")] is kubescale.ForbiddenError, batch.rows()
        assert set(failed.values()) == {kubescale.ForbiddenError}, batch.rows()
        assert not [t for ns, t in failed if ns == namespace and t != "deployment.apps/locked"]
        assert (
            counts(kube_cluster, namespace) == {"a": 3, "locked": 1} and counts(kube_cluster, other)["b"] == 1
        )
    finally:
        kube_cluster.delete_namespace(other)
        for kind in ("clusterrolebindings", "clusterroles"):
            kube_cluster.request("DELETE", f"/apis/rbac.authorization.k8s.io/v1/{kind}/{sa}-{namespace}")


def hpa_condition(cluster: ClusterAPI, ns: str, name: str) -> tuple[str, str]:
    hpa = cluster.request("GET", f"/apis/autoscaling/v2beta2/namespaces/{ns}/horizontalpodautoscalers/{name}")
    for c in (hpa.get("status") or {}).get("conditions") or []:
        if c["type"] == "ScalingActive":
            return c["status"], c.get("reason", "")
    return "", ""


def test_a_target_deleted_between_the_list_and_its_write_is_not_found_and_the_rest_are_done(
    kube_cluster: ClusterAPI, namespace: str
) -> None:
    """One place at a time, so the batch reaches the last targets (the LIST's order is by name)
    well after its first write; they are deleted the moment that write is seen."""
    names = [f"t{i:03}" for i in range(200)]
    gone = names[-3:]
    deployments(kube_cluster, namespace, "deleted", dict.fromkeys(names, 1))
    with kubescale.ScaleHandler(kubeconfig=kube_cluster.kubeconfig_path, concurrency=1) as h:
        h.get_scale(f"deploy/{names[0]}", namespace=namespace)  # discovery, read once per handler
        before = requests(h)
        result: list[kubescale.ScaleBatch] = []
        batch_thread = threading.Thread(
            target=lambda: result.append(
                h.scale_all("deployments", 0, selector="team=deleted", namespace=namespace)
            )
        )
        batch_thread.start()
        try:
            deadline = time.monotonic() + 30
            while not since(h, before, ("patch",)):
                assert time.monotonic() < deadline, "the batch wrote nothing"
                time.sleep(0.005)
            for name in gone:
                kube_cluster.request("DELETE", f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
        finally:
            batch_thread.join(timeout=60)
    (batch,) = result
    assert [(e.target, type(e.error)) for e in batch.failed] == [
        (f"deployment.apps/{n}", kubescale.NotFoundError) for n in gone
    ]
    assert len(batch.changed) == len(names) - len(gone)
    assert "not found" in str(batch.failed[0].error).lower()
    # Nothing brought them back, and the others are at 0.
    assert counts(kube_cluster, namespace) == dict.fromkeys(names[:-3], 0)
    with pytest.raises(kubescale.ScaleBatchError):
        batch.raise_for_errors()


def test_sleep_and_wake_a_namespace(
    handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str, crds_installed: None
) -> None:
    install_keda_crd(kube_cluster)
    deployments(kube_cluster, namespace, "x", {"a": 3, "b": 2, "idle": 0, "held": 2, "hpa": 2, "keda": 2})
    kube_cluster.request(
        "POST",
        f"/apis/apps/v1/namespaces/{namespace}/statefulsets",
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "db"},
            "spec": {
                "replicas": 1,
                "serviceName": "db",
                "selector": {"matchLabels": {"app": "db"}},
                "template": {
                    "metadata": {"labels": {"app": "db"}},
                    "spec": {"containers": [{"name": "db", "image": "registry.invalid/db:1"}]},
                },
            },
        },
    )
    create_es(kube_cluster, namespace, elasti_service("held", "unused", target="held"), age=False)
    kube_cluster.request(
        "POST",
        f"/apis/keda.sh/v1alpha1/namespaces/{namespace}/scaledobjects",
        {
            "apiVersion": "keda.sh/v1alpha1",
            "kind": "ScaledObject",
            "metadata": {"name": "keda-so"},
            "spec": {"scaleTargetRef": {"name": "keda"}},
        },
    )
    kube_cluster.request(
        "POST",
        f"/apis/autoscaling/v1/namespaces/{namespace}/horizontalpodautoscalers",
        {
            "apiVersion": "autoscaling/v1",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "hpa"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "hpa"},
                "minReplicas": 1,
                "maxReplicas": 5,
            },
        },
    )
    so = f"/apis/keda.sh/v1alpha1/namespaces/{namespace}/scaledobjects/keda-so"

    def paused() -> Any:
        return (
            kube_cluster.request("GET", so)["metadata"]
            .get("annotations", {})
            .get("autoscaling.keda.sh/paused")
        )

    # A dry run writes nothing.
    dry = handler.sleep(namespace, dry_run=True)
    assert counts(kube_cluster, namespace)["a"] == 3 and paused() is None and len(dry) == 7

    slept = handler.sleep(namespace)
    by = {e.target.split("/")[1]: e for e in slept}
    assert sorted(by) == ["a", "b", "db", "held", "hpa", "idle", "keda"]
    assert sorted(e.target.split("/")[1] for e in slept.changed) == ["a", "b", "db", "hpa", "keda"]
    assert by["held"].skipped == f"held by ElastiService {namespace}/held: left to the loop"
    assert by["idle"].result is not None and not by["idle"].changed  # already at 0
    assert "HorizontalPodAutoscaler hpa" in by["hpa"].result.reason  # type: ignore[union-attr]
    assert counts(kube_cluster, namespace) == {"a": 0, "b": 0, "idle": 0, "held": 2, "hpa": 0, "keda": 0}
    assert counts(kube_cluster, namespace, "statefulsets") == {"db": 0}
    assert [annotation(kube_cluster, namespace, n) for n in ("a", "b", "hpa", "keda")] == ["3", "2", "2", "2"]
    assert paused() == "true"
    # The HPA does not bring its target back while it sleeps: the controller says so.
    kube_cluster.wait_for(
        lambda: hpa_condition(kube_cluster, namespace, "hpa") == ("False", "ScalingDisabled"),
        "the HPA's ScalingActive=False, ScalingDisabled",
    )
    assert counts(kube_cluster, namespace)["hpa"] == 0

    # Sleeping twice never overwrites a remembered count with 0.
    assert handler.sleep(namespace).changed == []
    assert annotation(kube_cluster, namespace, "a") == "3"

    # While asleep: someone scales b by hand; the remembered count of db is removed.
    handler.scale("deploy/b", 4, namespace=namespace)
    kube_cluster.request(
        "PATCH",
        f"/apis/apps/v1/namespaces/{namespace}/statefulsets/db",
        {"metadata": {"annotations": {PREVIOUS: None}}},
        content_type="application/merge-patch+json",
    )

    woken = handler.wake(namespace)
    by = {e.target.split("/")[1]: e for e in woken}
    assert sorted(e.target.split("/")[1] for e in woken.changed) == ["a", "hpa", "keda"]
    assert counts(kube_cluster, namespace) == {"a": 3, "b": 4, "idle": 0, "held": 2, "hpa": 2, "keda": 2}
    assert by["b"].skipped and "left at 4 replicas" in by["b"].skipped
    assert by["db"].skipped and "nothing remembered" in by["db"].skipped
    assert counts(kube_cluster, namespace, "statefulsets") == {"db": 0}
    assert by["idle"].skipped and "nothing remembered" in by["idle"].skipped
    assert by["held"].skipped and "ElastiService" in by["held"].skipped
    assert paused() == "false"
    assert {e.target for e in woken.skipped} == {
        "deployment.apps/b",
        "statefulset.apps/db",
        "deployment.apps/idle",
        "deployment.apps/held",
    }


async def test_the_asyncio_handler_scales_a_fleet_too(kube_cluster: ClusterAPI, namespace: str) -> None:
    deployments(kube_cluster, namespace, "x", {"a": 1, "b": 1})
    async with kubescale.asyncio.ScaleHandler(kubeconfig=kube_cluster.kubeconfig_path) as h:
        batch = await h.scale_all("deployments", 0, selector="team=x", namespace=namespace)
        assert len(batch.changed) == 2
        slept = await h.sleep(namespace)
        assert slept.changed == [] and len(slept.unchanged) == 2
        woken = await h.wake(namespace)
        assert len(woken.skipped) == 2  # nothing remembered: they were at 0 before the sleep


def test_waiting_for_a_batch_reports_done_and_total(
    handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    deployments(kube_cluster, namespace, "w", {"a": 0, "b": 0})
    batch = handler.scale_all("deployments", 2, selector="team=w", namespace=namespace)
    seen: list[tuple[int, int]] = []
    scales = handler.wait_for_replicas(
        batch, ready=False, timeout=60, on_progress=lambda done, total: seen.append((done, total))
    )
    assert [(s.name, s.status_replicas) for s in scales] == [("a", 2), ("b", 2)]
    assert seen[0] == (0, 2) and seen[-1] == (2, 2) and len(seen) == 3
    with pytest.raises(TypeError, match="a batch waits for the counts"):
        handler.wait_for_replicas(batch, 3)
    # A target that does not get there in time fails the wait, naming it.
    stuck = handler.scale_all(["deploy/a"], 1, namespace=namespace)
    with pytest.raises(kubescale.WaitTimeoutError, match=r"deployment\.apps/a"):
        handler.wait_for_replicas(stuck, ready=True, timeout=1)  # no kubelet: never ready
