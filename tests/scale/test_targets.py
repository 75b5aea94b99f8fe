"""Which targets the ScaleHandler reaches: every kubectl spelling, any scalable kind (CRDs too),
discovery as it changes, the watch namespace."""

from __future__ import annotations

import pytest

import kubescale
import kubescale.asyncio
from kubescale.testing import ClusterAPI

from helpers import (
    DEPLOY,
    TEST_GROUP,
    crd_manifest,
    create_widget,
    create_workload,
    install_crd,
    spec_replicas,
)


@pytest.mark.parametrize(
    "target",
    [
        "deployment/web",
        "deploy/web",
        "deployments/web",
        "deployments.apps/web",
        "Deployment.v1.apps/web",
        "deployment.apps/web",
    ],
)
def test_every_kubectl_spelling_reaches_the_deployment(
    handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str, target: str
) -> None:
    kube_cluster.create_deployment(namespace, "web", 1)
    result = handler.scale(target, 4, namespace=namespace)
    assert (result.previous, result.replicas, result.changed) == (1, 4, True)
    assert result.target == "deployment.apps/web"
    assert spec_replicas(kube_cluster, namespace, DEPLOY) == 4


def test_explicit_api_version_kind_name(
    handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    kube_cluster.create_deployment(namespace, "web", 1)
    result = handler.scale(
        api_version="apps/v1", kind="Deployment", name="web", replicas=2, namespace=namespace
    )
    assert result.replicas == 2
    scale = handler.get_scale(api_version="apps/v1", kind="Deployment", name="web", namespace=namespace)
    assert scale.spec_replicas == 2 and scale.kind == "Deployment" and scale.api_version == "apps/v1"
    with pytest.raises(TypeError, match="not both"):
        handler.scale(
            "deploy/web", 2, kind="Deployment", api_version="apps/v1", name="web", namespace=namespace
        )


@pytest.mark.parametrize("kind,target", [("StatefulSet", "statefulset/db"), ("ReplicaSet", "rs/db")])
def test_statefulset_and_replicaset(
    handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str, kind: str, target: str
) -> None:
    create_workload(kube_cluster, namespace, kind, "db", 1)
    assert handler.scale(target, 3, namespace=namespace).changed
    path = f"/apis/apps/v1/namespaces/{{ns}}/{kind.lower()}s/db"
    assert spec_replicas(kube_cluster, namespace, path) == 3
    scale = handler.get_scale(target, namespace=namespace)
    assert scale.kind == kind and scale.spec_replicas == 3 and scale.selector == "app=db"


def test_custom_resource_with_scale_subresource(
    handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str, widget_crd: str
) -> None:
    create_widget(kube_cluster, namespace, "w", 1)
    assert handler.resolve("widget").scalable
    for target in ("widget/w", "widgets/w", f"widgets.{TEST_GROUP}/w", f"Widget.v1.{TEST_GROUP}/w", "widx/w"):
        handler.scale(target, 2, namespace=namespace)
    assert spec_replicas(kube_cluster, namespace, f"/apis/{TEST_GROUP}/v1/namespaces/{{ns}}/widgets/w") == 2


def test_argo_rollout_spelling(
    handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    manifest = crd_manifest("rollouts", "Rollout", [("v1alpha1", True, True)])
    manifest["metadata"]["name"] = "rollouts.argoproj.io"
    manifest["spec"]["group"] = "argoproj.io"
    manifest["spec"]["names"]["shortNames"] = ["ro"]
    install_crd(kube_cluster, manifest)
    kube_cluster.request(
        "POST",
        f"/apis/argoproj.io/v1alpha1/namespaces/{namespace}/rollouts",
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Rollout",
            "metadata": {"name": "canary"},
            "spec": {"replicas": 1},
        },
    )
    assert (
        handler.scale("rollouts.argoproj.io/canary", 2, namespace=namespace).target
        == "rollout.argoproj.io/canary"
    )
    assert handler.scale("ro/canary", 3, namespace=namespace).previous == 2


def test_served_version_change_refreshes_discovery(
    handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    # A kind of its own per run: a CRD's stored versions cannot go back.
    kind = "Gadget" + namespace.split("-")[-1]
    plural = kind.lower() + "s"
    short = f"{kind.lower()}x"  # not Gadget's "gadx" (tests/loop/test_operating.py)
    install_crd(kube_cluster, crd_manifest(plural, kind, [("v1", True, True)], short_name=short))
    kube_cluster.request(
        "POST",
        f"/apis/{TEST_GROUP}/v1/namespaces/{namespace}/{plural}",
        {"apiVersion": f"{TEST_GROUP}/v1", "kind": kind, "metadata": {"name": "g"}, "spec": {"replicas": 1}},
    )
    assert handler.scale(f"{plural}/g", 2, namespace=namespace).changed  # discovery caches v1
    # The CRD now serves only v2: the cached v1 path answers 404 for the resource type.
    versions = [("v1", False, False), ("v2", True, True)]
    install_crd(kube_cluster, crd_manifest(plural, kind, versions, short_name=short))
    result = handler.scale(f"{plural}/g", 3, namespace=namespace)
    assert (result.previous, result.replicas) == (2, 3)
    assert handler.resolve(plural).version == "v2"


def test_unknown_and_unscalable_kinds_and_missing_objects(
    handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    with pytest.raises(kubescale.NoMatchError, match="frobnicator"):
        handler.scale("frobnicator/x", 1, namespace=namespace)
    with pytest.raises(kubescale.NotScalableError, match="ConfigMap"):
        handler.scale("configmap/x", 1, namespace=namespace)
    with pytest.raises(kubescale.NotFoundError) as err:
        handler.scale("deploy/absent", 1, namespace=namespace)
    assert err.value.status == 404 and err.value.reason == "NotFound"
    # The handler is still usable.
    kube_cluster.create_deployment(namespace, "web", 1)
    assert handler.scale("deploy/web", 2, namespace=namespace).changed


def test_watch_namespace_is_enforced(kube_cluster: ClusterAPI, namespace: str) -> None:
    kube_cluster.create_deployment(namespace, "web", 1)
    with kubescale.ScaleHandler(namespace, kubeconfig=kube_cluster.kubeconfig_path) as h:
        assert h.namespace == namespace
        assert h.scale("deploy/web", 2).changed  # the watch namespace is the default
        with pytest.raises(kubescale.NamespaceNotAllowedError, match="outside"):
            h.scale("deploy/web", 2, namespace="kube-system")
        assert isinstance(kubescale.NamespaceNotAllowedError("x"), PermissionError)


def test_resources_lists_the_scalable_kinds(handler: kubescale.ScaleHandler) -> None:
    scalable = {(r.group, r.kind) for r in handler.resources(scalable=True)}
    assert {
        ("apps", "Deployment"),
        ("apps", "StatefulSet"),
        ("apps", "ReplicaSet"),
        ("", "ReplicationController"),
    } <= scalable
    everything = handler.resources()
    assert any(r.kind == "ConfigMap" and not r.scalable for r in everything)
    assert all(r.scalable for r in handler.resources(scalable=True))
