"""Bad input: each case raises a typed kubescale (or builtin) exception whose message names the
problem, and the handler stays usable afterwards."""

from __future__ import annotations

from typing import Any, Callable

import pytest

import kubescale
from kubescale.testing import ClusterAPI

H = kubescale.ScaleHandler
Case = tuple[str, Callable[[H, str], Any], type[BaseException], str]

BAD_TARGETS = [
    ("", "expected TYPE/NAME"),
    ("/", "type before '/' is empty"),
    ("deployment/", "name is empty"),
    ("/web", "type before '/' is empty"),
    ("a/b/c", "exactly one '/'"),
    ("deploy/we b", "not a valid object name"),
    ("deploy/Web", "not a valid object name"),
    ("deploy/" + "a" * 300, "at most 253"),
    ("deploy/ünï", "not a valid object name"),
    ("deploy/../x", "exactly one '/'"),
    ("../deploy", "resource type is empty"),
    ("dep loy/x", "resource type contains"),
    ("deployments./x", "group after '.' is empty"),
    ("deploy/-web", "not a valid object name"),
    ("deploy/web-", "not a valid object name"),
    ("deploy/a..b", "not a valid object name"),
    ("deploy", "expected TYPE/NAME"),
]

CASES: list[Case] = [
    *[
        (f"target {t!r}", lambda h, ns, t=t: h.scale(t, 1, namespace=ns), kubescale.InvalidTargetError, msg)
        for t, msg in BAD_TARGETS
    ],
    (
        "unknown kind",
        lambda h, ns: h.scale("frobnicator/x", 1, namespace=ns),
        kubescale.NoMatchError,
        "frobnicator",
    ),
    (
        "unknown group",
        lambda h, ns: h.get_scale("deployments.nosuch.io/x", namespace=ns),
        kubescale.NoMatchError,
        "nosuch.io",
    ),
    (
        "unknown version",
        lambda h, ns: h.get_scale("Deployment.v9.apps/x", namespace=ns),
        kubescale.NoMatchError,
        "v9",
    ),
    (
        "configmap",
        lambda h, ns: h.scale("configmap/x", 1, namespace=ns),
        kubescale.NotScalableError,
        "ConfigMap",
    ),
    ("secret", lambda h, ns: h.scale("secrets/x", 1, namespace=ns), kubescale.NotScalableError, "Secret"),
    (
        "namespace kind",
        lambda h, ns: h.scale("namespace/x", 1, namespace=ns),
        kubescale.NotScalableError,
        "Namespace",
    ),
    ("replicas -1", lambda h, ns: h.scale("deploy/web", -1, namespace=ns), ValueError, "replicas"),
    ("replicas 2**31", lambda h, ns: h.scale("deploy/web", 2**31, namespace=ns), ValueError, "2147483648"),
    ("replicas 2**70", lambda h, ns: h.scale("deploy/web", 2**70, namespace=ns), ValueError, "out of range"),
    ("replicas bool", lambda h, ns: h.scale("deploy/web", True, namespace=ns), TypeError, "not bool"),
    ("replicas float", lambda h, ns: h.scale("deploy/web", 1.5, namespace=ns), TypeError, "not float"),
    ("replicas str", lambda h, ns: h.scale("deploy/web", "3", namespace=ns), TypeError, "not str"),
    (
        "replicas None",
        lambda h, ns: h.scale("deploy/web", None, namespace=ns),
        TypeError,
        "replicas is required",
    ),
    ("replicas list", lambda h, ns: h.scale("deploy/web", [3], namespace=ns), TypeError, "not list"),
    (
        "min_replicas -2",
        lambda h, ns: h.scale_from_zero("deploy/web", -2, namespace=ns),
        ValueError,
        "min_replicas",
    ),
    (
        "wait replicas float",
        lambda h, ns: h.wait_for_replicas("deploy/web", 1.0, namespace=ns),
        TypeError,
        "replicas",
    ),
    (
        "wait timeout -1",
        lambda h, ns: h.wait_for_replicas("deploy/web", timeout=-1, namespace=ns),
        ValueError,
        "timeout",
    ),
    (
        "wait timeout nan",
        lambda h, ns: h.wait_for_replicas("deploy/web", timeout=float("nan"), namespace=ns),
        ValueError,
        "timeout",
    ),
    (
        "namespace uppercase",
        lambda h, ns: h.scale("deploy/web", 1, namespace="Team-A"),
        kubescale.InvalidValueError,
        "Team-A",
    ),
    (
        "namespace underscore",
        lambda h, ns: h.scale("deploy/web", 1, namespace="a_b"),
        kubescale.InvalidValueError,
        "a_b",
    ),
    (
        "namespace too long",
        lambda h, ns: h.get_scale("deploy/web", namespace="a" * 64),
        kubescale.InvalidValueError,
        "at most 63",
    ),
    (
        "namespace missing",
        lambda h, ns: h.scale("deploy/web", 1, namespace="no-such-namespace"),
        kubescale.NotFoundError,
        "not found",
    ),
    (
        "object missing",
        lambda h, ns: h.scale("deploy/absent", 1, namespace=ns),
        kubescale.NotFoundError,
        "absent",
    ),
    (
        "api_version without version",
        lambda h, ns: h.scale(api_version="apps", kind="Deployment", name="web", replicas=1),
        kubescale.InvalidTargetError,
        "apiVersion",
    ),
    (
        "empty kind",
        lambda h, ns: h.scale(api_version="apps/v1", kind="", name="web", replicas=1),
        kubescale.InvalidTargetError,
        "kind",
    ),
    (
        "bad name keyword",
        lambda h, ns: h.scale(api_version="apps/v1", kind="Deployment", name="Web", replicas=1),
        kubescale.InvalidTargetError,
        "Web",
    ),
    (
        "target and keywords",
        lambda h, ns: h.scale("deploy/web", 1, kind="Deployment", api_version="apps/v1", name="web"),
        TypeError,
        "not both",
    ),
    ("no target", lambda h, ns: h.get_scale(), TypeError, "target is required"),
    (
        "event type",
        lambda h, ns: h.record_event("deploy/web", "Error", "X", "n", namespace=ns),
        kubescale.InvalidValueError,
        "Normal",
    ),
    (
        "event reason",
        lambda h, ns: h.record_event("deploy/web", "Normal", "has space", "n", namespace=ns),
        kubescale.InvalidValueError,
        "reason",
    ),
    (
        "keda name",
        lambda h, ns: h.pause_keda("Bad_Name", namespace=ns),
        kubescale.InvalidTargetError,
        "Bad_Name",
    ),
    ("resolve malformed", lambda h, ns: h.resolve("de ploy"), kubescale.InvalidTargetError, "contains"),
    ("scaler not callable", lambda h, ns: h.register_scaler("x", 42), TypeError, "callable"),
    (
        "scaler empty type",
        lambda h, ns: h.register_scaler("", lambda m, c: None),
        kubescale.InvalidValueError,
        "empty",
    ),
    (
        "scaler timeout",
        lambda h, ns: h.register_scaler("x", lambda m, c: None, timeout=0),
        kubescale.InvalidValueError,
        "positive",
    ),
    ("run interval", lambda h, ns: h.run(0), kubescale.InvalidValueError, "positive"),
    (
        "service name",
        lambda h, ns: h.check_and_scale_service("Bad_Name", namespace=ns),
        kubescale.InvalidTargetError,
        "Bad_Name",
    ),
]


