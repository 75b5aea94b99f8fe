"""kubescale against its peers, side by side, on one local cluster: ``make bench``.

Every client runs the same workloads on the same Deployments, interleaved (A B C ... A B C ...)
so machine drift hits all alike, several repetitions, medians quoted. Each run is a process
of its own, so client CPU time and memory are that client's alone. API requests are counted
at the API server (its ``apiserver_request_total`` metric). The cluster runs without
kube-controller-manager: Deployments stay inert, so no pods churn and only client work is
measured. Writes ``benches/RESULTS.md`` and ``benches/results.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from results_md import kept_sections, server_cpu

from kubescale.testing import LocalCluster

HERE = Path(__file__).parent
ROOT = HERE.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
CLIENT_GO = TARGET / "peers" / "client_go_peer"
# The compiled peers (benches/peers/), built by `build_peers()`: each client's command.
PEERS = {
    "kube-rs": [str(TARGET / "release" / "examples" / "kube_rs_peer")],
    "client-go": [str(CLIENT_GO)],
    "client-go-events": [str(CLIENT_GO), "--events"],
}
GO_PEERS = ("client-go", "client-go-events")


def build_peers(clients: list[str]) -> list[str]:
    """Builds the compiled peers that `clients` names; returns `clients` without a peer that
    cannot be built here (client-go needs the control-plane build's Go and source tree)."""
    if "kube-rs" in clients:
        cmd = ["cargo", "build", "--release", "--quiet", "--no-default-features", "--example", "kube_rs_peer"]
        subprocess.run(cmd, cwd=ROOT, check=True)
    if any(c in GO_PEERS for c in clients):
        CLIENT_GO.parent.mkdir(parents=True, exist_ok=True)
        built = subprocess.run([str(HERE / "peers" / "build-client-go.sh"), str(CLIENT_GO)])
        if built.returncode == 3:
            print("client-go peers left out: no control-plane build directory here", file=sys.stderr)
            return [c for c in clients if c not in GO_PEERS]
        built.check_returncode()
    return clients


CLIENTS = [
    "kubescale-sync",
    "kubescale-async",
    "kubescale-sync-noevents",
    "kubescale-async-noevents",
    "kube-rs",
    "client-go",
    "client-go-events",
    "kubernetes",
    "kubernetes-asyncio",
    "kr8s",
    "lightkube",
]
# Measured in the cold-start and memory workloads too (the -noevents and -events rows only
# differ in the Event writes, which the sequential and concurrent workloads show).
MAIN_CLIENTS = [c for c in CLIENTS if not c.endswith(("-noevents", "-events"))]
REFERENCE = "kubescale-async"


class Bench:
    def __init__(self, cluster: LocalCluster, reps: int) -> None:
        self.cluster = cluster
        self.reps = reps
        self.value = 1  # every Deployment's current spec.replicas
        self.ns = cluster.create_namespace("bench", wait_for_service_account=False)

    def create_targets(self, n: int) -> None:
        for i in range(n):
            self.cluster.create_deployment(self.ns, f"b-{i}", self.value)

    def server_cpu(self) -> float:
        """CPU seconds used so far by the API server and etcd (they share the client's cores)."""
        return server_cpu(self.cluster)

    def requests(self) -> dict[str, float]:
        """Served requests by kind: 'work' (Deployments and their scale) and 'events'. The rest
        (the API server's own background requests, the scrape of /metrics itself) is no client's.
        Discovery requests are not in this metric in 1.20; they come from the audit log."""
        out = {"work": 0.0, "events": 0.0}
        for line in self.cluster.request("GET", "/metrics").splitlines():
            if line.startswith("apiserver_request_total{"):
                body = line[line.index("{") + 1 : line.rindex("}")]
                labels = dict(kv.split("=", 1) for kv in body.split(","))
                value = float(line.rsplit(" ", 1)[1])
                resource = labels.get("resource", '""')
                if resource == '"deployments"':
                    out["work"] += value
                elif resource == '"events"':
                    out["events"] += value
        return out

    def run(
        self, client: str, targets: int, rounds: int, concurrency: int, change: bool = True
    ) -> dict[str, Any]:
        values = []
        for _ in range(rounds):
            if change:
                self.value = 2 if self.value == 1 else 1  # always a real change
            values.append(str(self.value))
        before = self.requests()
        server_before = self.server_cpu()
        audited = len(self.cluster.audit_entries())
        started = time.perf_counter()
        program = (
            PEERS[client]
            if client in PEERS
            else [sys.executable, str(HERE / "clients.py"), "--client", client]
        )
        out = subprocess.run(
            [
                *program,
                "--kubeconfig",
                self.cluster.kubeconfig_path,
                "--namespace",
                self.ns,
                "--targets",
                str(targets),
                "--values",
                ",".join(values),
                "--concurrency",
                str(concurrency),
            ],
            capture_output=True,
            text=True,
            timeout=900,
        )
        elapsed = time.perf_counter() - started
        if out.returncode != 0:
            raise RuntimeError(f"{client} failed (exit {out.returncode}):\n{out.stderr[-3000:]}")
        after = self.requests()
        server_after = self.server_cpu()
        r = json.loads(out.stdout)
        r["server_cpu"] = server_after - server_before
        r["process_wall"] = elapsed
        r["requests_work"] = after["work"] - before["work"]
        discovery = [
            e for e in self.cluster.audit_entries()[audited:] if e.get("stage") == "ResponseComplete"
        ]
        r["requests_discovery"] = len(discovery)
        r["requests_discovery_late"] = sum(
            datetime.fromisoformat(e["requestReceivedTimestamp"].replace("Z", "+00:00")).timestamp()
            > r["warm_end"]
            for e in discovery
        )
        r["requests_events"] = after["events"] - before["events"]
        return r


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")


def summarize(runs: list[dict[str, Any]], warm_requests: float = 1) -> dict[str, float]:
    """Medians over runs; `warm_requests` (each client's one warm-up read) are not counted."""
    per = [
        {
            "ops_s": r["ops"] / r["wall"],
            "p50": pct(r["lat"], 0.50),
            "p99": pct(r["lat"], 0.99),
            "cpu_ms": 1000 * r["cpu"] / r["ops"],
            "server_cpu_ms": 1000 * r["server_cpu"] / r["ops"],
            "rss_mb": r["rss_peak_kb"] / 1024,
            "req_op": (r["requests_work"] - warm_requests) / r["ops"],
            "event_op": r["requests_events"] / r["ops"],
            "discovery": r["requests_discovery"],
            "discovery_late": r["requests_discovery_late"],
            "wall": r["process_wall"],
        }
        for r in runs
    ]
    out = {k: statistics.median(p[k] for p in per) for k in per[0]}
    # The spread of throughput over the repetitions: the machine is shared and noisy.
    out["ops_s_lo"] = min(p["ops_s"] for p in per)
    out["ops_s_hi"] = max(p["ops_s"] for p in per)
    return out


def table(title: str, rows: dict[str, dict[str, float]], cols: list[tuple[str, str, str]]) -> str:
    ref = rows.get(REFERENCE)
    head = "| client | " + " | ".join(c[1] for c in cols) + " |"
    sep = "|---" * (len(cols) + 1) + "|"
    lines = [f"### {title}", "", head, sep]
    for client, r in rows.items():
        cells = []
        for key, _, fmt in cols:
            if key == "ops_s_range":  # no ratio
                cells.append(f"{r['ops_s_lo']:.0f} to {r['ops_s_hi']:.0f}" if "ops_s_lo" in r else "")
                continue
            cell = format(r[key], fmt)
            if ref and client != REFERENCE and ref[key]:
                cell += f" ({r[key] / ref[key]:.1f}x)"
            cells.append(cell)
        lines.append(f"| {client} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="smaller workloads (a smoke run)")
    p.add_argument("--clients", help=f"comma-separated subset of {','.join(CLIENTS)} (default: all)")
    p.add_argument(
        "--workloads", help="comma-separated subset of sequential,noop,concurrent,cold,memory (default: all)"
    )
    p.add_argument("--levels", help="comma-separated concurrency levels (default: 1,8,32,128)")
    a = p.parse_args()
    clients = a.clients.split(",") if a.clients else CLIENTS
    unknown = sorted(set(clients) - set(CLIENTS))
    if unknown:
        p.error(f"unknown client(s): {', '.join(unknown)}")
    all_workloads = {"sequential", "noop", "concurrent", "cold", "memory"}
    workloads = set(a.workloads.split(",")) if a.workloads else all_workloads
    if workloads - all_workloads:
        p.error(f"unknown workload(s): {', '.join(sorted(workloads - all_workloads))}")
    clients = build_peers(clients)
    seq_n, conc_n, conc_rounds, mem_n, mem_rounds = (300, 200, 4, 1000, 20)
    levels = [1, 8, 32, 128]
    if a.quick:
        seq_n, conc_n, conc_rounds, mem_n, mem_rounds, levels = (30, 20, 1, 50, 3, [1, 8])
    if a.levels:
        levels = [int(v) for v in a.levels.split(",")]
    started = time.monotonic()
    discovery = {"level": "Metadata", "nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*"]}
    with LocalCluster(controller_manager=False, audit_rules=[discovery]) as cluster:
        b = Bench(cluster, a.reps)
        sizes = {"sequential": seq_n, "noop": seq_n, "concurrent": conc_n, "cold": 1, "memory": mem_n}
        n = max(sizes[w] for w in workloads)
        b.create_targets(n)
        results: dict[str, Any] = {"sequential": {}, "noop": {}, "concurrent": {}, "cold": {}, "memory": {}}
        print(f"cluster up; {n} Deployments in {b.ns}", flush=True)

        if "sequential" in workloads:
            raw: dict[str, list[dict[str, Any]]] = {c: [] for c in clients}
            for rep in range(a.reps):
                for c in clients:
                    raw[c].append(b.run(c, seq_n, 1, 1))
                print(f"sequential rep {rep + 1}/{a.reps} done", flush=True)
            results["sequential"] = {c: summarize(raw[c]) for c in clients}

        if "noop" in workloads:
            raw = {c: [] for c in clients}
            for _ in range(a.reps):
                for c in clients:
                    raw[c].append(b.run(c, seq_n, 1, 1, change=False))
            results["noop"] = {c: summarize(raw[c]) for c in clients}
            print("no-op done", flush=True)

        for level in levels if "concurrent" in workloads else []:
            raw = {c: [] for c in clients}
            for _ in range(max(1, a.reps - 1)):
                for c in clients:
                    raw[c].append(b.run(c, conc_n, conc_rounds, level))
            results["concurrent"][level] = {c: summarize(raw[c]) for c in clients}
            print(f"concurrency {level} done", flush=True)

        if "cold" in workloads:
            cold_clients = [c for c in clients if c in MAIN_CLIENTS]
            raw = {c: [] for c in cold_clients}
            for _ in range(a.reps + 2):
                for c in cold_clients:
                    raw[c].append(b.run(c, 1, 1, 1))
            results["cold"] = {c: summarize(raw[c], warm_requests=0) for c in cold_clients}
            print("cold start done", flush=True)

        for c in [c for c in ("kubescale-sync", "kubescale-async") if c in clients and "memory" in workloads]:
            r = b.run(c, mem_n, mem_rounds, 32)
            rounds = [kb / 1024 for kb in r["rss_rounds"]]
            results["memory"][c] = {"rounds_mb": rounds, "ops_s": r["ops"] / r["wall"]}
        print("memory done", flush=True)
    results["elapsed_s"] = time.monotonic() - started
    partial = a.clients is not None or workloads != all_workloads or a.levels is not None
    if partial:  # an experiment: print the tables, leave the committed results alone
        print(report(results, levels, a))
        return
    (HERE / "results.json").write_text(json.dumps(results, indent=1))
    write_report(results, levels, a)


def write_report(results: dict[str, Any], levels: list[int], a: argparse.Namespace) -> None:
    # The sections of benches/server_cost.py and benches/loop.py are kept as they are.
    kept = kept_sections()
    (HERE / "RESULTS.md").write_text(report(results, levels, a) + kept)
    plot(results, levels)
    print((HERE / "RESULTS.md").read_text())


def report(results: dict[str, Any], levels: list[int], a: argparse.Namespace) -> str:
    """RESULTS.md's text: one table per workload that was run."""
    cols = [
        ("ops_s", "ops/s", ".0f"),
        ("ops_s_range", "ops/s, lowest to highest run", ""),
        ("p50", "p50 ms", ".1f"),
        ("p99", "p99 ms", ".1f"),
        ("cpu_ms", "client CPU ms/op", ".2f"),
        ("server_cpu_ms", "server CPU ms/op", ".2f"),
        ("rss_mb", "peak RSS MB", ".0f"),
        ("req_op", "scale requests/op", ".2f"),
        ("event_op", "Event writes/op", ".2f"),
        ("discovery", "discovery requests/run", ".0f"),
        ("discovery_late", "of them after warm-up", ".0f"),
    ]
    python = f"Python {platform.python_version()}"
    machine = f"{platform.machine()}, {os.cpu_count()} cores, {python}, {platform.platform()}"
    out = [
        "# kubescale benchmarks",
        "",
        f"Written by `make bench` ({'quick' if a.quick else 'full'} run, {a.reps} repetitions, medians; "
        f"{results['elapsed_s'] / 60:.1f} min). Machine: {machine}. Local API server 1.20.2 without "
        "controller-manager. Ratios in parentheses are each client's value divided by "
        f"`{REFERENCE}`'s. Requests are counted at the API server: 'scale requests/op' are "
        "Deployment requests (after each client's one warm-up read); 'Event writes/op' are the "
        "Events each client records (kubescale for every change; the -noevents rows are kubescale "
        "with `record_events=False`, the peers' exact work; 'client-go-events' is the client-go "
        "peer recording an Event per change with client-go's events.k8s.io recorder, as "
        "kubescale does); 'server CPU ms/op' is the "
        "CPU time of the API server and etcd over the client's whole process (setup included) per "
        "change: they share the two cores with the client; 'discovery requests/run' are "
        "requests for /api and /apis paths over a whole run (from the API server's audit log), "
        "and 'of them after warm-up' those after the client's first call. 'kube-rs' is the raw "
        "kube-rs peer (benches/peers/kube_rs.rs): a GET and a PUT of the scale subresource per "
        "change on kube's default client (HTTP/1.1), as a Rust user writes it with kube-rs alone; "
        "'client-go' the Go peer (benches/peers/client_go.go, client-go of Kubernetes 1.20, built "
        "from the control plane's source tree): GetScale and UpdateScale on its default HTTP/2 "
        "transport, client-side rate limit off.",
        "",
    ]
    if results["sequential"]:
        out.append(table("Workload 1: sequential real changes, one target each", results["sequential"], cols))
    if results["noop"]:
        out.append(
            table("Workload 1b: sequential no-ops (each target already at that value)", results["noop"], cols)
        )
    for level, rows in results["concurrent"].items():
        out.append(table(f"Workload 2: concurrency {level}", rows, cols))
    if results["cold"]:
        out.append(
            table(
                "Workload 3: cold start (new process: import, connect, scale one target)",
                results["cold"],
                [("wall", "seconds", ".2f"), ("rss_mb", "peak RSS MB", ".0f")],
            )
        )
    if results["memory"]:
        out.append("### Workload 4: steady memory (RSS per round, 1,000 targets, concurrency 32)\n")
    for c, m in results["memory"].items():
        rounds = m["rounds_mb"]
        drift = (rounds[-1] - rounds[min(4, len(rounds) - 1)]) / rounds[min(4, len(rounds) - 1)] * 100
        out.append(
            f"- {c}: round 1 {rounds[0]:.1f} MB, round 5 {rounds[min(4, len(rounds) - 1)]:.1f} MB, "
            f"last {rounds[-1]:.1f} MB (round 5 to last: {drift:+.1f} %), {m['ops_s']:.0f} ops/s"
        )
    return "\n".join(out) + "\n"


def plot(results: dict[str, Any], levels: list[int]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for c in results["concurrent"][levels[0]]:
        ax.plot(levels, [results["concurrent"][lv][c]["ops_s"] for lv in levels], marker="o", label=c)
    ax.set_xscale("log", base=2)
    ax.set_xticks(levels, [str(lv) for lv in levels])
    ax.set_xlabel("concurrent calls")
    ax.set_ylabel("scale operations per second")
    ax.set_title("Throughput against concurrency (local API server, 200 Deployments)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(HERE / "results.png", dpi=110)


if __name__ == "__main__":
    main()
