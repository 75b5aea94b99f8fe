#!/usr/bin/env python3
"""What one request of each kind costs the local API server and etcd, in CPU time.

On this machine the control plane shares the client's two cores, so at saturation every
client's throughput is about 2 cores / (client CPU + server CPU) per change (see PROFILE.md).
This measures the server's side alone: each kind of request a scale client sends (the peers'
GET and PUT of the scale subresource, kubescale's tested JSON Patch, an Event's create and the
merge patch of its series), one after another over one kept-alive HTTPS connection, several
interleaved repetitions, medians. The server's idle CPU over the same wall time is subtracted.
The client here is plain `http.client`: its own cost is not measured.

Usage: benches/server_cost.py [--requests 200] [--reps 5]. Writes benches/server_cost.json and
the server-cost section of benches/RESULTS.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlparse

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "python"))

from results_md import markers, server_cpu, write_section  # noqa: E402

from kubescale.testing import LocalCluster  # noqa: E402

START, END = markers("server")


class Server:
    """The local control plane, one kept-alive connection to it, and its CPU time."""

    def __init__(self, cluster: LocalCluster, ns: str) -> None:
        self.cluster = cluster
        self.ns = ns
        url = urlparse(cluster.server)
        self.conn = http.client.HTTPSConnection(
            url.hostname or "127.0.0.1", url.port, context=cluster._context()
        )
        self.events = 0

    def cpu(self) -> float:
        return server_cpu(self.cluster)

    def request(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> Any:
        headers = {"Authorization": f"Bearer {self.cluster.token}", "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        self.conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        resp = self.conn.getresponse()
        data = resp.read()
        if resp.status >= 300:
            raise RuntimeError(f"{method} {path}: HTTP {resp.status}: {data[:300]!r}")
        return json.loads(data) if data else None

    def event(self, target: str) -> dict[str, Any]:
        """An Event as kubescale writes it."""
        self.events += 1
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
        return {
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {"name": f"{target}.{self.events:x}", "namespace": self.ns},
            "regarding": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "namespace": self.ns,
                "name": target,
            },
            "reason": "SuccessToScale",
            "action": "Scale",
            "note": "Scaled from 0 to 1",
            "type": "Normal",
            "eventTime": now,
            "reportingController": "kubescale",
            "reportingInstance": "bench",
        }


def kinds(s: Server, n: int) -> dict[str, tuple[Callable[[], None], Callable[[int], None]]]:
    """Each kind of request: (preparation, untimed; one request for target i)."""
    deployments = f"/apis/apps/v1/namespaces/{s.ns}/deployments"
    scales: dict[int, dict[str, Any]] = {}
    events: list[str] = []

    def read_all() -> None:
        for i in range(n):
            scales[i] = s.request("GET", f"{deployments}/d-{i}/scale")

    def get(i: int) -> None:
        s.request("GET", f"{deployments}/d-{i}/scale")

    def put(i: int) -> None:
        scale = scales[i]
        scale["spec"]["replicas"] = 1 - scale["spec"].get("replicas", 0)
        scales[i] = s.request("PUT", f"{deployments}/d-{i}/scale", scale)

    def json_patch(i: int) -> None:
        spec = scales[i]["spec"]
        ops = (
            [
                {"op": "test", "path": "/spec/replicas", "value": spec["replicas"]},
                {"op": "replace", "path": "/spec/replicas", "value": 1 - spec["replicas"]},
            ]
            if "replicas" in spec
            else [
                {"op": "test", "path": "/spec", "value": {}},
                {"op": "add", "path": "/spec/replicas", "value": 1},
            ]
        )
        scales[i] = s.request("PATCH", f"{deployments}/d-{i}/scale", ops, "application/json-patch+json")

    def create_event(i: int) -> None:
        ev = s.event(f"d-{i}")
        s.request("POST", f"/apis/events.k8s.io/v1/namespaces/{s.ns}/events", ev)
        events.append(ev["metadata"]["name"])

    def events_to_patch() -> None:
        while len(events) < n:
            create_event(len(events))
        del events[:-n]

    def patch_series(i: int) -> None:
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
        body = {"series": {"count": 2 + s.events, "lastObservedTime": now}}
        s.request(
            "PATCH",
            f"/apis/events.k8s.io/v1/namespaces/{s.ns}/events/{events[i]}",
            body,
            "application/merge-patch+json",
        )

    nothing = lambda: None  # noqa: E731
    return {
        "GET scale": (nothing, get),
        "PUT scale (resourceVersion of a GET)": (read_all, put),
        "JSON Patch scale (test and replace)": (read_all, json_patch),
        "create Event": (nothing, create_event),
        "merge-patch an Event's series": (events_to_patch, patch_series),
    }


def idle_rate(s: Server, seconds: float = 2.0) -> float:
    """The server's CPU seconds per second with no client."""
    c0, t0 = s.cpu(), time.perf_counter()
    time.sleep(seconds)
    return (s.cpu() - c0) / (time.perf_counter() - t0)