@pytest.fixture(scope="module")
def shared(kube_cluster: ClusterAPI) -> tuple[kubescale.ScaleHandler, str]:
    ns = kube_cluster.create_namespace()
    kube_cluster.create_deployment(ns, "web", 1)
    return kubescale.ScaleHandler(kubeconfig=kube_cluster.kubeconfig_path), ns


def test_there_are_at_least_40_cases() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize("name,call,exc,fragment", CASES, ids=[c[0] for c in CASES])
def test_bad_input(
    shared: tuple[kubescale.ScaleHandler, str],
    name: str,
    call: Callable[[H, str], Any],
    exc: type[BaseException],
    fragment: str,
) -> None:
    handler, ns = shared
    with pytest.raises(exc) as err:
        call(handler, ns)
    assert fragment in str(err.value), f"{name}: {err.value!r} does not mention {fragment!r}"
    # The handler is still usable.
    assert handler.get_scale("deploy/web", namespace=ns).name == "web"


def test_namespace_outside_the_watch_namespace_fails_before_any_request(kube_cluster: ClusterAPI) -> None:
    h = kubescale.ScaleHandler("team-a", kubeconfig=kube_cluster.kubeconfig_path)
    with pytest.raises(kubescale.NamespaceNotAllowedError, match="team-b"):
        h.scale("deploy/web", 1, namespace="team-b")
