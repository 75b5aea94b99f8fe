#!/usr/bin/env python3
"""A fleet put to sleep and woken: N Deployments (2 replicas each) across 10 namespaces, all
labelled `fleet=bench`, on one local cluster (no controller-manager), three ways in one run:

- kubescale: `sleep(selector=..., all_namespaces=True)` then `wake(...)` (remembers each count
  in an annotation and restores it; Events recorded);
- kubectl: `kubectl scale deployment -l fleet=bench --replicas=0 -n NS` per namespace, then
  `--replicas=2` (kubectl remembers nothing: the count to go back to is given);
- the official Python client: per namespace, list the Deployments with the selector, then for
  each patch the count into an annotation and the replicas to 0 in one patch of the object,
  then read the annotation back and patch the replicas (the same work as kubescale's, written
  by hand, one request per target each way).

Per way and phase: wall time, and the requests the API server saw from that client (its audit
log, by user agent: Deployments, their scale subresource and discovery), medians of the
repetitions. Every way starts from every Deployment at 2.

Usage: benches/fleet.py [--targets 1000] [--reps 3]. Writes benches/fleet.json and the fleet
section of benches/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

from results_md import markers, write_section

import kubescale
from kubescale.testing import LocalCluster

HERE = Path(__file__).parent
START, END = markers("fleet")
NAMESPACES = 10
SELECTOR = "fleet=bench"
ANNOTATION = "bench.kubescale.io/previous-replicas"
AUDIT = [
    {
        "level": "Metadata",
        "resources": [{"group": "apps", "resources": ["deployments", "deployments/scale"]}],
    },
    {"level": "Metadata", "nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*"]},
]


def make_fleet(cluster: LocalCluster, n: int) -> list[str]:
    namespaces = [cluster.create_namespace(wait_for_service_account=False) for _ in range(NAMESPACES)]

    def make(i: int) -> None:
        ns = namespaces[i % NAMESPACES]
        cluster.create_deployment(ns, f"app-{i}", 2, labels={"app": f"app-{i}", "fleet": "bench"})

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(make, range(n)))
    return namespaces


def counts(cluster: LocalCluster, namespaces: list[str]) -> Counter[int]:
    c: Counter[int] = Counter()
    for ns in namespaces:
        for d in cluster.request("GET", f"/apis/apps/v1/namespaces/{ns}/deployments")["items"]:
            c[int(d["spec"].get("replicas", 0))] += 1
    return c


def requests_since(cluster: LocalCluster, start: int, agent: str) -> Counter[str]:
    out: Counter[str] = Counter()
    seen = set()
    for e in cluster.audit_entries()[start:]:
        if not str(e.get("userAgent", "")).startswith(agent) or e["auditID"] in seen:
            continue
        seen.add(e["auditID"])
        out[e["verb"]] += 1
    return out


def kubescale_way(cluster: LocalCluster, namespaces: list[str]) -> dict[str, Callable[[], None]]:
    def sleep() -> None:
        with kubescale.ScaleHandler(kubeconfig=cluster.kubeconfig_path) as h:
            h.sleep(selector=SELECTOR, types=["deployments"], all_namespaces=True, raise_on_error=True)

    def wake() -> None:
        with kubescale.ScaleHandler(kubeconfig=cluster.kubeconfig_path) as h:
            h.wake(selector=SELECTOR, types=["deployments"], all_namespaces=True, raise_on_error=True)

    return {"sleep": sleep, "wake": wake}


def kubectl_way(cluster: LocalCluster, namespaces: list[str]) -> dict[str, Callable[[], None]]:
    env = {**os.environ, "KUBECONFIG": cluster.kubeconfig_path}

    def scale(n: int) -> None:
        for ns in namespaces:
            cmd = ["kubectl", "scale", "deployment", "-l", SELECTOR, f"--replicas={n}", "-n", ns]
            subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=600)

    return {"sleep": lambda: scale(0), "wake": lambda: scale(2)}


def client_way(cluster: LocalCluster, namespaces: list[str]) -> dict[str, Callable[[], None]]:
    from kubernetes import client, config

    def api() -> Any:
        return client.AppsV1Api(config.new_client_from_config(cluster.kubeconfig_path))

    def sleep() -> None:
        apps = api()
        for ns in namespaces:
            for d in apps.list_namespaced_deployment(ns, label_selector=SELECTOR).items:
                n = d.spec.replicas or 0
                if n == 0:
                    continue
                body = {"metadata": {"annotations": {ANNOTATION: str(n)}}, "spec": {"replicas": 0}}
                apps.patch_namespaced_deployment(d.metadata.name, ns, body)

    def wake() -> None:
        apps = api()
        for ns in namespaces:
            for d in apps.list_namespaced_deployment(ns, label_selector=SELECTOR).items:
                remembered = (d.metadata.annotations or {}).get(ANNOTATION)
                if (d.spec.replicas or 0) == 0 and remembered:
                    apps.patch_namespaced_deployment_scale(
                        d.metadata.name, ns, {"spec": {"replicas": int(remembered)}}
                    )

    return {"sleep": sleep, "wake": wake}


WAYS = {
    "kubescale": (kubescale_way, "kubescale"),
    "kubectl": (kubectl_way, "kubectl"),
    "python-client": (client_way, "OpenAPI-Generator"),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    results: dict[str, dict[str, list[dict[str, Any]]]] = {}
    with LocalCluster(controller_manager=False, audit_rules=AUDIT) as cluster:
        t0 = time.monotonic()
        namespaces = make_fleet(cluster, args.targets)
        print(
            f"{args.targets} Deployments in {NAMESPACES} namespaces made in {time.monotonic() - t0:.0f} s",
            flush=True,
        )
        for rep in range(args.reps):
            for way, (make, agent) in WAYS.items():
                phases = make(cluster, namespaces)
                for phase in ("sleep", "wake"):
                    start = len(cluster.audit_entries())
                    t = time.perf_counter()
                    phases[phase]()
                    wall = time.perf_counter() - t
                    time.sleep(1)  # the audit log is written in batches
                    verbs = requests_since(cluster, start, agent)
                    want = {0: args.targets} if phase == "sleep" else {2: args.targets}
                    assert counts(cluster, namespaces) == Counter(want), (
                        way,
                        phase,
                        counts(cluster, namespaces),
                    )
                    row = {
                        "wall_s": wall,
                        "requests": sum(verbs.values()),
                        "verbs": dict(sorted(verbs.items())),
                    }
                    results.setdefault(way, {}).setdefault(phase, []).append(row)
                    print(
                        f"  rep {rep + 1} {way:13} {phase:5} {wall:6.2f} s",
                        f"{row['requests']:5} requests {row['verbs']}",
                        flush=True,
                    )
    summary = {
        way: {
            phase: {
                "wall_s": statistics.median(r["wall_s"] for r in rows),
                "requests": statistics.median(r["requests"] for r in rows),
                "verbs": rows[-1]["verbs"],
            }
            for phase, rows in phases.items()
        }
        for way, phases in results.items()
    }
    (HERE / "fleet.json").write_text(
        json.dumps({"targets": args.targets, "reps": args.reps, "results": summary}, indent=2)
    )
    base = summary["kubescale"]
    lines = [
        START,
        "## A fleet slept and woken (`benches/fleet.py`)",
        "",
        f"{args.targets} Deployments (2 replicas each) across {NAMESPACES} namespaces, chosen by a label",
        "selector,",
        "scaled to 0 and back on one local cluster (no controller-manager), medians of "
        f"{args.reps} repetitions. kubescale: `sleep()` and `wake()` over every namespace (the count",
        "remembered in an annotation and restored, an Event per change); kubectl: `kubectl scale -l`",
        "per namespace (remembers nothing: the count is given back); the official Python client: a",
        "list per namespace and one patch per target each way (count into an annotation and replicas",
        "to 0 together; back from the annotation). Requests are the API server's audit log, by user",
        "agent (Deployments, their scale subresource and discovery; Events not counted). Ratios are",
        "each way's value over kubescale's.",
        "",
        "| way | sleep wall | sleep requests | wake wall | wake requests |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for way, phases in summary.items():
        cells = []
        for phase in ("sleep", "wake"):
            s, b = phases[phase], base[phase]
            cells.append(f"{s['wall_s']:.2f} s ({s['wall_s'] / b['wall_s']:.2f}x)")
            cells.append(f"{s['requests']:.0f} ({s['requests'] / max(b['requests'], 1):.2f}x) {s['verbs']}")
        lines.append(f"| {way} | " + " | ".join(cells) + " |")
    lines += ["", END]
    write_section("fleet", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
