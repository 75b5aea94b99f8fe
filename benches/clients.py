"""One benchmark run of one client, in its own process (so that its CPU time and memory are its
own). Prints one JSON object. Used by ``benches/run.py``; not meant to be run by hand.

Every client does the same work per operation: make the Deployment's desired replica count
equal a value that differs from the current one (the read-compare-write of a scale call).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, Callable, Optional


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# ---- clients: setup(kubeconfig, namespace, concurrency) -> (scale, warm, close) -------------


def kubescale_sync(kc: str, ns: str, conc: int, events: bool = True) -> tuple[Callable[..., Any], bool]:
    import kubescale

    h = kubescale.ScaleHandler(ns, kubeconfig=kc, record_events=events)
    h.get_scale("deployment/b-0")  # warm-up: discovery and a connection

    def scale(name: str, value: int) -> None:
        h.scale(f"deployment/{name}", value)

    # Inside the measured time: close() writes the Events still queued.
    scale.finish = h.close  # type: ignore[attr-defined]
    return scale, False


def kubescale_async(kc: str, ns: str, conc: int, events: bool = True) -> tuple[Callable[..., Any], bool]:
    import kubescale.asyncio

    h = kubescale.asyncio.ScaleHandler(ns, kubeconfig=kc, record_events=events)

    async def scale(name: str, value: int) -> None:
        await h.scale(f"deployment/{name}", value)

    async def warm() -> None:
        await h.get_scale("deployment/b-0")

    scale.warm = warm  # type: ignore[attr-defined]
    # Inside the measured time: aclose() writes the Events still queued.
    scale.finish = h.aclose  # type: ignore[attr-defined]
    return scale, True


def official(kc: str, ns: str, conc: int) -> tuple[Callable[..., Any], bool]:
    from kubernetes import client, config

    cfg = client.Configuration()
    config.load_kube_config(config_file=kc, client_configuration=cfg)
    cfg.connection_pool_maxsize = max(4, conc)
    api = client.AppsV1Api(client.ApiClient(cfg))
    api.read_namespaced_deployment_scale("b-0", ns)

    def scale(name: str, value: int) -> None:
        s = api.read_namespaced_deployment_scale(name, ns)
        if s.spec.replicas != value:
            s.spec.replicas = value
            api.replace_namespaced_deployment_scale(name, ns, s)

    return scale, False


def official_asyncio(kc: str, ns: str, conc: int) -> tuple[Callable[..., Any], bool]:
    from kubernetes_asyncio import client, config

    state: dict[str, Any] = {}

    async def warm() -> None:
        cfg = client.Configuration()
        await config.load_kube_config(config_file=kc, client_configuration=cfg)
        cfg.connection_pool_maxsize = max(4, conc)
        state["api"] = client.AppsV1Api(client.ApiClient(cfg))
        await state["api"].read_namespaced_deployment_scale("b-0", ns)

    async def scale(name: str, value: int) -> None:
        api = state["api"]
        s = await api.read_namespaced_deployment_scale(name, ns)
        if s.spec.replicas != value:
            s.spec.replicas = value
            await api.replace_namespaced_deployment_scale(name, ns, s)

    scale.warm = warm  # type: ignore[attr-defined]
    return scale, True


def kr8s_async(kc: str, ns: str, conc: int) -> tuple[Callable[..., Any], bool]:
    import kr8s.asyncio
    from kr8s.asyncio.objects import Deployment

    state: dict[str, Any] = {}

    async def warm() -> None:
        state["api"] = await kr8s.asyncio.api(kubeconfig=kc, namespace=ns)
        await Deployment.get("b-0", namespace=ns, api=state["api"])

    async def scale(name: str, value: int) -> None:
        d = await Deployment.get(name, namespace=ns, api=state["api"])
        if d.replicas != value:
            await d.scale(value)

    scale.warm = warm  # type: ignore[attr-defined]
    return scale, True


def lightkube_async(kc: str, ns: str, conc: int) -> tuple[Callable[..., Any], bool]:
    from lightkube import AsyncClient, KubeConfig
    from lightkube.resources.apps_v1 import Deployment

    state: dict[str, Any] = {}

    async def warm() -> None:
        state["client"] = AsyncClient(config=KubeConfig.from_file(kc), namespace=ns)
        await state["client"].get(Deployment.Scale, "b-0")

    async def scale(name: str, value: int) -> None:
        c = state["client"]
        s = await c.get(Deployment.Scale, name)
        if s.spec.replicas != value:
            s.spec.replicas = value
            await c.replace(s)

    scale.warm = warm  # type: ignore[attr-defined]
    return scale, True


CLIENTS: dict[str, Callable[[str, str, int], tuple[Callable[..., Any], bool]]] = {
    "kubescale-sync": kubescale_sync,
    "kubescale-async": kubescale_async,
    # The same work as the peers: no Event per change.
    "kubescale-sync-noevents": partial(kubescale_sync, events=False),
    "kubescale-async-noevents": partial(kubescale_async, events=False),
    "kubernetes": official,
    "kubernetes-asyncio": official_asyncio,
    "kr8s": kr8s_async,
    "lightkube": lightkube_async,
}


# ---- runners ---------------------------------------------------------------------------------


def thread_pool(conc: int) -> Optional[ThreadPoolExecutor]:
    """The threads of the blocking runner, all started before the measured time, as an
    application keeps its pool: what is measured is the client's work, not ``conc`` new threads
    a round (the Go peer's goroutines cost nothing alike). None for one call at a time."""
    if conc == 1:
        return None
    pool = ThreadPoolExecutor(conc)
    started = threading.Barrier(conc + 1)
    for _ in range(conc):
        pool.submit(started.wait)
    started.wait()
    return pool


def run_sync(
    scale: Callable[..., Any],
    jobs: list[tuple[str, int]],
    pool: Optional[ThreadPoolExecutor],
    lat: list[float],
) -> None:
    def one(job: tuple[str, int]) -> None:
        t = time.perf_counter()
        scale(*job)
        lat.append((time.perf_counter() - t) * 1000)

    if pool is None:
        for job in jobs:
            one(job)
    else:
        list(pool.map(one, jobs))


async def run_async(
    scale: Callable[..., Any], jobs: list[tuple[str, int]], conc: int, lat: list[float]
) -> None:
    async def timed(job: tuple[str, int]) -> None:
        t = time.perf_counter()
        await scale(*job)
        lat.append((time.perf_counter() - t) * 1000)

    if conc == 1:  # one after another, as run_sync and the compiled peers do
        for job in jobs:
            await timed(job)
        return
    sem = asyncio.Semaphore(conc)

    async def one(job: tuple[str, int]) -> None:
        async with sem:
            await timed(job)

    await asyncio.gather(*(one(j) for j in jobs))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--client", required=True, choices=sorted(CLIENTS))
    p.add_argument("--kubeconfig", required=True)
    p.add_argument("--namespace", required=True)
    p.add_argument("--targets", type=int, required=True)
    p.add_argument("--values", required=True, help="comma-separated value per round")
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--rss-per-round", action="store_true")
    a = p.parse_args()
    started = time.perf_counter()
    scale, is_async = CLIENTS[a.client](a.kubeconfig, a.namespace, a.concurrency)
    rounds = [int(v) for v in a.values.split(",")]
    lat: list[float] = []
    rss_rounds: list[int] = []
    result: dict[str, Any] = {}

    async def body() -> None:
        warm = getattr(scale, "warm", None)
        if warm is not None:
            await warm()
        setup_done = time.perf_counter()
        result["warm_end"] = time.time()  # discovery after this is counted as after warm-up
        cpu0, t0 = cpu_seconds(), time.perf_counter()
        for v in rounds:
            jobs = [(f"b-{i}", v) for i in range(a.targets)]
            await run_async(scale, jobs, a.concurrency, lat)
            rss_rounds.append(rss_kb())
        finish = getattr(scale, "finish", None)
        if finish is not None:
            await finish()
        result.update(cpu=cpu_seconds() - cpu0, wall=time.perf_counter() - t0, setup=setup_done - started)

    if is_async:
        asyncio.run(body())
    else:
        pool = thread_pool(a.concurrency)
        setup_done = time.perf_counter()
        result["warm_end"] = time.time()  # discovery after this is counted as after warm-up
        cpu0, t0 = cpu_seconds(), time.perf_counter()
        for v in rounds:
            run_sync(scale, [(f"b-{i}", v) for i in range(a.targets)], pool, lat)
            rss_rounds.append(rss_kb())
        finish = getattr(scale, "finish", None)
        if finish is not None:
            finish()
        result.update(cpu=cpu_seconds() - cpu0, wall=time.perf_counter() - t0, setup=setup_done - started)
        if pool is not None:
            pool.shutdown()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    json.dump(
        {**result, "ops": len(lat), "lat": lat, "rss_peak_kb": peak, "rss_rounds": rss_rounds}, sys.stdout
    )


if __name__ == "__main__":
    main()
