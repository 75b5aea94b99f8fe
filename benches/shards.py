#!/usr/bin/env python3
"""The sharded loop: pass time with 1, 2 and 3 replicas over 3,000 ElastiServices, on this
machine, for a Python scaler that waits 20 ms (an I/O-bound metric query) and one that burns
2 ms of CPU under the GIL; and the Lease traffic each replica adds.

One local cluster (no controller-manager), 3,000 Deployments at 0 and 3,000 ElastiServices
whose scaler allows zero: a steady state in which every pass asks every service's scaler and
writes nothing, so a pass's time is the scalers' work. Each replica is its own process
(`benches/shard_worker.py`, `run(0.5, shards=12)`; the 1-replica row with `shards=1` is
today's unsharded loop). Pass time is the time for every service to be decided once: the
longest of the replicas' mean pass durations (`kubescale_pass_duration_seconds`) over a window
that starts after two passes of every replica (a replica's first pass over services new to it
reads each target once, at its client's qps) and holds at least one whole pass of each. Lease
requests come from the API server's audit log (Leases only).

Usage: benches/shards.py [--services 3000] [--window 20]. Writes benches/shards.json and the
shards section of benches/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from results_md import markers, write_section
from services import create_services, metric

import kubescale
from kubescale.testing import LocalCluster

HERE = Path(__file__).parent
WORKER = HERE / "shard_worker.py"
START, END = markers("shards")
COOLDOWN = 5


def scrape(address: str) -> str:
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as r:
        return str(r.read().decode())


def lease_requests(cluster: LocalCluster, since: int) -> int:
    return sum(1 for e in cluster.audit_entries()[since:] if "/leases" in e["requestURI"])


CALLS = 'kubescale_scaler_call_duration_seconds_count{trigger="work"}'
PASSES = "kubescale_passes_total"
PASS_SECONDS = "kubescale_pass_duration_seconds_sum"


def run_case(
    cluster: LocalCluster, ns: str, services: int, work: str, replicas: int, shards: int, window: float
) -> dict[str, Any]:
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), cluster.kubeconfig_path, ns, work, str(shards)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(replicas)
    ]
    try:
        addresses = [p.stdout.readline().strip() if p.stdout else "" for p in procs]
        # Balanced: every replica holds its share.
        share = -(-shards // replicas)
        deadline = time.monotonic() + 600
        while True:
            owned = [metric(scrape(a), "kubescale_shards_owned") for a in addresses]
            if shards == 1 or all(0 < o <= share for o in owned):
                break
            assert time.monotonic() < deadline, f"not balanced: {owned}"
            time.sleep(0.5)
        # Steady: two more passes of every replica. A replica's first pass over services new to
        # it reads each target once, at its client's qps (50/s): minutes at 3,000 services,
        # which a window that starts too early measures instead of the scalers.
        first = [metric(scrape(a), PASSES) for a in addresses]
        while any(metric(scrape(a), PASSES) < n + 2 for a, n in zip(addresses, first)):
            assert time.monotonic() < deadline, "no steady state"
            time.sleep(0.5)
        before = [scrape(a) for a in addresses]
        audit0 = len(cluster.audit_entries())
        cpu0 = [cpu_seconds(p.pid) for p in procs]
        started = time.monotonic()
        time.sleep(window)
        # At least one whole pass of every replica inside the window.
        while any(metric(scrape(a), PASSES) < metric(b, PASSES) + 1 for a, b in zip(addresses, before)):
            assert time.monotonic() < deadline, "no pass in the window"
            time.sleep(0.5)
        after = [scrape(a) for a in addresses]
        elapsed = time.monotonic() - started
        leases = lease_requests(cluster, audit0)
        cpu = [cpu_seconds(p.pid) - c for p, c in zip(procs, cpu0)]
        per_replica = [
            {
                "pass_s": (metric(a, PASS_SECONDS) - metric(b, PASS_SECONDS))
                / (metric(a, PASSES) - metric(b, PASSES)),
                "evaluations_per_s": (metric(a, CALLS) - metric(b, CALLS)) / elapsed,
                "shards": metric(a, "kubescale_shards_owned"),
                "cpu_per_s": c / elapsed,
            }
            for b, a, c in zip(before, after, cpu)
        ]
        return {
            "work": work,
            "replicas": replicas,
            "shards": shards,
            "pass_s": max(r["pass_s"] for r in per_replica),
            "per_replica": per_replica,
            "lease_requests_per_s_per_replica": leases / elapsed / replicas,
        }
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=3000)
    ap.add_argument("--window", type=float, default=20.0)
    args = ap.parse_args()
    rule = {
        "level": "Metadata",
        "omitStages": ["RequestReceived"],
        "resources": [{"group": "coordination.k8s.io", "resources": ["leases"]}],
    }
    rows: list[dict[str, Any]] = []
    with LocalCluster(controller_manager=False, audit_rules=[rule]) as cluster:
        with kubescale.ScaleHandler(kubeconfig=cluster.kubeconfig_path) as admin:
            admin.install_crds()
        ns = cluster.create_namespace(wait_for_service_account=False)
        started = time.monotonic()
        create_services(cluster, ns, args.services, replicas=0, cooldown=COOLDOWN, trigger="work")
        print(f"created {args.services} services in {time.monotonic() - started:.0f}s", file=sys.stderr)
        time.sleep(COOLDOWN)
        for work in ("io", "cpu"):
            for replicas, shards in ((1, 1), (1, 12), (2, 12), (3, 12)):
                row = run_case(cluster, ns, args.services, work, replicas, shards, args.window)
                print(json.dumps(row), file=sys.stderr)
                rows.append(row)
    (HERE / "shards.json").write_text(json.dumps(rows, indent=1) + "\n")
    lines = [
        START,
        "",
        f"`benches/shards.py --services {args.services}`: pass time (every service decided once: the",
        "longest of the replicas' mean pass durations) in a steady state where every pass asks every",
        "scaler and writes nothing (after two passes of every replica).",
        "",
        "| scaler | replicas | shards | pass (s) | speed-up | Lease requests/s per replica "
        "| CPU/s per replica |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for work in ("io", "cpu"):
        base = next(r["pass_s"] for r in rows if r["work"] == work and r["shards"] == 1)
        for r in (r for r in rows if r["work"] == work):
            cpu = sum(p["cpu_per_s"] for p in r["per_replica"]) / r["replicas"]
            label = "20 ms wait" if work == "io" else "2 ms CPU (GIL)"
            lines.append(
                f"| {label} | {r['replicas']} | {r['shards']} | {r['pass_s']:.2f} "
                f"| {base / r['pass_s']:.2f}x | {r['lease_requests_per_s_per_replica']:.2f} | {cpu:.2f} |"
            )
    lines += ["", END]
    write_section("shards", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
