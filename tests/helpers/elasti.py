"""ElastiService objects, their status, and processes of the loop competing for a Lease."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, Optional

import kubescale
from kubescale.testing import ClusterAPI

ES_PATH = "/apis/elasti.truefoundry.com/v1alpha1/namespaces/{ns}/elastiservices"


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


# What the `flag` test scalers answer, per trigger `metadata.key`.
STATE: dict[str, dict[str, Any]] = {}


def flagged_service(
    cluster: ClusterAPI,
    ns: str,
    name: str,
    key: str,
    *,
    zero: bool,
    replicas: int,
    age: bool = True,
    **spec: Any,
) -> None:
    """The usual set-up of a loop test: the target Deployment (``spec["target"]``, default
    ``web``) at `replicas`, the flag `key` a ``flag`` trigger reads set to `zero`, and the
    ElastiService `name` of that trigger (:func:`elasti_service` with `spec`)."""
    cluster.create_deployment(ns, spec.get("target", "web"), replicas)
    STATE[key] = {"zero": zero}
    create_es(cluster, ns, elasti_service(name, key, **spec), age=age)


def idle_services(cluster: ClusterAPI, ns: str, names: list[str]) -> None:
    """A Deployment at 1 for each name, each the target of an ElastiService of that name whose
    ``idle`` trigger (:class:`Idle`) allows zero once its 1 s cooldown is past."""
    for name in names:
        cluster.create_deployment(ns, name, 1)
        service = elasti_service(name, "unused", target=name, trigger_type="idle", cooldown=1)
        create_es(cluster, ns, service, age=False)


class Idle:
    """A test scaler whose trigger always allows zero (and never asks for a scale-up)."""

    def __init__(self, metadata: dict[str, Any], cooldown: Any) -> None:
        pass

    def is_healthy(self) -> bool:
        return True

    def should_scale_to_zero(self) -> bool:
        return True

    def should_scale_from_zero(self) -> bool:
        return False


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


class AsyncFlagScaler(FlagScaler):
    """FlagScaler with coroutine methods; records the event loop it ran on (`loop`)."""

    async def is_healthy(self) -> bool:  # type: ignore[override]
        await asyncio.sleep(0.01)
        self.state["loop"] = id(asyncio.get_running_loop())
        return bool(self.state.get("healthy", True))

    async def should_scale_to_zero(self) -> bool:  # type: ignore[override]
        await asyncio.sleep(0.01)
        return bool(self.state["zero"])