def measure(n: int, reps: int) -> dict[str, Any]:
    with LocalCluster(controller_manager=False) as cluster:
        ns = cluster.create_namespace("cost", wait_for_service_account=False)
        for i in range(n):
            cluster.create_deployment(ns, f"d-{i}", 1)
        s = Server(cluster, ns)
        table = kinds(s, n)
        cpu: dict[str, list[float]] = {k: [] for k in table}
        wall: dict[str, list[float]] = {k: [] for k in table}
        idle = []
        for rep in range(reps):
            idle.append(idle_rate(s))
            for name, (prepare, one) in table.items():
                prepare()
                c0, t0 = s.cpu(), time.perf_counter()
                for i in range(n):
                    one(i)
                elapsed = time.perf_counter() - t0
                cpu[name].append((s.cpu() - c0 - idle[-1] * elapsed) / n * 1000)
                wall[name].append(elapsed / n * 1000)
            print(f"rep {rep + 1}/{reps}: " + ", ".join(f"{k} {cpu[k][-1]:.2f}" for k in table), flush=True)
    return {
        "requests": n,
        "reps": reps,
        "idle_cpu_per_s": statistics.median(idle),
        "kinds": {
            k: {
                "cpu_ms": statistics.median(cpu[k]),
                "cpu_ms_runs": cpu[k],
                "wall_ms": statistics.median(wall[k]),
            }
            for k in table
        },
    }


def section(r: dict[str, Any]) -> str:
    k = {name: v["cpu_ms"] for name, v in r["kinds"].items()}
    get, put, patch = (
        k["GET scale"],
        k["PUT scale (resourceVersion of a GET)"],
        k["JSON Patch scale (test and replace)"],
    )
    create, series = k["create Event"], k["merge-patch an Event's series"]
    lines = [
        START,
        "## What a request costs the server (`benches/server_cost.py`)",
        "",
        f"Server CPU (API server and etcd) per request, one request at a time over one kept-alive "
        f"connection, {r['requests']} requests of a kind per repetition, median of {r['reps']} interleaved "
        f"repetitions, the server's idle CPU ({r['idle_cpu_per_s'] * 1000:.0f} ms/s) subtracted.",
        "",
        "| request | server CPU ms | wall ms | runs |",
        "| --- | --- | --- | --- |",
    ]
    for name, v in r["kinds"].items():
        runs = ", ".join(f"{x:.2f}" for x in v["cpu_ms_runs"])
        lines.append(f"| {name} | {v['cpu_ms']:.2f} | {v['wall_ms']:.2f} | {runs} |")
    lines += [
        "",
        "A change, composed from these (the Event mix is the one RESULTS.md's workloads count):",
        "",
        "| change | requests | server CPU ms |",
        "| --- | --- | --- |",
        f"| client-go, raw kube-rs (Events: none) | GET + PUT | {get + put:.2f} |",
        f"| kubescale, `record_events=False`, a target it has written | JSON Patch | {patch:.2f} |",
        f"| kubescale, first change of a target (workload 1) | GET + JSON Patch + create Event | "
        f"{get + patch + create:.2f} |",
        f"| kubescale, 4 quick changes of a target (workload 2), per change: two Events at once, "
        f"the other 2 changes one combined Event | (GET + 4 JSON Patch + 3 create Event) / 4 | "
        f"{(get + 4 * patch + 3 * create) / 4:.2f} |",
        f"| the same before combined Events (the committed tables above): the other 2 changes one "
        f"series patch | (GET + 4 JSON Patch + 2 create Event + 1 series patch) / 4 | "
        f"{(get + 4 * patch + 2 * create + series) / 4:.2f} |",
        f"| the same with a burst of 1 (measured, not kept: PROFILE.md): one Event at once, the other 3 "
        f"changes one create | (GET + 4 JSON Patch + 2 create Event) / 4 | "
        f"{(get + 4 * patch + 2 * create) / 4:.2f} |",
        "",
        END,
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=200)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--print-only", action="store_true", help="print the section, write nothing")
    p.add_argument("--from-json", action="store_true", help="rewrite the section from server_cost.json")
    a = p.parse_args()
    if a.from_json:
        r = json.loads((HERE / "server_cost.json").read_text())
    else:
        r = measure(a.requests, a.reps)
    text = section(r)
    print(text)
    if not a.print_only:
        if not a.from_json:
            (HERE / "server_cost.json").write_text(json.dumps(r, indent=1))
        write_section("server", text)


if __name__ == "__main__":
    main()
